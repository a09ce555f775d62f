/**
 * The image store on the real kernel (root only) against a real registry: Debian's
 * docker-registry on loopback (see test/support/registry.ts), serving images this file builds
 * from busybox-static and pushes itself. Proven from outside: what the registry hands out is
 * verified, what is mounted is what the layers say (whiteouts and opaque directories included),
 * writes stay in the container's upper dir, and removal leaves nothing mounted or on disk.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createImageStore } from '../../src/drivers/oci/image/index.js';
import type { ImageStore } from '../../src/drivers/oci/types.js';
import { createSilentLogger } from '../../src/log.js';
import { isRoot } from '../support/netns.js';
import { buildBusyboxRootfs, pushImage, pushIndex, REGISTRY_BINARY, registryBlobPath, startRegistry, type PushedImage, type Registry } from '../support/registry.js';

const skip = !isRoot ? 'needs root (overlay mounts)' : !existsSync(REGISTRY_BINARY) ? 'needs docker-registry (apt-get install docker-registry)' : false;

const work = mkdtempSync(join(tmpdir(), 'kumo-oci-image-it-'));
let registry: Registry;
let busybox: PushedImage;
let armImage: PushedImage;
let corrupt: PushedImage;
/** The two layer directories of the busybox image: the rootfs, then deletions and an opaque directory. */
const base = join(work, 'layer-base');
const top = join(work, 'layer-top');

const mountPoints = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter(Boolean);
const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

before(async () => {
  if (skip) return;
  buildBusyboxRootfs(base);
  writeFileSync(join(base, 'etc', 'delete-me'), 'lower');
  mkdirSync(join(base, 'etc', 'conf.d'));
  writeFileSync(join(base, 'etc', 'conf.d', 'old.conf'), 'old');
  mkdirSync(join(top, 'etc', 'conf.d'), { recursive: true });
  writeFileSync(join(top, 'etc', '.wh.delete-me'), '');
  writeFileSync(join(top, 'etc', 'conf.d', '.wh..wh..opq'), '');
  writeFileSync(join(top, 'etc', 'conf.d', 'new.conf'), 'new');
  writeFileSync(join(top, 'etc', 'motd'), 'from the top layer\n');

  registry = await startRegistry();
  const config = { config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], WorkingDir: '/root' } };
  busybox = await pushImage(registry.host, 'test/busybox', 'latest', [base, top], config);
  // A multi-platform tag: the amd64 entry is the image above, the arm64 one another manifest.
  const armDir = join(work, 'layer-arm');
  mkdirSync(join(armDir, 'etc'), { recursive: true });
  writeFileSync(join(armDir, 'etc', 'arch'), 'arm64\n');
  armImage = await pushImage(registry.host, 'test/multi', null, [armDir], { architecture: 'arm64' });
  const amdInMulti = await pushImage(registry.host, 'test/multi', null, [base, top], config);
  await pushIndex(registry.host, 'test/multi', 'latest', [
    { digest: armImage.digest, size: armImage.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { digest: amdInMulti.digest, size: amdInMulti.size, platform: { os: 'linux', architecture: 'amd64' } },
  ]);
  // A repository whose one layer (unique to it: registry storage is shared by digest) is damaged on the registry's disk.
  const uniqueDir = join(work, 'layer-unique');
  mkdirSync(uniqueDir);
  writeFileSync(join(uniqueDir, 'payload'), randomBytes(64 * 1024));
  corrupt = await pushImage(registry.host, 'test/corrupt', 'latest', [base, uniqueDir]);
  const blob = registryBlobPath(registry, corrupt.layers[1]);
  const fd = openSync(blob, 'r+');
  writeSync(fd, Buffer.from('this is not what was pushed'), 0, undefined, 100);
  closeSync(fd);
});

after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A store of its own (random owner, own root) whose root filesystems are all removed after the test. */
function newStore(t: TestContext, root = mkdtempSync(join(work, 'store-'))): { store: ImageStore; root: string } {
  const owner = `it${randomBytes(3).toString('hex')}`;
  const store = createImageStore({ owner, root, insecureRegistries: [] }, createSilentLogger());
  t.after(async () => {
    for (const id of await store.listRootfs()) await store.removeRootfs(id);
    assert.deepEqual(mountPoints().filter((m) => m.startsWith(root)), [], 'nothing of the store stays mounted');
  });
  return { store, root };
}

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

