import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KumoError } from '../../../errors.js';
import { createSilentLogger } from '../../../log.js';
import type { ImageStore } from '../types.js';
import type { CommandRunner } from './command.js';
import { digestHex, sha256Digest } from './digest.js';
import { FakeRegistry } from './fake-registry.js';
import { MEDIA_TYPE } from './manifest.js';
import type { MountEntry } from './overlay-mount.js';
import { createImageStore } from './store.js';
import { buildTar } from './tar-writer.js';

const C1 = '11111111-2222-4333-8444-555555555555';
const C2 = '66666666-7777-4888-8999-aaaaaaaaaaaa';

/** A store on a temp root with a fake registry, fake mount table and a `mount` that only records. */
function env(t: TestContext, registry = new FakeRegistry(), now = Date.now) {
  const root = mkdtempSync(join(tmpdir(), 'kumo-imgstore-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const table: MountEntry[] = [];
  const calls: { argv: readonly string[]; cwd?: string }[] = [];
  let failMount = false;
  const run: CommandRunner = async (argv, options) => {
    calls.push({ argv, ...(options?.cwd ? { cwd: options.cwd } : {}) });
    if (argv[0] === 'mount') {
      if (failMount) return { code: 32, stdout: '', stderr: 'mount: wrong fs type' };
      table.push({ mountPoint: argv[argv.length - 1], fsType: 'overlay', source: argv[argv.length - 2] });
    }
    if (argv[0] === 'umount') table.splice(table.findIndex((m) => m.mountPoint === argv[argv.length - 1]), 1);
    return { code: 0, stdout: '', stderr: '' };
  };
  const store: ImageStore = createImageStore({ owner: 'ut1', root, insecureRegistries: [] }, createSilentLogger(), {
    fetch: registry.fetch, run, mounts: async () => [...table], platform: { os: 'linux', architecture: 'amd64' },
    preserveOwnership: false, applyWhiteouts: async () => undefined, now: () => now(),
  });
  return {
    root, store, registry, calls, table,
    failMounts: (v: boolean) => void (failMount = v),
    ls: (dir: string) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).sort() : []),
  };
}

const busyboxLayer = [{ name: 'bin/', type: 'directory' as const }, { name: 'bin/busybox', data: 'BB', mode: 0o755 }, { name: 'bin/sh', type: 'symlink' as const, linkname: 'busybox' }];
const appLayer = [{ name: 'app/', type: 'directory' as const }, { name: 'app/run', data: 'run' }];

test('pull: by tag, verified and recorded; found by name, short name, id and id prefix', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/web', 'v1', [busyboxLayer, appLayer], { Cmd: ['/app/run'] });
  const stored = await e.store.pull('reg.fake/app/web:v1');
  assert.equal(stored.id, img.configDigest);
  assert.equal(stored.manifestDigest, img.manifestDigest);
  assert.deepEqual(stored.repoTags, ['reg.fake/app/web:v1']);
  assert.deepEqual(stored.layers, img.layerDigests);
  assert.equal(stored.architecture, 'amd64');
  assert.equal(stored.os, 'linux');
  assert.deepEqual(stored.config, {
    entrypoint: null, cmd: ['/app/run'], env: ['PATH=/bin'], workingDir: '', user: '', exposedPorts: ['80/tcp'], labels: { a: 'b' }, stopSignal: null,
  });
  assert.equal(stored.createdAt, '2026-01-02T03:04:05Z');
  assert.ok(stored.size > 0);
  assert.deepEqual(e.ls('blobs/sha256'), [img.configDigest, ...img.layerDigests].map(digestHex).sort());
  assert.deepEqual(e.ls('layers'), img.layerDigests.map(digestHex).sort());
  assert.equal(readFileSync(join(e.root, 'layers', digestHex(img.layerDigests[0]), 'bin/busybox'), 'utf8'), 'BB');
  assert.deepEqual(e.ls('tmp'), []);
  for (const q of ['reg.fake/app/web:v1', stored.id, digestHex(stored.id).slice(0, 12), `sha256:${digestHex(stored.id).slice(0, 5)}`]) {
    assert.equal((await e.store.get(q))?.id, stored.id, q);
  }
  assert.equal(await e.store.get('reg.fake/app/web:v2'), null);
  assert.equal(await e.store.get('busybox'), null);
  assert.deepEqual((await e.store.list()).map((i) => i.id), [stored.id]);
});

