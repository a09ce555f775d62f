import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseMountInfo } from '../../../lib/mountinfo.js';
import { blockPaths } from './argv.js';
import {
  CAP_SYS_RESOURCE, deviceContent, formatMountRecord, hasEffectiveCapability, parseBackingFile, parseBlkidExport, parseMountRecord, readLoopDevices, readMountRecords, reconcileMounts,
  writeMountRecord, type LoopDevice, type MountRecord,
} from './host-state.js';

test('blkid -p output: a filesystem, nothing, a partition table, something else', () => {
  const ext4 = 'DEVNAME=/dev/loop0\nUUID=c2a4\nVERSION=1.0\nBLOCK_SIZE=1024\nTYPE=ext4\nUSAGE=filesystem\n';
  assert.equal(parseBlkidExport(ext4).get('TYPE'), 'ext4');
  assert.deepEqual(deviceContent(0, ext4), { kind: 'filesystem', fsType: 'ext4' });
  assert.deepEqual(deviceContent(2, ''), { kind: 'empty' });
  assert.deepEqual(deviceContent(0, 'DEVNAME=/dev/loop0\nPTUUID=1234\nPTTYPE=dos\n'), { kind: 'other', what: 'a dos partition table' });
  assert.deepEqual(deviceContent(0, 'TYPE=crypto_LUKS\nUSAGE=crypto\n'), { kind: 'other', what: 'crypto_LUKS (crypto)' });
  assert.deepEqual(deviceContent(8, ''), { kind: 'other', what: 'ambiguous signatures' });
  assert.equal(deviceContent(4, ''), null);
});

test('loop devices from /sys/block: bound ones only, deleted backing files and read-only flags', async () => {
  assert.deepEqual(parseBackingFile('/v/a.raw\n'), { file: '/v/a.raw', deleted: false });
  assert.deepEqual(parseBackingFile('/v/a b.raw (deleted)\n'), { file: '/v/a b.raw', deleted: true });
  const sys = await mkdtemp(path.join(tmpdir(), 'kumo-sysblock-'));
  try {
    const loop = async (n: string, backing: string | null, ro: string) => {
      await mkdir(path.join(sys, n, 'loop'), { recursive: true });
      await writeFile(path.join(sys, n, 'ro'), ro);
      if (backing !== null) await writeFile(path.join(sys, n, 'loop', 'backing_file'), backing);
    };
    await loop('loop0', '/v/a.raw\n', '0\n');
    await loop('loop1', null, '0\n');
    await loop('loop2', '/v/b.raw (deleted)\n', '1\n');
    await mkdir(path.join(sys, 'vda'));
    const loops = (await readLoopDevices(sys)).sort((a, b) => a.device.localeCompare(b.device));
    assert.deepEqual(loops, [
      { device: '/dev/loop0', backingFile: '/v/a.raw', deleted: false, readOnly: false },
      { device: '/dev/loop2', backingFile: '/v/b.raw', deleted: true, readOnly: true },
    ]);
    assert.deepEqual(await readLoopDevices(path.join(sys, 'missing')), []);
  } finally {
    await rm(sys, { recursive: true, force: true });
  }
});

