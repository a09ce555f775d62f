import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KumoError } from '../../../errors.js';
import { familiarName, isLoopbackRegistry, parseReference, referenceName, registryBaseUrl } from './reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('reference: Docker Hub defaults (docker.io, library/, latest)', () => {
  assert.deepEqual(parseReference('busybox'), { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', digest: null });
  assert.deepEqual(parseReference('busybox:1.36'), { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', digest: null });
  assert.deepEqual(parseReference('bitnami/redis'), { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest', digest: null });
  assert.deepEqual(parseReference('docker.io/busybox'), parseReference('busybox'));
  assert.deepEqual(parseReference('index.docker.io/library/busybox'), parseReference('busybox'));
  assert.equal(referenceName(parseReference('busybox')), 'docker.io/library/busybox:latest');
  assert.equal(familiarName(parseReference('busybox')), 'busybox:latest');
});

test('reference: a first component is a registry only with a dot, a colon or localhost', () => {
  assert.deepEqual(parseReference('127.0.0.1:5000/test/busybox:v1'), { registry: '127.0.0.1:5000', repository: 'test/busybox', tag: 'v1', digest: null });
  assert.deepEqual(parseReference('localhost/app'), { registry: 'localhost', repository: 'app', tag: 'latest', digest: null });
  assert.deepEqual(parseReference('quay.io/coreos/etcd'), { registry: 'quay.io', repository: 'coreos/etcd', tag: 'latest', digest: null });
  assert.deepEqual(parseReference('[::1]:5000/app'), { registry: '[::1]:5000', repository: 'app', tag: 'latest', digest: null });
  // "team" has neither, so it is a Docker Hub namespace; a port-looking tag stays a tag.
  assert.deepEqual(parseReference('team/app:5000'), { registry: 'docker.io', repository: 'team/app', tag: '5000', digest: null });
  assert.equal(familiarName(parseReference('127.0.0.1:5000/test/busybox')), 'test/busybox:latest');
});

test('reference: digests, with and without a tag', () => {
  assert.deepEqual(parseReference(`busybox@${D}`), { registry: 'docker.io', repository: 'library/busybox', tag: null, digest: D });
  assert.deepEqual(parseReference(`reg.example:443/a/b:v2@${D}`), { registry: 'reg.example:443', repository: 'a/b', tag: 'v2', digest: D });
  assert.equal(referenceName(parseReference(`busybox@${D}`)), `docker.io/library/busybox@${D}`);
});

test('reference: invalid references are validation errors that say what is wrong', () => {
  for (const [ref, why] of [
    ['', /empty/],
    ['Busybox', /lower-case/],
    ['busybox:', /not a valid tag/],
    ['busybox:-x', /not a valid tag/],
    ['busybox@sha256:abc', /not a sha256 digest/],
    ['busybox@md5:abcdef', /not a sha256 digest/],
    ['a//b', /component ""/],
    [' busybox', /white space/],
    ['reg.example/', /no repository/],
    [`x/${'a'.repeat(260)}`, /longer than 255/],
  ] as const) {
    assert.throws(() => parseReference(ref), (err: unknown) => err instanceof KumoError && err.code === 'ERR_VALIDATION' && why.test(err.message), ref);
  }
});

test('reference: loopback and listed registries are plain http, everything else https', () => {
  assert.ok(isLoopbackRegistry('127.0.0.1:5000'));
  assert.ok(isLoopbackRegistry('localhost'));
  assert.ok(isLoopbackRegistry('[::1]:5000'));
  assert.ok(!isLoopbackRegistry('10.0.0.1:5000'));
  assert.equal(registryBaseUrl('127.0.0.1:5000', []), 'http://127.0.0.1:5000');
  assert.equal(registryBaseUrl('10.0.0.1:5000', []), 'https://10.0.0.1:5000');
  assert.equal(registryBaseUrl('10.0.0.1:5000', ['10.0.0.1:5000']), 'http://10.0.0.1:5000');
  assert.equal(registryBaseUrl('docker.io', []), 'https://registry-1.docker.io');
});