test('pull: by digest (no tag recorded, found by the digest reference); Docker Hub names are normalised', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/web', null, [appLayer]);
  const stored = await e.store.pull(`reg.fake/app/web@${img.manifestDigest}`);
  assert.deepEqual(stored.repoTags, []);
  assert.equal((await e.store.get(`reg.fake/app/web@${img.manifestDigest}`))?.id, stored.id);
  await assert.rejects(e.store.pull('reg.fake/app/web@sha256:' + 'f'.repeat(64)), (err: unknown) => err instanceof KumoError && err.code === 'ERR_NOT_FOUND');
});

test('pull: an index gives the amd64 image by default and another platform when asked', async (t) => {
  const e = env(t);
  const amd = e.registry.addImage('multi', null, [appLayer]);
  const arm = e.registry.addImage('multi', null, [busyboxLayer], { architecture: 'arm64' });
  e.registry.addManifest('multi', 'latest', MEDIA_TYPE.ociIndex, {
    schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      { mediaType: MEDIA_TYPE.dockerManifest, digest: arm.manifestDigest, size: arm.manifestSize, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: MEDIA_TYPE.dockerManifest, digest: amd.manifestDigest, size: amd.manifestSize, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  });
  const stored = await e.store.pull('reg.fake/multi');
  assert.equal(stored.id, amd.configDigest);
  assert.equal(stored.manifestDigest, amd.manifestDigest);
  assert.deepEqual(stored.repoTags, ['reg.fake/multi:latest']);
  const armImage = await e.store.pull('reg.fake/multi', { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(armImage.id, arm.configDigest);
  assert.equal(armImage.architecture, 'arm64');
  // The tag now names the arm64 image; the amd64 one stays, by id.
  assert.equal((await e.store.get('reg.fake/multi'))?.id, arm.configDigest);
  assert.deepEqual((await e.store.get(amd.configDigest))?.repoTags, []);
  await assert.rejects(e.store.pull('reg.fake/multi', { platform: { os: 'linux', architecture: 'riscv64' } }), /has no image for linux\/riscv64/);
});

test('pull: a corrupt layer blob fails naming the digest; no record, no name, no unverified blob, no layer, no temp file', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/bad', 'v1', [busyboxLayer, appLayer]);
  const bad = img.layerDigests[1];
  e.registry.tampered.set(bad, Buffer.from('garbage'));
  await assert.rejects(e.store.pull('reg.fake/app/bad:v1'), (err: unknown) => err instanceof KumoError && err.message.includes(bad) && /corrupt/.test(err.message));
  assert.deepEqual(await e.store.list(), []);
  assert.equal(await e.store.get('reg.fake/app/bad:v1'), null);
  assert.ok(!e.ls('blobs/sha256').includes(digestHex(bad)));
  assert.deepEqual(e.ls('layers'), []);
  assert.deepEqual(e.ls('tmp'), []);
  assert.deepEqual(e.ls('images').filter((f) => f !== 'names.json'), []);
  // The verified blobs stay for the next attempt, and go with garbageCollect.
  e.registry.tampered.clear();
  const before = e.registry.requests.length;
  await e.store.pull('reg.fake/app/bad:v1');
  const blobGets = e.registry.requests.slice(before).filter((r) => r.url.includes('/blobs/'));
  assert.deepEqual(blobGets.map((r) => r.url.split('/').pop()), [bad]);
});

test('pull: two pulls of one image at once share each download and end with one intact image', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/web', 'v1', [busyboxLayer, appLayer]);
  const [a, b] = await Promise.all([e.store.pull('reg.fake/app/web:v1'), e.store.pull('reg.fake/app/web:v1')]);
  assert.deepEqual(a, b);
  for (const digest of [img.configDigest, ...img.layerDigests]) {
    assert.equal(e.registry.requests.filter((r) => r.url.endsWith(`/blobs/${digest}`)).length, 1, digest);
    assert.equal(sha256Digest(readFileSync(join(e.root, 'blobs/sha256', digestHex(digest)))), digest);
  }
  assert.deepEqual(e.ls('tmp'), []);
});

test('rootfs: mount argv (layers top first, relative to the layers dir), idempotent, listed, removed', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/web', 'v1', [busyboxLayer, appLayer]);
  const stored = await e.store.pull('reg.fake/app/web:v1');
  const rootfs = await e.store.mountRootfs(stored.id, C1);
  const dir = join(e.root, 'containers', `ut1-${C1}`);
  assert.equal(rootfs, join(dir, 'rootfs'));
  const mounts = e.calls.filter((c) => c.argv[0] === 'mount');
  assert.equal(mounts.length, 1);
  assert.deepEqual(mounts[0].argv, [
    'mount', '-i', '-n', '-t', 'overlay', '-o',
    `lowerdir=${digestHex(img.layerDigests[1])}:${digestHex(img.layerDigests[0])},upperdir=../containers/ut1-${C1}/upper,workdir=../containers/ut1-${C1}/work`, 'kumo-ut1', rootfs,
  ]);
  assert.equal(mounts[0].cwd, join(e.root, 'layers'));
  assert.equal(await e.store.mountRootfs('reg.fake/app/web:v1', C1), rootfs);
  assert.equal(e.calls.filter((c) => c.argv[0] === 'mount').length, 1, 'a mounted rootfs is returned as is');
  await e.store.mountRootfs(stored.id, C2);
  assert.deepEqual(await e.store.listRootfs(), [C1, C2].sort());
  await assert.rejects(e.store.mountRootfs(stored.id, 'not-a-uuid'), /is not a UUID/);

  await e.store.removeRootfs(C1);
  await e.store.removeRootfs(C1);
  assert.deepEqual(await e.store.listRootfs(), [C2]);
  assert.ok(!existsSync(dir));
  assert.deepEqual(e.table.map((m) => m.mountPoint), [join(e.root, 'containers', `ut1-${C2}`, 'rootfs')]);
});

