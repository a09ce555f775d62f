/**
 * Block storage end to end on this host (root): `kumo up` with its agent, volumes as real sparse
 * files, and the real `openstack` CLI. What is proven is what a user sees: volumes made empty, from
 * an image and from a snapshot; set, extend, snapshot and delete; refusals that change nothing; a
 * server booted from a volume; a volume hot-plugged into a running VM and written there by the
 * guest, detached, mounted into a container that reads it and writes to it, then attached to
 * another VM that reads both; nothing left after delete.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kumoUpForCli, openstackCli, restartKumo, run, tearDown } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';
import { isRoot } from '../support/netns.js';
import { pushBusyboxImage, startRegistry } from '../support/registry.js';
import type { Registry } from '../support/registry.js';
import { buildTestVmImage } from '../support/vm-image.js';
import type { TestVmImage } from '../support/vm-image.js';
import { serverWaits } from '../support/server-waits.js';
import { waitFor } from '../support/wait.js';

const haveQemu = existsSync('/usr/bin/qemu-system-x86_64');
const GIB = 1024 ** 3;
const KUMO_ARGS = ['--agent', 'on', '--host', hostname(), '--accel', 'tcg', '--log-level', 'info'];

describe('volumes through kumo up and `openstack volume` / `server add volume`', { skip: !isRoot ? 'needs root' : !haveQemu ? 'needs qemu-system-x86 (scripts/test.sh installs it)' : false }, () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  let vm: TestVmImage;
  let registry: Registry;
  let ctrImage: string;
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-volume-e2e-'));
  const { os, osJson, osFails } = openstackCli(() => env);
  const volume = async (name: string) => (await osJson('volume', 'show', name)) as Record<string, any>;
  const volumeIs = (name: string, status: string) => waitFor(`volume ${name} ${status}`, async () => {
    const v = await volume(name);
    if (v.status === 'error' && status !== 'error') throw new Error(`volume ${name} went to error`);
    return v.status === status && v;
  }, 120_000, 500);
  const volumeFiles = () => {
    const dir = join(live.dir, 'volumes', 'volumes');
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.raw')) : [];
  };
  const { serverIs, consoleHas } = serverWaits(os, osJson);

  before(async () => {
    vm = buildTestVmImage();
    registry = await startRegistry();
    ctrImage = await pushBusyboxImage(registry, scratch);
    ({ live, env } = await kumoUpForCli(KUMO_ARGS));
    await os('image', 'create', '--file', vm.bootDisk, '--disk-format', 'qcow2', '--container-format', 'bare', '--public', 'kumo-test');
    await os('flavor', 'create', '--vcpus', '1', '--ram', '128', '--disk', '1', 'vm.tiny');
    await os('network', 'create', 'vol-net');
    await os('subnet', 'create', '--network', 'vol-net', '--subnet-range', '10.79.0.0/24', 'vol-sub');
  });

  after(async () => {
    if (live) await tearDown(live);
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('volume create/list/show/set/extend, snapshots, volumes from a snapshot and an image, refusals, delete', async () => {
    await os('volume', 'create', '--size', '1', '--description', 'first', 'v1');
    const v1 = await volumeIs('v1', 'available');
    assert.equal(v1.size, 1);
    assert.equal(v1.bootable, 'false');
    assert.equal(v1.type, '__DEFAULT__');
    const file = join(live.dir, 'volumes', 'volumes', `${v1.id}.raw`);
    assert.equal(statSync(file).size, GIB, 'a 1 GiB file');
    assert.ok(statSync(file).blocks * 512 < 16 * 1024 * 1024, 'sparse');
    const list = await osJson('volume', 'list') as { Name: string; Status: string; Size: number }[];
    assert.deepEqual(list.map((v) => [v.Name, v.Status, v.Size]), [['v1', 'available', 1]]);

    await os('volume', 'set', '--name', 'v1b', '--property', 'tier=gold', 'v1');
    assert.match(JSON.stringify((await volume('v1b')).properties), /tier.*gold/);
    await os('volume', 'set', '--size', '2', 'v1b');
    await waitFor('v1b extended', async () => (await volume('v1b')).size === 2 && (await volume('v1b')).status === 'available', 60_000, 500);
    assert.equal(statSync(file).size, 2 * GIB);

    await os('volume', 'snapshot', 'create', '--volume', 'v1b', 's1');
    await waitFor('s1 available', async () => (await osJson('volume', 'snapshot', 'show', 's1')).status === 'available', 60_000, 500);
    await os('volume', 'create', '--snapshot', 's1', '--size', '2', 'from-snap');
    assert.equal((await volumeIs('from-snap', 'available')).snapshot_id, (await osJson('volume', 'snapshot', 'show', 's1')).id);
    await os('volume', 'create', '--image', 'kumo-test', '--size', '1', 'from-image');
    const fromImage = await volumeIs('from-image', 'available');
    assert.equal(fromImage.bootable, 'true');

    // Refusals: Cinder's messages, and nothing changes.
    const before = volumeFiles().length;
    await osFails(['--os-cloud', 'kumo', 'volume', 'create', '--size', '0', 'zero'], /Invalid input|must be an integer.*greater than 0|size/i);
    await osFails(['--os-cloud', 'kumo', 'volume', 'create', '--size', '1', '--type', 'no-such-type', 'typed'], /no-such-type.*could not be found|VolumeType/i);
    await osFails(['--os-cloud', 'kumo', 'volume', 'create', '--size', '100000', 'huge'], /quota|exceed/i);
    await osFails(['--os-cloud', 'kumo', 'volume', 'set', '--size', '1', 'v1b'], /New size for extend must be greater than current size|size/i);
    await osFails(['--os-cloud', 'kumo', 'volume', 'delete', 'v1b'], /snapshot|Invalid volume/i);
    assert.equal(volumeFiles().length, before);
    assert.equal((await volume('v1b')).size, 2);
    assert.deepEqual((await osJson('volume', 'list') as { Name: string }[]).map((v) => v.Name).sort(), ['from-image', 'from-snap', 'v1b']);

    await os('volume', 'snapshot', 'delete', 's1');
    await waitFor('s1 gone', async () => (await osJson('volume', 'snapshot', 'list')).length === 0, 60_000, 500);
    await os('volume', 'delete', 'v1b', 'from-snap');
    await waitFor('deleted', async () => (await osJson('volume', 'list')).length === 1, 60_000, 500);
    assert.deepEqual(volumeFiles(), [`${fromImage.id}.raw`], 'only from-image keeps a file');
  });

  test('boot from a volume; a volume written by a VM is read and written by a container, then read by another VM', async () => {
    // from-image (the previous test) holds the bootable disk: the server boots from it, no image involved.
    await os('server', 'create', '--volume', 'from-image', '--flavor', 'vm.tiny', '--network', 'vol-net', '--wait', 'bfv');
    const bfv = await serverIs('bfv', 'ACTIVE');
    assert.equal(bfv.image, 'N/A (booted from volume)');
    await consoleHas('bfv', /KUMO-GUEST-UP/);
    assert.equal((await volume('from-image')).status, 'in-use');

    // A guest that formats the volume it is given, writes a file on it and lets it go.
    const writer = join(scratch, 'writer.sh');
    writeFileSync(writer, '#!/bin/sh\nuntil [ -e /sys/block/vdb ]; do sleep 1; done\nmknod /dev/vdb b $(tr : " " < /sys/block/vdb/dev) 2>/dev/null\n' +
      'echo "KUMO-VOL-SERIAL $(cat /sys/block/vdb/serial)"\nmke2fs -q /dev/vdb && mkdir -p /v && mount -t ext2 /dev/vdb /v && echo written-by-vm > /v/note && umount /v && sync && echo KUMO-VOL-WRITTEN\n');
    await os('volume', 'create', '--size', '1', 'data');
    const data = await volumeIs('data', 'available');
    await os('server', 'create', '--image', 'kumo-test', '--flavor', 'vm.tiny', '--network', 'vol-net', '--user-data', writer, '--wait', 'w');
    await os('server', 'add', 'volume', 'w', 'data');
    assert.equal((await volumeIs('data', 'in-use')).attachments[0].device, '/dev/vdb');
    const written = await consoleHas('w', /KUMO-VOL-WRITTEN/);
    assert.match(written, new RegExp(`KUMO-VOL-SERIAL ${data.id.slice(0, 20)}`), 'the guest sees the volume id as the disk serial');
    // In use by w: another server cannot have it.
    await osFails(['--os-cloud', 'kumo', 'server', 'add', 'volume', 'bfv', 'data'], /Invalid volume|in-use/i);
    await os('server', 'remove', 'volume', 'w', 'data');
    await volumeIs('data', 'available');

    // A container reads what the VM wrote and adds its own note (the driver mounts the guest's ext2 as it is).
    await os('appcontainer', 'run', '--name', 'ctr', '--mount', 'source=data,destination=/v', ctrImage,
      'sh', '-c', 'cat /v/note && echo written-by-container > /v/note2');
    await waitFor('ctr ended', async () => {
      const c = await osJson('appcontainer', 'show', 'ctr');
      if (c.status === 'Error') throw new Error(`ctr went to Error: ${c.status_reason}`);
      return c.status === 'Stopped' && c;
    }, 60_000, 300);
    assert.equal((await os('appcontainer', 'logs', 'ctr')).trim(), 'written-by-vm');
    assert.equal((await volume('data')).status, 'in-use');
    await os('appcontainer', 'delete', 'ctr');
    await volumeIs('data', 'available');

    // Back in a VM: both notes are there.
    const reader = join(scratch, 'reader.sh');
    writeFileSync(reader, '#!/bin/sh\nuntil [ -e /sys/block/vdb ]; do sleep 1; done\nmknod /dev/vdb b $(tr : " " < /sys/block/vdb/dev) 2>/dev/null\n' +
      'mkdir -p /v && mount -t ext2 -o ro /dev/vdb /v && echo "KUMO-VOL-READ $(cat /v/note) $(cat /v/note2)"\n');
    await os('server', 'create', '--image', 'kumo-test', '--flavor', 'vm.tiny', '--network', 'vol-net', '--user-data', reader, '--wait', 'r');
    await os('server', 'add', 'volume', 'r', 'data');
    await consoleHas('r', /KUMO-VOL-READ written-by-vm written-by-container/);
    const attached = await osJson('server', 'volume', 'list', 'r').catch(() => null);
    if (attached) assert.ok(JSON.stringify(attached).includes(data.id));

    for (const s of ['bfv', 'w', 'r']) await os('server', 'delete', '--wait', s);
    await volumeIs('data', 'available');
    await volumeIs('from-image', 'available');
    await os('volume', 'delete', 'data', 'from-image');
    await waitFor('no volumes', async () => (await osJson('volume', 'list')).length === 0, 60_000, 500);
    assert.deepEqual(volumeFiles(), []);
    const loops = (await run('losetup', ['-a'], process.env)).stdout;
    assert.ok(!loops.includes(live.dir), `no loop device over this Kumo's files: ${loops}`);
  });

  test('kill -9 of Kumo while a container has a volume mounted: after the restart the container runs on with it, and its delete leaves no mount or loop device', async () => {
    await os('volume', 'create', '--size', '1', 'kv');
    const kv = await volumeIs('kv', 'available');
    const file = join(live.dir, 'volumes', 'volumes', `${kv.id}.raw`);
    await os('appcontainer', 'run', '--name', 'holder', '--mount', 'source=kv,destination=/d', ctrImage, 'sh', '-c', 'echo kept > /d/f; exec sleep 3600');
    await waitFor('holder Running', async () => (await osJson('appcontainer', 'show', 'holder')).status === 'Running', 60_000, 300);
    const loops = () => execFileSync('losetup', ['-j', file], { encoding: 'utf8' }).trim();
    assert.notEqual(loops(), '', 'a loop device over the volume while it is mounted');

    live.proc.kill('SIGKILL');
    await new Promise((r) => live.proc.once('exit', r));
    live = await restartKumo(live, KUMO_ARGS);
    assert.equal((await osJson('appcontainer', 'show', 'holder')).status, 'Running');
    assert.equal((await volume('kv')).status, 'in-use');
    assert.match(await os('appcontainer', 'exec', 'holder', 'cat', '/d/f'), /kept/, 'the mount is still there inside the container');

    await os('appcontainer', 'delete', '--force', 'holder');
    await waitFor('holder gone', async () => !(await osJson('appcontainer', 'list') as { name: string }[]).some((c) => c.name === 'holder'), 60_000, 300);
    await volumeIs('kv', 'available');
    assert.equal(loops(), '', 'no loop device left');
    const mountsDir = join(live.dir, 'volumes', 'mounts');
    assert.deepEqual(readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`${mountsDir}/`)), [], 'no volume mount left');
    await os('volume', 'delete', 'kv');
  });
});
