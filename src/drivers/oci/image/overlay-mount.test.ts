import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KumoError } from '../../../errors.js';
import { isMountPoint, overlayMountArgv, parseMountInfo, umountArgv } from './overlay-mount.js';
import { lowerDirsTopFirst } from './store.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

test('overlay: mount argv, top layer first, no shell, the owner as source', () => {
  assert.deepEqual(overlayMountArgv({ lowerDirs: ['bbb', 'aaa'], upperDir: '/s/c/upper', workDir: '/s/c/work', target: '/s/c/rootfs', source: 'kumo-ab12' }), [
    'mount', '-i', '-n', '-t', 'overlay', '-o', 'lowerdir=bbb:aaa,upperdir=/s/c/upper,workdir=/s/c/work', 'kumo-ab12', '/s/c/rootfs',
  ]);
  assert.deepEqual(umountArgv('/s/c/rootfs'), ['umount', '-i', '-n', '/s/c/rootfs']);
});

test('overlay: paths overlayfs would misread, no layers, or too many layers are refused', () => {
  const base = { upperDir: '/u', workDir: '/w', target: '/t', source: 's' };
  assert.throws(() => overlayMountArgv({ ...base, lowerDirs: ['a:b'] }), /cannot carry/);
  assert.throws(() => overlayMountArgv({ ...base, lowerDirs: ['a'], upperDir: '/x,y' }), /cannot carry/);
  assert.throws(() => overlayMountArgv({ ...base, lowerDirs: [] }), /at least one lower layer/);
  const many = Array.from({ length: 70 }, (_, i) => i.toString(16).padStart(64, '0'));
  assert.throws(() => overlayMountArgv({ ...base, lowerDirs: many }), (e: unknown) => e instanceof KumoError && /70 distinct layers/.test(e.message));
  assert.doesNotThrow(() => overlayMountArgv({ ...base, lowerDirs: many.slice(0, 60) }));
});

test('overlay: lower dirs are the layers top first, a repeated layer counted where it is topmost', () => {
  assert.deepEqual(lowerDirsTopFirst([d('a'), d('b'), d('c')]), ['c'.repeat(64), 'b'.repeat(64), 'a'.repeat(64)]);
  assert.deepEqual(lowerDirsTopFirst([d('e'), d('a'), d('e'), d('b')]), ['b'.repeat(64), 'e'.repeat(64), 'a'.repeat(64)]);
});

test('mountinfo: mount points unescaped, optional fields skipped', () => {
  const text = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '98 22 0:45 / /var/lib/kumo/images/containers/ab-x/rootfs rw,relatime - overlay kumo-ab rw,lowerdir=a,upperdir=/u,workdir=/w',
    '99 22 0:46 / /tmp/with\\040space rw master:3 propagate_from:2 - tmpfs tmpfs rw',
    '',
  ].join('\n');
  assert.deepEqual(parseMountInfo(text), [
    { mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
    { mountPoint: '/var/lib/kumo/images/containers/ab-x/rootfs', fsType: 'overlay', source: 'kumo-ab' },
    { mountPoint: '/tmp/with space', fsType: 'tmpfs', source: 'tmpfs' },
  ]);
});

test('isMountPoint: a mount has another device than its parent; a plain directory or a missing path is not one', async () => {
  assert.equal(await isMountPoint('/proc'), true);
  assert.equal(await isMountPoint('/proc/self'), false);
  assert.equal(await isMountPoint('/no/such/kumo/path'), false);
});