test('rootfs: a failed mount leaves no mount and no container dir', async (t) => {
  const e = env(t);
  e.registry.addImage('app/web', 'v1', [appLayer]);
  const stored = await e.store.pull('reg.fake/app/web:v1');
  e.failMounts(true);
  await assert.rejects(e.store.mountRootfs(stored.id, C1), (err: unknown) => err instanceof KumoError && /cannot mount the root filesystem of container .*wrong fs type/.test(err.message));
  assert.deepEqual(e.ls('containers'), []);
  assert.deepEqual(await e.store.listRootfs(), []);
  await assert.rejects(e.store.mountRootfs('reg.fake/nothing', C1), (err: unknown) => err instanceof KumoError && err.code === 'ERR_NOT_FOUND');
});

test('remove: a tag among several is untagged; an image in use is refused; remove + garbageCollect frees its layers', async (t) => {
  const e = env(t);
  const img = e.registry.addImage('app/web', 'v1', [busyboxLayer, appLayer]);
  e.registry.manifests.set('app/web:stable', e.registry.manifests.get('app/web:v1')!);
  const keep = e.registry.addImage('app/other', 'v1', [busyboxLayer]);
  await e.store.pull('reg.fake/app/web:v1');
  const both = await e.store.pull('reg.fake/app/web:stable');
  assert.deepEqual(both.repoTags, ['reg.fake/app/web:stable', 'reg.fake/app/web:v1']);
  await e.store.pull('reg.fake/app/other:v1');

  await e.store.remove('reg.fake/app/web:stable');
  assert.deepEqual((await e.store.get(img.configDigest))?.repoTags, ['reg.fake/app/web:v1']);

  await e.store.mountRootfs(img.configDigest, C1);
  await assert.rejects(e.store.remove('reg.fake/app/web:v1'), (err: unknown) => err instanceof KumoError && err.code === 'ERR_CONFLICT' && err.message.includes(C1));
  assert.deepEqual((await e.store.garbageCollect()).removedLayers, 0);
  await e.store.removeRootfs(C1);
  await e.store.remove('reg.fake/app/web:v1');
  assert.equal(await e.store.get(img.configDigest), null);
  await assert.rejects(e.store.remove('reg.fake/app/web:v1'), (err: unknown) => err instanceof KumoError && err.code === 'ERR_NOT_FOUND');

  const gc = await e.store.garbageCollect();
  // The busybox layer is shared with app/other and stays.
  assert.equal(gc.removedLayers, 1);
  assert.ok(gc.freedBytes > 0);
  assert.deepEqual(e.ls('layers'), keep.layerDigests.map(digestHex));
  assert.deepEqual(e.ls('blobs/sha256'), [keep.configDigest, ...keep.layerDigests].map(digestHex).sort());
  assert.deepEqual(await e.store.garbageCollect(), { removedLayers: 0, freedBytes: 0 });
});

