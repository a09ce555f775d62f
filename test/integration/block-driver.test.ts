/**
 * The file block storage with the real tools (root only; qemu-img, losetup, mkfs.ext4 installed):
 * volumes made empty, from raw and qcow2 images (local and streamed), from volumes and snapshots,
 * checked byte for byte with `qemu-img compare`; bad images refused leaving nothing; extend and
 * export; and container mounts through real loop devices: ext4 made on the first mount and kept,
 * the conflict rules, an online extend the mounted filesystem shows, a new driver instance
 * finding the mount (a restart), and unmount leaving no loop device and no mount.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBlockStorage, type BlockStorage, type ImageContent } from '../../src/drivers/block/index.js';
import { KumoError, type KumoErrorCode } from '../../src/errors.js';
import { findBinary } from '../../src/lib/find-binary.js';
import { createSilentLogger } from '../../src/log.js';
import { isRoot } from '../support/netns.js';

const skip = !isRoot ? 'needs root (loop devices and mounts)'
  : !findBinary('qemu-img') ? 'qemu-img is not installed (Debian: qemu-utils)'
    : !findBinary('losetup') ? 'losetup is not installed (Debian: mount)'
      : !findBinary('mkfs.ext4') ? 'mkfs.ext4 is not installed (Debian: e2fsprogs)'
        : !existsSync('/dev/loop-control') ? 'the kernel offers no loop devices'
          : false;

const MIB = 1024 * 1024;
const work = mkdtempSync(path.join(tmpdir(), 'kumo-block-it-'));
const stateDir = path.join(work, 'block');
const logger = createSilentLogger();
const driver = (): BlockStorage => createBlockStorage('file', { stateDir }, logger);
let block: BlockStorage;

const code = (c: KumoErrorCode, m?: RegExp) => (err: unknown) => err instanceof KumoError && err.code === c && (!m || m.test(err.message));
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const succeeds = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
/** Same content, a larger one's extra bytes being zeroes (qemu-img compare without -s). */
const sameContent = (a: string, aFormat: string, b: string, bFormat: string) => succeeds('qemu-img', ['compare', '-q', '-f', aFormat, '-F', bFormat, a, b]);
const loopsOf = (file: string) => run('losetup', ['--noheadings', '--output', 'NAME', '--associated', file]).trim();
const mountedAt = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

const image = { raw: path.join(work, 'img.raw'), qcow2: path.join(work, 'img.qcow2') };

function streamed(file: string, format: 'raw' | 'qcow2', check: ImageContent['check']): ImageContent {
  return { imageId: `img-${format}`, format, localPath: null, check, open: () => createReadStream(file) };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

before(() => {
  if (skip) return;
  // A 16 MiB image: data at the start, in the middle and at the end, zeroes between.
  const data = Buffer.alloc(16 * MIB);
  for (const at of [0, 7 * MIB + 123, 16 * MIB - 4096]) data.write(`kumo block test at ${at}`, at);
  writeFileSync(image.raw, data);
  run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', image.raw, image.qcow2]);
  block = driver();
});

after(async () => {
  if (!skip) {
    // Whatever a failed test left: its mounts and loop devices first, then the files.
    const cleaner = driver();
    for (const m of await cleaner.listContainerMounts().catch(() => [])) await cleaner.unmountForContainer(m.attachmentId).catch(() => undefined);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const dir = line.split(' ')[4];
      if (dir?.startsWith(`${work}/`)) succeeds('umount', ['-l', dir]);
    }
    const volumes = path.join(stateDir, 'volumes');
    for (const f of existsSync(volumes) ? readdirSync(volumes) : []) {
      for (const dev of loopsOf(path.join(volumes, f)).split('\n').filter(Boolean)) succeeds('losetup', ['-d', dev]);
    }
  }
  rmSync(work, { recursive: true, force: true });
});

test('probe: qemu-img, the volume filesystem\'s size, container mounts possible', { skip }, async () => {
  const info = await block.probe();
  assert.match(info.qemuImgVersion, /^\d+\.\d+/);
  assert.equal(info.volumeDir, path.join(stateDir, 'volumes'));
  assert.ok(info.totalBytes > 0 && info.freeBytes > 0 && info.freeBytes <= info.totalBytes);
  assert.equal(info.containerMounts, true, info.containerMountsReason ?? '');
});

test('an empty volume is sparse', { skip }, async () => {
  const v = await block.createVolume('empty1', 1024 * MIB);
  assert.equal(v.sizeBytes, 1024 * MIB);
  assert.ok(v.allocatedBytes < MIB, `allocated ${v.allocatedBytes}`);
  assert.equal(run('qemu-img', ['info', '--output=json', v.path]).includes('"format": "raw"'), true);
});

