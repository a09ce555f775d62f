import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KumoError } from '../../../errors.js';
import { MEDIA_TYPE, parseManifest, selectPlatform, type ManifestIndex } from './manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

const manifest = (mediaType: string | undefined, layerType: string = MEDIA_TYPE.dockerLayerGzip) => ({
  schemaVersion: 2,
  ...(mediaType ? { mediaType } : {}),
  config: { mediaType: MEDIA_TYPE.dockerConfig, digest: d('c'), size: 100 },
  layers: [{ mediaType: layerType, digest: d('1'), size: 10 }],
});

test('manifest: Docker schema 2 and OCI manifests, media type from the body or the header', () => {
  for (const [body, header] of [
    [manifest(MEDIA_TYPE.dockerManifest), null],
    [manifest(MEDIA_TYPE.ociManifest, MEDIA_TYPE.ociLayerGzip), null],
    [manifest(undefined, MEDIA_TYPE.ociLayer), `${MEDIA_TYPE.ociManifest}; charset=utf-8`],
  ] as const) {
    const m = parseManifest(json(body), header, 'm');
    assert.equal(m.kind, 'manifest');
    if (m.kind !== 'manifest') continue;
    assert.equal(m.config.digest, d('c'));
    assert.deepEqual(m.layers.map((l) => l.digest), [d('1')]);
  }
});

test('manifest: what Kumo cannot run is refused with the reason', () => {
  const refuse = (body: unknown, why: RegExp) =>
    assert.throws(() => parseManifest(json(body), null, 'image x'), (e: unknown) => e instanceof KumoError && e.code === 'ERR_VALIDATION' && why.test(e.message));
  refuse({ schemaVersion: 1, name: 'x', fsLayers: [] }, /schema 1/);
  refuse(manifest(MEDIA_TYPE.dockerManifest, MEDIA_TYPE.dockerForeignLayer), /foreign \(Windows\) layer/);
  refuse(manifest(MEDIA_TYPE.ociManifest, MEDIA_TYPE.ociLayerZstd), /zstd/);
  refuse({ ...manifest(MEDIA_TYPE.ociManifest), layers: [{ mediaType: MEDIA_TYPE.ociLayer, digest: 'sha256:short', size: 1 }] }, /not a sha256 digest/);
  refuse({ ...manifest(MEDIA_TYPE.ociManifest), config: { mediaType: 'x', digest: d('c'), size: -1 } }, /no valid size/);
  assert.throws(() => parseManifest(Buffer.from('<html>'), null, 'image x'), /not JSON/);
});

const entry = (c: string, os: string, architecture: string, variant?: string) => ({
  mediaType: MEDIA_TYPE.ociManifest, digest: d(c), size: 1, platform: { os, architecture, ...(variant ? { variant } : {}) },
});

test('index: the entry for the platform asked for; amd64 by default; attestations never', () => {
  const index = parseManifest(json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      entry('a', 'unknown', 'unknown'),
      entry('b', 'linux', 'arm', 'v6'),
      entry('c', 'linux', 'arm', 'v7'),
      entry('e', 'linux', 'arm64', 'v8'),
      entry('f', 'linux', 'amd64'),
      entry('9', 'windows', 'amd64'),
    ],
  }), null, 'idx') as ManifestIndex;
  assert.equal(index.kind, 'index');
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }, 'x').digest, d('f'));
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' }, 'x').digest, d('e'));
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm' }, 'x').digest, d('c'));
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v6' }, 'x').digest, d('b'));
  assert.equal(selectPlatform(index, { os: 'windows', architecture: 'amd64' }, 'x').digest, d('9'));
  assert.throws(
    () => selectPlatform(index, { os: 'linux', architecture: 's390x' }, 'image busybox:latest'),
    (e: unknown) => e instanceof KumoError && e.code === 'ERR_NOT_FOUND' && /image busybox:latest has no image for linux\/s390x \(available: linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, linux\/amd64, windows\/amd64\)/.test(e.message),
  );
});

test('index: a Docker manifest list is an index too; an arm64 entry without a variant counts as v8', () => {
  const list = parseManifest(json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifestList,
    manifests: [{ ...entry('e', 'linux', 'arm64'), mediaType: MEDIA_TYPE.dockerManifest }],
  }), null, 'l') as ManifestIndex;
  assert.equal(list.kind, 'index');
  assert.equal(selectPlatform(list, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x').digest, d('e'));
});