function dockerSaveTar(layerTars: Buffer[], repoTags: string[], corruptDiffId = false) {
  const diffIds = layerTars.map((l) => sha256Digest(l));
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: corruptDiffId ? diffIds.map(() => sha256Digest('x')) : diffIds },
  }));
  const id = sha256Digest(config);
  return {
    id,
    tar: buildTar([
      { name: `${digestHex(id)}.json`, data: config },
      ...layerTars.flatMap((l, i) => [{ name: `layer${i}/`, type: 'directory' as const }, { name: `layer${i}/layer.tar`, data: l }]),
      { name: 'manifest.json', data: JSON.stringify([{ Config: `${digestHex(id)}.json`, RepoTags: repoTags, Layers: layerTars.map((_, i) => `layer${i}/layer.tar`) }]) },
    ]),
  };
}

test('importArchive: docker save (uncompressed layers, RepoTags) and OCI layout; all or nothing', async (t) => {
  const e = env(t);
  const dir = mkdtempSync(join(tmpdir(), 'kumo-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const saved = dockerSaveTar([buildTar(busyboxLayer), buildTar(appLayer)], ['busybox:latest', 'reg.fake/app/web:v9']);
  writeFileSync(join(dir, 'save.tar'), saved.tar);
  const [img] = await e.store.importArchive(join(dir, 'save.tar'));
  assert.equal(img.id, saved.id);
  assert.equal(img.manifestDigest, null);
  assert.deepEqual(img.repoTags, ['docker.io/library/busybox:latest', 'reg.fake/app/web:v9']);
  assert.equal((await e.store.get('busybox'))?.id, saved.id);
  assert.deepEqual(e.ls('layers').length, 2);

  // OCI layout: index.json -> manifest -> config + layers, all named by digest.
  const layer = buildTar(appLayer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest,
    config: { mediaType: MEDIA_TYPE.ociConfig, digest: sha256Digest(config), size: config.length },
    layers: [{ mediaType: MEDIA_TYPE.ociLayer, digest: sha256Digest(layer), size: layer.length }],
  }));
  const blob = (b: Buffer) => ({ name: `blobs/sha256/${digestHex(sha256Digest(b))}`, data: b });
  const index = { schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPE.ociManifest, digest: sha256Digest(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'reg.fake/oci/app:1', 'org.opencontainers.image.ref.name': '1' } }] };
  writeFileSync(join(dir, 'oci.tar'), buildTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', data: JSON.stringify(index) }, blob(config), blob(manifest), blob(layer)]));
  const [oci] = await e.store.importArchive(join(dir, 'oci.tar'));
  assert.equal(oci.id, sha256Digest(config));
  assert.equal(oci.manifestDigest, sha256Digest(manifest));
  assert.deepEqual(oci.repoTags, ['reg.fake/oci/app:1']);

  // A layer that does not match its diff id: nothing of that archive is recorded.
  const broken = dockerSaveTar([buildTar([{ name: 'only-here', data: 'x' }])], ['broken:1'], true);
  writeFileSync(join(dir, 'broken.tar'), broken.tar);
  await assert.rejects(e.store.importArchive(join(dir, 'broken.tar')), /does not match its image config/);
  assert.equal(await e.store.get('broken:1'), null);
  assert.equal((await e.store.list()).length, 2);
  assert.deepEqual(e.ls('tmp'), []);
  assert.equal(e.ls('layers').length, 2, 'the broken layer was not kept');
  writeFileSync(join(dir, 'junk.tar'), buildTar([{ name: 'hello.txt', data: 'hi' }]));
  await assert.rejects(e.store.importArchive(join(dir, 'junk.tar')), /is not an image archive \(docker save or OCI layout\)/);
});