test('from raw and qcow2 images, local or streamed: the image\'s content, grown to the volume size', { skip }, async () => {
  const fromRaw = await block.createVolume('img-raw', 32 * MIB, { kind: 'image', image: { ...streamed(image.raw, 'raw', {}), localPath: image.raw } });
  const fromQcow2 = await block.createVolume('img-qcow2', 32 * MIB, { kind: 'image', image: { ...streamed(image.qcow2, 'qcow2', {}), localPath: image.qcow2 } });
  const streamedRaw = await block.createVolume('img-raw-s', 32 * MIB, { kind: 'image', image: streamed(image.raw, 'raw', { sizeBytes: 16 * MIB, hash: { algorithm: 'sha256', hex: sha256(image.raw) } }) });
  const streamedQcow2 = await block.createVolume('img-qcow2-s', 16 * MIB, { kind: 'image', image: streamed(image.qcow2, 'qcow2', { hash: { algorithm: 'sha256', hex: sha256(image.qcow2) } }) });
  for (const v of [fromRaw, fromQcow2, streamedRaw]) assert.equal(v.sizeBytes, 32 * MIB);
  for (const v of [fromRaw, fromQcow2, streamedRaw, streamedQcow2]) {
    assert.ok(sameContent(v.path, 'raw', image.qcow2, 'qcow2'), `${v.volumeId} differs from the image`);
    assert.ok(v.allocatedBytes < 4 * MIB, `${v.volumeId}: allocated ${v.allocatedBytes}`);
  }
  assert.deepEqual(readdirSync(path.join(stateDir, 'tmp')), []);
});

