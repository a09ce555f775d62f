import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KumoError } from '../../../errors.js';
import { createSilentLogger } from '../../../log.js';
import { basicAuthorization } from './auth.js';
import { sha256Digest } from './digest.js';
import { FakeRegistry } from './fake-registry.js';
import { MEDIA_TYPE } from './manifest.js';
import { parseReference } from './reference.js';
import { createRegistryClient } from './registry-client.js';

const logger = createSilentLogger();

function setup(t: { after(fn: () => void): void }, registry: FakeRegistry, credentials?: { username: string; password: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'kumo-regclient-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const client = createRegistryClient({ ref: parseReference(`${registry.host}/app/web:v1`), insecureRegistries: [], fetch: registry.fetch, ...(credentials ? { credentials } : {}) }, logger);
  return { dir, client };
}

test('client: a manifest by tag is returned with the digest of its bytes; https for a non-loopback registry', async (t) => {
  const reg = new FakeRegistry();
  const img = reg.addImage('app/web', 'v1', [[{ name: 'a', data: 'A' }]]);
  const { client } = setup(t, reg);
  await client.ping();
  const m = await client.getManifest('v1');
  assert.equal(m.digest, img.manifestDigest);
  assert.equal(m.contentType, MEDIA_TYPE.dockerManifest);
  assert.ok(reg.requests.every((r) => r.url.startsWith('https://reg.fake/v2/')));
});

test('client: a manifest that does not hash to the digest asked for (or announced) is refused', async (t) => {
  const reg = new FakeRegistry();
  const img = reg.addImage('app/web', 'v1', [[{ name: 'a', data: 'A' }]]);
  const other = reg.addImage('app/web', 'v2', [[{ name: 'b', data: 'B' }]]);
  // The registry answers a digest request with another manifest's bytes.
  reg.manifests.set(`app/web@${img.manifestDigest}`, reg.manifests.get(`app/web@${other.manifestDigest}`)!);
  const { client } = setup(t, reg);
  await assert.rejects(client.getManifest(img.manifestDigest), (e: unknown) =>
    e instanceof KumoError && e.message.includes(`hashes to ${other.manifestDigest}, not ${img.manifestDigest}`));
});

test('client: unknown manifests and blobs are not-found errors users can read', async (t) => {
  const reg = new FakeRegistry();
  const { client, dir } = setup(t, reg);
  await assert.rejects(client.getManifest('nope'), (e: unknown) => e instanceof KumoError && e.code === 'ERR_NOT_FOUND' && e.message === 'image app/web:nope not found in registry reg.fake');
  const missing = sha256Digest('missing');
  await assert.rejects(client.downloadBlob({ mediaType: 'x', digest: missing, size: 7 }, join(dir, 'b')), (e: unknown) => e instanceof KumoError && e.code === 'ERR_NOT_FOUND' && e.message.includes(missing));
});

test('client: a blob is written only when it hashes to its digest; a corrupt one leaves no file and names the digest', async (t) => {
  const reg = new FakeRegistry();
  const data = Buffer.from('layer bytes '.repeat(1000));
  const digest = reg.addBlob(data);
  const { client, dir } = setup(t, reg);
  await client.downloadBlob({ mediaType: 'x', digest, size: data.length }, join(dir, 'good'));
  assert.deepEqual(readFileSync(join(dir, 'good')), data);

  reg.tampered.set(digest, Buffer.from(data).fill(0x41, 0, 10));
  await assert.rejects(client.downloadBlob({ mediaType: 'x', digest, size: data.length }, join(dir, 'bad')), (e: unknown) =>
    e instanceof KumoError && e.message.startsWith(`blob ${digest} from registry reg.fake is corrupt`));
  reg.tampered.set(digest, Buffer.concat([data, Buffer.from('more')]));
  await assert.rejects(client.downloadBlob({ mediaType: 'x', digest, size: data.length }, join(dir, 'long')), /is longer than the \d+ bytes its manifest says/);
  assert.deepEqual(readdirSync(dir), ['good']);
});

test('client: bearer challenge -> token from the realm (with credentials) -> retried with the token', async (t) => {
  const creds = { username: 'alice', password: 'pw' };
  const reg = new FakeRegistry({ bearer: { credentials: creds } });
  reg.addImage('app/web', 'v1', [[{ name: 'a', data: 'A' }]]);
  const { client } = setup(t, reg, creds);
  await client.ping();
  await client.getManifest('v1');
  const token = reg.requests.find((r) => r.url.startsWith('https://auth.fake/token'));
  assert.ok(token, 'asked the realm for a token');
  assert.equal(new URL(token.url).searchParams.get('scope'), 'repository:app/web:pull');
  assert.equal(new URL(token.url).searchParams.get('service'), 'reg.fake');
  assert.equal(token.authorization, basicAuthorization(creds));
  assert.equal(reg.requests.at(-1)?.authorization, 'Bearer tok-123');
  // One token for the whole session: only the first /v2/ went without it.
  assert.equal(reg.requests.filter((r) => r.url.startsWith('https://auth.fake')).length, 1);
});

test('client: bearer with wrong credentials, basic without any: forbidden, saying why', async (t) => {
  const bearer = new FakeRegistry({ bearer: { credentials: { username: 'alice', password: 'pw' } } });
  await assert.rejects(setup(t, bearer, { username: 'alice', password: 'wrong' }).client.ping(), (e: unknown) =>
    e instanceof KumoError && e.code === 'ERR_FORBIDDEN' && /rejected the credentials of user alice/.test(e.message));
  const basic = new FakeRegistry({ basic: { username: 'bob', password: 'pw' } });
  await assert.rejects(setup(t, basic).client.ping(), /requires credentials for app\/web:v1/);
  basic.addImage('app/web', 'v1', [[{ name: 'a', data: 'A' }]]);
  const ok = setup(t, basic, { username: 'bob', password: 'pw' }).client;
  await ok.ping();
  await ok.getManifest('v1');
  await assert.rejects(setup(t, basic, { username: 'bob', password: 'nope' }).client.ping(), (e: unknown) => e instanceof KumoError && e.code === 'ERR_FORBIDDEN');
});

test('client: an unreachable registry is an error that names it and the reason', async (t) => {
  const reg = new FakeRegistry();
  const client = createRegistryClient({ ref: parseReference('elsewhere.example/app'), insecureRegistries: [], fetch: reg.fetch }, logger);
  t.after(() => undefined);
  await assert.rejects(client.ping(), /cannot reach registry elsewhere.example \(https:\/\/elsewhere.example\) for the API version check: fetch failed: ENOTFOUND/);
});