test('mount records: written whole, read back, garbage kept as an unknown record', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-records-'));
  try {
    const p = blockPaths(dir);
    assert.deepEqual(await readMountRecords(p), new Map());
    await mkdir(p.mounts);
    const r: MountRecord = { attachmentId: 'a1', volumeId: 'v1', loopDevice: '/dev/loop4', readOnly: true };
    await writeMountRecord(p, r);
    assert.equal(await readFile(path.join(p.mounts, 'a1.json'), 'utf8'), formatMountRecord(r));
    assert.deepEqual(parseMountRecord('a1', formatMountRecord(r)), r);
    assert.equal(parseMountRecord('a1', '{"volumeId":"../x","loopDevice":"/dev/loop1","readOnly":false}'), null);
    await writeFile(path.join(p.mounts, 'a2.json'), 'not json');
    await writeFile(path.join(p.mounts, 'bad.name.json'), '{}');
    await mkdir(path.join(p.mounts, 'a1'));
    assert.deepEqual(await readMountRecords(p), new Map([['a1', r], ['a2', null]]));
    assert.deepEqual((await readdir(p.mounts)).sort(), ['a1', 'a1.json', 'a2.json', 'bad.name.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('reconcileMounts: reality wins; unrecorded mounts, stale records and idle loop devices are told apart', () => {
  const p = blockPaths('/s');
  const mountinfo = [
    '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    // Recorded and live.
    '40 22 7:0 / /s/mounts/a1 rw,relatime shared:20 - ext4 /dev/loop0 rw',
    // Live, record missing (Kumo killed between mount and record).
    '41 22 7:1 / /s/mounts/a2 ro,relatime shared:21 - ext4 /dev/loop1 ro',
    // A loop over someone else's file, at one of our dirs: not ours.
    '42 22 7:5 / /s/mounts/a5 rw - ext4 /dev/loop5 rw',
    // Our loop device mounted elsewhere (by an admin): in use, not idle, not a container mount.
    '43 22 7:6 / /mnt/x rw - ext4 /dev/loop6 rw',
    // Not a direct child of the mounts dir.
    '44 22 7:7 / /s/mounts/a7/sub rw - ext4 /dev/loop7 rw',
  ].join('\n');
  const loops: LoopDevice[] = [
    { device: '/dev/loop0', backingFile: '/s/volumes/v1.raw', deleted: false, readOnly: false },
    { device: '/dev/loop1', backingFile: '/s/volumes/v2.raw', deleted: false, readOnly: true },
    { device: '/dev/loop3', backingFile: '/s/volumes/v3.raw', deleted: true, readOnly: false },
    { device: '/dev/loop5', backingFile: '/elsewhere/v5.raw', deleted: false, readOnly: false },
    { device: '/dev/loop6', backingFile: '/s/volumes/v6.raw', deleted: false, readOnly: false },
    { device: '/dev/loop7', backingFile: '/s/volumes/v7.raw', deleted: false, readOnly: false },
  ];
  const records = new Map<string, MountRecord | null>([
    ['a1', { attachmentId: 'a1', volumeId: 'v1', loopDevice: '/dev/loop0', readOnly: false }],
    ['a3', { attachmentId: 'a3', volumeId: 'v3', loopDevice: '/dev/loop3', readOnly: false }],
    ['a4', null],
  ]);
  const state = reconcileMounts(p, records, parseMountInfo(mountinfo), loops);
  assert.deepEqual(state.live, [
    { attachmentId: 'a1', volumeId: 'v1', hostPath: '/s/mounts/a1', loopDevice: '/dev/loop0', readOnly: false },
    { attachmentId: 'a2', volumeId: 'v2', hostPath: '/s/mounts/a2', loopDevice: '/dev/loop1', readOnly: true },
  ]);
  assert.deepEqual(state.unrecorded.map((m) => m.attachmentId), ['a2']);
  assert.deepEqual(state.staleRecords, ['a3', 'a4']);
  assert.deepEqual(state.idleLoops.map((l) => l.device), ['/dev/loop3']);
});

test('effective capabilities from /proc/self/status', () => {
  const status = (eff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;
  assert.equal(hasEffectiveCapability(status('000001fffeffffff'), CAP_SYS_RESOURCE), false);
  assert.equal(hasEffectiveCapability(status('000001ffffffffff'), CAP_SYS_RESOURCE), true);
  assert.equal(hasEffectiveCapability(status('0000000001000000'), CAP_SYS_RESOURCE), true);
  assert.equal(hasEffectiveCapability('Name:\tnode\n', CAP_SYS_RESOURCE), false);
});