test('a streamed image with a bad sha256, or larger than the volume, is ERR_BAD_REQUEST and leaves nothing', { skip }, async () => {
  const listed = await block.list();
  await assert.rejects(block.createVolume('bad-hash', 32 * MIB, { kind: 'image', image: streamed(image.qcow2, 'qcow2', { hash: { algorithm: 'sha256', hex: '0'.repeat(64) } }) }), code('ERR_BAD_REQUEST', /sha256 digest does not match/));
  await assert.rejects(block.createVolume('too-small', 8 * MIB, { kind: 'image', image: streamed(image.qcow2, 'qcow2', {}) }), code('ERR_BAD_REQUEST', /more than the volume's/));
  await assert.rejects(block.createVolume('too-small', 8 * MIB, { kind: 'image', image: { ...streamed(image.qcow2, 'qcow2', {}), localPath: image.qcow2 } }), code('ERR_BAD_REQUEST', /more than the volume's/));
  await assert.rejects(block.createVolume('too-small', 8 * MIB, { kind: 'image', image: streamed(image.raw, 'raw', {}) }), code('ERR_BAD_REQUEST'));
  await assert.rejects(block.createVolume('not-qcow2', 32 * MIB, { kind: 'image', image: streamed(image.raw, 'qcow2', {}) }), code('ERR_BAD_REQUEST', /declared qcow2/));
  assert.deepEqual(await block.list(), listed);
  assert.deepEqual(readdirSync(path.join(stateDir, 'tmp')), []);
});

test('from a volume and from a snapshot: the same content; extend grows, shrink is ERR_CONFLICT; export to qcow2', { skip }, async () => {
  const snap = await block.createSnapshot('snap1', 'img-qcow2');
  const copy = await block.createVolume('copy1', 32 * MIB, { kind: 'volume', volumeId: 'img-qcow2' });
  const fromSnap = await block.createVolume('copy2', 48 * MIB, { kind: 'snapshot', snapshotId: 'snap1' });
  for (const f of [snap.path, copy.path, fromSnap.path]) assert.ok(sameContent(f, 'raw', image.raw, 'raw'), `${f} differs`);
  assert.ok(fromSnap.allocatedBytes < 4 * MIB, `allocated ${fromSnap.allocatedBytes}`);
  assert.equal((await block.extendVolume('copy1', 64 * MIB)).sizeBytes, 64 * MIB);
  await assert.rejects(block.extendVolume('copy1', 32 * MIB), code('ERR_CONFLICT', /cannot shrink/));
  assert.ok(sameContent(copy.path, 'raw', image.raw, 'raw'));
  const dest = path.join(work, 'export.qcow2');
  const exported = await block.exportVolume('copy1', 'qcow2', dest);
  const info = JSON.parse(run('qemu-img', ['info', '--output=json', dest])) as { format: string; 'virtual-size': number };
  assert.deepEqual([info.format, info['virtual-size']], ['qcow2', 64 * MIB]);
  assert.ok(exported.sizeBytes < 8 * MIB, `qcow2 of ${exported.sizeBytes} bytes`);
  assert.ok(sameContent(dest, 'qcow2', image.raw, 'raw'));
  await assert.rejects(block.exportVolume('nope', 'raw', path.join(work, 'nope.raw')), code('ERR_NOT_FOUND'));
  assert.equal(existsSync(path.join(work, 'nope.raw')), false);
});

test('container mounts: ext4 made once and kept, conflicts, online extend, found by a new instance, unmount leaves no loop device or mount', { skip }, async () => {
  const v = await block.createVolume('ctr1', 64 * MIB);
  const m = await block.mountForContainer('att1', 'ctr1');
  assert.match(m.loopDevice, /^\/dev\/loop\d+$/);
  assert.equal(m.hostPath, path.join(stateDir, 'mounts', 'att1'));
  assert.equal(run('blkid', ['-p', '-s', 'TYPE', '-o', 'value', v.path]).trim(), 'ext4');
  writeFileSync(path.join(m.hostPath, 'hello.txt'), 'kept across mounts');
  await block.unmountForContainer('att1');
  assert.equal(loopsOf(v.path), '');
  assert.equal(mountedAt(m.hostPath), false);

  let again = await block.mountForContainer('att1', 'ctr1');
  assert.equal(readFileSync(path.join(again.hostPath, 'hello.txt'), 'utf8'), 'kept across mounts');
  assert.deepEqual(await block.mountForContainer('att1', 'ctr1'), again);
  await assert.rejects(block.mountForContainer('att2', 'ctr1'), code('ERR_CONFLICT', /read-write for attachment att1/));
  await assert.rejects(block.mountForContainer('att2', 'ctr1', { readOnly: true }), code('ERR_CONFLICT'));
  await assert.rejects(block.deleteVolume('ctr1'), code('ERR_CONFLICT', /mounted/));
  assert.equal(loopsOf(v.path).split('\n').length, 1);

  const fsBytes = (dir: string) => {
    const st = statfsSync(dir);
    return st.blocks * st.bsize;
  };
  const before = fsBytes(again.hostPath);
  if ((await block.probe()).containerOnlineExtend) {
    await block.extendVolume('ctr1', 128 * MIB);
    assert.ok(fsBytes(again.hostPath) > before + 50 * MIB, `df: ${before} -> ${fsBytes(again.hostPath)}`);
  } else {
    // This host withholds CAP_SYS_RESOURCE, without which the kernel grows no mounted ext4: refused, nothing changed.
    await assert.rejects(block.extendVolume('ctr1', 128 * MIB), code('ERR_CONFLICT', /cannot grow a mounted filesystem/));
    assert.equal((await block.volume('ctr1'))?.sizeBytes, 64 * MIB);
    assert.equal(fsBytes(again.hostPath), before);
    // Extended while unmounted, the filesystem grows at the next mount.
    await block.unmountForContainer('att1');
    await block.extendVolume('ctr1', 128 * MIB);
    // Another loop device, maybe: the host's numbering is shared with whoever else uses loop devices.
    const remounted = await block.mountForContainer('att1', 'ctr1');
    assert.deepEqual({ ...remounted, loopDevice: '' }, { ...again, loopDevice: '' });
    again = remounted;
    assert.equal(readFileSync(path.join(again.hostPath, 'hello.txt'), 'utf8'), 'kept across mounts');
  }
  assert.ok(df(again.hostPath) > before + 50 * MIB, `df: ${before} -> ${df(again.hostPath)}`);

  // A restart after a kill -9 just before the record was written, and one between losetup and mount
  // of another attachment: the new instance knows the mount from the host alone, and frees the loop device.
  rmSync(path.join(stateDir, 'mounts', 'att1.json'));
  const leaked = await block.createVolume('ctr2', 16 * MIB);
  run('losetup', ['--find', leaked.path]);
  assert.notEqual(loopsOf(leaked.path), '');
  const restarted = driver();
  assert.deepEqual(await restarted.listContainerMounts(), [again]);
  assert.ok(existsSync(path.join(stateDir, 'mounts', 'att1.json')));
  assert.equal(loopsOf(leaked.path), '');
  await restarted.unmountForContainer('att1');
  assert.equal(loopsOf(v.path), '');
  assert.equal(mountedAt(again.hostPath), false);
  assert.deepEqual(readdirSync(path.join(stateDir, 'mounts')), []);
  assert.deepEqual(await restarted.listContainerMounts(), []);

  // Read-only mounts of a volume with a filesystem share it; a writer then conflicts.
  const r1 = await restarted.mountForContainer('ro1', 'ctr1', { readOnly: true });
  const r2 = await restarted.mountForContainer('ro2', 'ctr1', { readOnly: true });
  assert.equal(readFileSync(path.join(r2.hostPath, 'hello.txt'), 'utf8'), 'kept across mounts');
  assert.throws(() => writeFileSync(path.join(r1.hostPath, 'x'), 'x'), /EROFS/);
  await assert.rejects(restarted.mountForContainer('rw1', 'ctr1'), code('ERR_CONFLICT', /read-only/));
  await restarted.unmountForContainer('ro1');
  await restarted.unmountForContainer('ro2');
  assert.equal(loopsOf(v.path), '');
  await restarted.deleteVolume('ctr1');
  assert.equal(existsSync(v.path), false);
});

/** Size of the filesystem mounted at `dir` as df reports it, in bytes. */
function df(dir: string): number {
  return Number(run('df', ['--output=size', '-B1', dir]).trim().split('\n')[1]);
}

test('removeTemporaryFiles clears what an interrupted create left', { skip }, async () => {
  writeFileSync(path.join(stateDir, 'tmp', 'volume-x.raw.dead'), 'partial');
  await block.removeTemporaryFiles();
  assert.deepEqual(readdirSync(path.join(stateDir, 'tmp')), []);
});