test('store: owner and root are validated up front', () => {
  const log = createSilentLogger();
  assert.throws(() => createImageStore({ owner: 'Bad-Owner', root: '/tmp/x', insecureRegistries: [] }, log), /owner must be/);
  assert.throws(() => createImageStore({ owner: 'ok', root: 'relative', insecureRegistries: [] }, log), /absolute path/);
  assert.throws(() => createImageStore({ owner: 'ok', root: '/tmp/a:b', insecureRegistries: [] }, log), /cannot carry/);
});

test('garbageCollect: tmp debris of a crash goes once it is old (scratch mounts under it unmounted first); fresh entries stay', async (t) => {
  let clock = Date.now();
  const e = env(t, new FakeRegistry(), () => clock);
  await e.store.list();
  mkdirSync(join(e.root, 'tmp', 'layer-dead', 'merged'), { recursive: true });
  writeFileSync(join(e.root, 'tmp', 'blob-dead'), 'partial');
  e.table.push({ mountPoint: join(e.root, 'tmp', 'layer-dead', 'merged'), fsType: 'overlay', source: 'kumo-ut1' });
  await e.store.garbageCollect();
  assert.deepEqual(e.ls('tmp'), ['blob-dead', 'layer-dead']);
  clock += 2 * 60 * 60 * 1000;
  await e.store.garbageCollect();
  assert.deepEqual(e.ls('tmp'), []);
  assert.deepEqual(e.calls.filter((c) => c.argv[0] === 'umount').map((c) => c.argv.at(-1)), [join(e.root, 'tmp', 'layer-dead', 'merged')]);
});

test('importArchive: a multi-platform OCI layout imports this host\'s entry only', async (t) => {
  const e = env(t);
  const dir = mkdtempSync(join(tmpdir(), 'kumo-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: { name: string; data: Buffer }[] = [];
  const blob = (b: Buffer) => (files.push({ name: `blobs/sha256/${digestHex(sha256Digest(b))}`, data: b }), { digest: sha256Digest(b), size: b.length });
  const image = (arch: string) => {
    const layer = buildTar([{ name: 'arch', data: arch }]);
    const l = blob(layer);
    const c = blob(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } })));
    const m = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: { mediaType: MEDIA_TYPE.ociConfig, ...c }, layers: [{ mediaType: MEDIA_TYPE.ociLayer, ...l }] })));
    return { mediaType: MEDIA_TYPE.ociManifest, ...m, platform: { os: 'linux', architecture: arch }, annotations: { 'io.containerd.image.name': 'reg.fake/multi:1' }, config: c.digest };
  };
  const arm = image('arm64');
  const amd = image('amd64');
  const index = { schemaVersion: 2, manifests: [arm, amd].map(({ config: _c, ...m }) => m) };
  writeFileSync(join(dir, 'multi.tar'), buildTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', data: JSON.stringify(index) }, ...files]));
  const imported = await e.store.importArchive(join(dir, 'multi.tar'));
  assert.deepEqual(imported.map((i) => [i.id, i.architecture, i.repoTags]), [[amd.config, 'amd64', ['reg.fake/multi:1']]]);
});
