import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSharedArgv, parseMountPropagation } from './mount-namespace.js';

const MOUNTINFO = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '40 27 0:30 / /run/netns rw,nosuid shared:12 - tmpfs tmpfs rw',
  '41 27 254:0 /var/lib/kumo/images/containers /var/lib/kumo/images/containers rw,relatime - ext4 /dev/vda rw',
  '42 27 0:45 / /tmp/with\\040space rw,relatime master:3 - tmpfs tmpfs rw',
].join('\n');

test('mount namespace: propagation from mountinfo; a dir becomes a shared mount point with the fewest steps', () => {
  const mounts = parseMountPropagation(MOUNTINFO);
  assert.deepEqual([...mounts.values()].map((m) => [m.mountPoint, m.shared]), [
    ['/', false], ['/run/netns', true], ['/var/lib/kumo/images/containers', false], ['/tmp/with space', false],
  ]);
  assert.deepEqual(makeSharedArgv(mounts, '/run/netns'), [], 'already shared');
  assert.deepEqual(makeSharedArgv(mounts, '/var/lib/kumo/images/containers'), [['mount', '--make-shared', '/var/lib/kumo/images/containers']]);
  assert.deepEqual(makeSharedArgv(mounts, '/srv/kumo/containers'), [['mount', '--bind', '/srv/kumo/containers', '/srv/kumo/containers'], ['mount', '--make-shared', '/srv/kumo/containers']]);
});
