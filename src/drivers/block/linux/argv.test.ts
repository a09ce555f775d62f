import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blkidProbeArgv, blockPaths, e2fsckArgv, idOfRawFile, isBlockId, loopAttachArgv, loopDetachArgv, loopRefreshArgv, mkfsArgv, mountArgv, mountDir,
  mountRecordFile, resize2fsArgv, snapshotFile, sparseCopyArgv, umountArgv, volumeFile,
} from './argv.js';

test('ids: what can be a file name of ours, nothing else', () => {
  for (const ok of ['3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab', 'v1', 'A_b-c']) assert.ok(isBlockId(ok), ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a.raw', '-x', 'x'.repeat(129), 'a b']) assert.ok(!isBlockId(bad), bad);
});

test('layout under the state dir', () => {
  const p = blockPaths('/var/lib/kumo/block/');
  assert.deepEqual(p, { volumes: '/var/lib/kumo/block/volumes', snapshots: '/var/lib/kumo/block/snapshots', mounts: '/var/lib/kumo/block/mounts', tmp: '/var/lib/kumo/block/tmp' });
  assert.equal(volumeFile(p, 'v1'), '/var/lib/kumo/block/volumes/v1.raw');
  assert.equal(snapshotFile(p, 's1'), '/var/lib/kumo/block/snapshots/s1.raw');
  assert.equal(mountDir(p, 'a1'), '/var/lib/kumo/block/mounts/a1');
  assert.equal(mountRecordFile(p, 'a1'), '/var/lib/kumo/block/mounts/a1.json');
  assert.equal(idOfRawFile(p.volumes, '/var/lib/kumo/block/volumes/v1.raw'), 'v1');
  assert.equal(idOfRawFile(p.volumes, '/var/lib/kumo/block/snapshots/v1.raw'), null);
  assert.equal(idOfRawFile(p.volumes, '/var/lib/kumo/block/volumes/v1.raw.tmp'), null);
  assert.equal(idOfRawFile(p.volumes, '/var/lib/kumo/block/volumes/.raw'), null);
});

test('host tool command lines', () => {
  assert.deepEqual(sparseCopyArgv('/a', '/b'), ['cp', '--sparse=always', '--reflink=auto', '--', '/a', '/b']);
  assert.deepEqual(loopAttachArgv('/v/x.raw', false), ['losetup', '--find', '--show', '--', '/v/x.raw']);
  assert.deepEqual(loopAttachArgv('/v/x.raw', true), ['losetup', '--find', '--show', '--read-only', '--', '/v/x.raw']);
  assert.deepEqual(loopDetachArgv('/dev/loop3'), ['losetup', '--detach', '/dev/loop3']);
  assert.deepEqual(loopRefreshArgv('/dev/loop3'), ['losetup', '--set-capacity', '/dev/loop3']);
  assert.deepEqual(blkidProbeArgv('/dev/loop3'), ['blkid', '-p', '-o', 'export', '/dev/loop3']);
  assert.deepEqual(mkfsArgv('/dev/loop3'), ['mkfs.ext4', '-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1', '/dev/loop3']);
  assert.deepEqual(mountArgv('/dev/loop3', '/m/a', 'ext4', false), ['mount', '-t', 'ext4', '-o', 'rw,nodev,noinit_itable', '/dev/loop3', '/m/a']);
  assert.deepEqual(mountArgv('/dev/loop3', '/m/a', 'xfs', true), ['mount', '-t', 'xfs', '-o', 'ro,nodev', '/dev/loop3', '/m/a']);
  assert.deepEqual(umountArgv('/m/a'), ['umount', '/m/a']);
  assert.deepEqual(umountArgv('/m/a', true), ['umount', '--lazy', '/m/a']);
  assert.deepEqual(resize2fsArgv('/dev/loop3'), ['resize2fs', '/dev/loop3']);
  assert.deepEqual(e2fsckArgv('/dev/loop3'), ['e2fsck', '-f', '-p', '/dev/loop3']);
});