test('pull by tag and by digest give the same verified image', { skip }, async (t) => {
  const { store, root } = newStore(t);
  const started = Date.now();
  const byTag = await store.pull(`${registry.host}/test/busybox:latest`);
  t.diagnostic(`pull of a 2-layer busybox image: ${Date.now() - started} ms`);
  assert.equal(byTag.id, busybox.configDigest);
  assert.equal(byTag.manifestDigest, busybox.digest);
  assert.deepEqual(byTag.repoTags, [`${registry.host}/test/busybox:latest`]);
  assert.deepEqual(byTag.layers, busybox.layers);
  assert.deepEqual(byTag.config.cmd, ['/bin/sh']);
  assert.equal(byTag.config.workingDir, '/root');
  for (const d of [busybox.configDigest, ...busybox.layers]) {
    assert.equal(sha256(readFileSync(join(root, 'blobs', 'sha256', d.slice(7)))), d, 'blobs are stored under their own digest');
  }
  const byDigest = await store.pull(`${registry.host}/test/busybox@${busybox.digest}`);
  assert.equal(byDigest.id, byTag.id);
  assert.equal((await store.get(`${registry.host}/test/busybox`))?.id, byTag.id);
  assert.equal((await store.list()).length, 1);
});

test('a multi-platform index gives the amd64 image; arm64 when asked', { skip }, async (t) => {
  const { store } = newStore(t);
  const image = await store.pull(`${registry.host}/test/multi:latest`);
  assert.equal(image.id, busybox.configDigest);
  assert.equal(image.architecture, 'amd64');
  const arm = await store.pull(`${registry.host}/test/multi:latest`, { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(arm.id, armImage.configDigest);
  assert.equal(arm.manifestDigest, armImage.digest);
});

test('a corrupt blob: a clear error with its digest, no image, no unverified blob, nothing half-unpacked', { skip }, async (t) => {
  const { store, root } = newStore(t);
  const bad = corrupt.layers[1];
  await assert.rejects(store.pull(`${registry.host}/test/corrupt:latest`), (err: Error) => {
    assert.match(err.message, new RegExp(`blob ${bad} from registry ${registry.host.replace(/\./g, '\\.')} is corrupt`));
    return true;
  });
  assert.deepEqual(await store.list(), []);
  assert.equal(await store.get(`${registry.host}/test/corrupt:latest`), null);
  assert.ok(!ls(join(root, 'blobs', 'sha256')).includes(bad.slice(7)), 'the corrupt blob was not kept');
  assert.deepEqual(ls(join(root, 'layers')), []);
  assert.deepEqual(ls(join(root, 'tmp')), []);
  await assert.rejects(store.pull(`${registry.host}/test/missing:latest`), { message: `image test/missing:latest not found in registry ${registry.host}` });
});

test('a root filesystem: busybox runs, whiteouts and the opaque dir hold, writes go to the upper dir only', { skip }, async (t) => {
  const { store, root } = newStore(t);
  const image = await store.pull(`${registry.host}/test/busybox:latest`);
  const topLayer = join(root, 'layers', image.layers[1].slice(7));
  // What the kernel made for the whiteout: a 0/0 character device in the unpacked layer.
  const whiteout = lstatSync(join(topLayer, 'etc', 'delete-me'));
  assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0);

  const id = randomUUID();
  const rootfs = await store.mountRootfs(image.id, id);
  assert.ok(mountPoints().includes(rootfs));
  assert.equal(await store.mountRootfs(image.id, id), rootfs, 'mounting again returns the mount');
  assert.ok(statSync(join(rootfs, 'bin', 'busybox')).isFile());
  assert.ok(!existsSync(join(rootfs, 'etc', 'delete-me')), 'the whited-out file is gone');
  assert.deepEqual(readdirSync(join(rootfs, 'etc', 'conf.d')), ['new.conf'], 'the opaque dir hides the lower content');
  assert.equal(readFileSync(join(rootfs, 'etc', 'motd'), 'utf8'), 'from the top layer\n');
  // The static busybox runs in it (chroot stands in for the runtime).
  assert.equal(execFileSync('chroot', [rootfs, '/bin/sh', '-c', 'cat /etc/motd; ls /etc/conf.d'], { encoding: 'utf8' }), 'from the top layer\nnew.conf\n');

  writeFileSync(join(rootfs, 'root', 'note'), 'mine');
  rmSync(join(rootfs, 'etc', 'passwd'));
  const upper = join(root, 'containers', readdirSync(join(root, 'containers'))[0], 'upper');
  assert.equal(readFileSync(join(upper, 'root', 'note'), 'utf8'), 'mine');
  assert.ok(lstatSync(join(upper, 'etc', 'passwd')).isCharacterDevice(), 'a deletion in the container is a whiteout in its upper dir');
  for (const layer of image.layers) assert.ok(!existsSync(join(root, 'layers', layer.slice(7), 'root', 'note')), 'layers are untouched');
  assert.ok(existsSync(join(root, 'layers', image.layers[0].slice(7), 'etc', 'passwd')));
});

test('two containers from one image are independent; removeRootfs leaves nothing mounted or on disk', { skip }, async (t) => {
  const { store, root } = newStore(t);
  const image = await store.pull(`${registry.host}/test/busybox:latest`);
  const [a, b] = [randomUUID(), randomUUID()];
  const [ra, rb] = await Promise.all([store.mountRootfs(image.id, a), store.mountRootfs(image.id, b)]);
  writeFileSync(join(ra, 'tmp', 'only-in-a'), 'a');
  rmSync(join(rb, 'bin', 'busybox'));
  assert.ok(!existsSync(join(rb, 'tmp', 'only-in-a')));
  assert.ok(existsSync(join(ra, 'bin', 'busybox')));
  assert.deepEqual(await store.listRootfs(), [a, b].sort());
  await assert.rejects(store.remove(image.id), /in use by the root filesystem of containers/);

  await store.removeRootfs(a);
  await store.removeRootfs(a);
  assert.ok(!mountPoints().includes(ra));
  assert.deepEqual(await store.listRootfs(), [b]);
  assert.ok(existsSync(join(rb, 'tmp')), 'the other container keeps its mount');
  await store.removeRootfs(b);
  assert.deepEqual(mountPoints().filter((m) => m.startsWith(root)), []);
  assert.deepEqual(ls(join(root, 'containers')), []);
});

test('remove + garbageCollect free the layers and blobs; a new pull brings them back', { skip }, async (t) => {
  const { store, root } = newStore(t);
  const image = await store.pull(`${registry.host}/test/busybox:latest`);
  assert.deepEqual((await store.garbageCollect()).removedLayers, 0, 'nothing is freed while the image is there');
  await store.remove(`${registry.host}/test/busybox:latest`);
  const gc = await store.garbageCollect();
  assert.equal(gc.removedLayers, 2);
  assert.ok(gc.freedBytes > 1_000_000, `freed ${gc.freedBytes} bytes (busybox is in there twice: blob and unpacked)`);
  assert.deepEqual(ls(join(root, 'layers')), []);
  assert.deepEqual(ls(join(root, 'blobs', 'sha256')), []);
  const again = await store.pull(`${registry.host}/test/busybox:latest`);
  assert.equal(again.id, image.id);
  assert.equal(ls(join(root, 'layers')).length, 2);
});

test('two stores on one root pulling the same image at once end with one intact copy', { skip }, async (t) => {
  const { store: one, root } = newStore(t);
  const { store: two } = newStore(t, root);
  const [a, b] = await Promise.all([one.pull(`${registry.host}/test/busybox:latest`), two.pull(`${registry.host}/test/busybox:latest`)]);
  assert.equal(a.id, b.id);
  assert.deepEqual(ls(join(root, 'layers')), a.layers.map((l) => l.slice(7)).sort());
  assert.deepEqual(ls(join(root, 'tmp')), []);
  const rootfs = await one.mountRootfs(a.id, randomUUID());
  assert.ok(statSync(join(rootfs, 'bin', 'busybox')).size > 100_000);
});

test('importArchive: a docker save tar built here becomes a runnable image under its RepoTags', { skip }, async (t) => {
  const { store } = newStore(t);
  // The classic `docker save` layout: <id>.json, <layer>/layer.tar (uncompressed), manifest.json.
  const stage = join(work, 'save-stage');
  mkdirSync(stage);
  const tarOf = (dir: string) => execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '-C', dir, '-cf', '-', '.'], { maxBuffer: 64 << 20 });
  const layers = [tarOf(base), tarOf(top)];
  const layerPaths = layers.map((l, i) => {
    const dir = join(stage, `${i}${sha256(l).slice(7, 20)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'layer.tar'), l);
    writeFileSync(join(dir, 'VERSION'), '1.0');
    return `${dir.slice(stage.length + 1)}/layer.tar`;
  });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh', '-c', 'echo saved'] },
    rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
  }));
  const id = sha256(config);
  writeFileSync(join(stage, `${id.slice(7)}.json`), config);
  writeFileSync(join(stage, 'manifest.json'), JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ['saved/busybox:1.0'], Layers: layerPaths }]));
  const archive = join(work, 'saved.tar');
  execFileSync('tar', ['-C', stage, '-cf', archive, '.']);

  const [image] = await store.importArchive(archive);
  assert.equal(image.id, id);
  assert.deepEqual(image.repoTags, ['docker.io/saved/busybox:1.0']);
  assert.deepEqual(image.config.cmd, ['/bin/sh', '-c', 'echo saved']);
  assert.equal((await store.get('saved/busybox:1.0'))?.id, id);
  const rootfs = await store.mountRootfs('saved/busybox:1.0', randomUUID());
  assert.ok(!existsSync(join(rootfs, 'etc', 'delete-me')));
  assert.equal(execFileSync('chroot', [rootfs, '/bin/busybox', 'echo', 'saved'], { encoding: 'utf8' }), 'saved\n');
});
