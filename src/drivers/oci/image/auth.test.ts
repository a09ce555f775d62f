import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KumoError } from '../../../errors.js';
import { basicAuthorization, causeMessage, fetchBearerToken, parseChallenges } from './auth.js';

test('challenge: Docker Hub bearer challenge', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
});

test('challenge: several challenges in one header, unquoted values, escapes, odd spacing', () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm="https://t.example/token" , service=reg.example,error="insufficient_scope"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'reg.example', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges('basic realm="a \\"quoted\\" realm"'), [{ scheme: 'basic', params: { realm: 'a "quoted" realm' } }]);
  assert.deepEqual(parseChallenges(''), []);
});

test('basic authorization header', () => {
  assert.equal(basicAuthorization({ username: 'alice', password: 's3cret' }), `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
});

test('token: asks the realm with service and scope, sends credentials, takes token or access_token', async () => {
  const seen: { url: string; auth: string | undefined }[] = [];
  const fetchFn = async (url: string, init?: RequestInit) => {
    seen.push({ url, auth: (init?.headers as Record<string, string>).authorization });
    return Response.json(seen.length === 1 ? { token: 't1' } : { access_token: 't2' });
  };
  const challenge = { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg' } };
  assert.equal(await fetchBearerToken(fetchFn, challenge, 'repository:a/b:pull', 'reg', undefined), 't1');
  assert.equal(await fetchBearerToken(fetchFn, challenge, 'repository:a/b:pull', 'reg', { username: 'u', password: 'p' }), 't2');
  assert.equal(seen[0].url, 'https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull');
  assert.equal(seen[0].auth, undefined);
  assert.equal(seen[1].auth, basicAuthorization({ username: 'u', password: 'p' }));
});

test('token: refusals and broken token services are errors that name the registry', async () => {
  const challenge = { scheme: 'bearer', params: { realm: 'https://auth.example/token' } };
  await assert.rejects(
    fetchBearerToken(async () => new Response('no', { status: 401 }), challenge, 's', 'reg.example', { username: 'bob', password: 'x' }),
    (e: unknown) => e instanceof KumoError && e.code === 'ERR_FORBIDDEN' && /reg.example rejected the credentials of user bob/.test(e.message),
  );
  await assert.rejects(fetchBearerToken(async () => Response.json({}), challenge, 's', 'reg.example', undefined), /returned no token/);
  await assert.rejects(fetchBearerToken(async () => Response.json({}), { scheme: 'bearer', params: {} }, 's', 'reg.example', undefined), /without a valid realm/);
});

test('causeMessage digs the reason out of fetch errors', () => {
  const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
  assert.equal(causeMessage(err), 'fetch failed: ECONNREFUSED');
});
