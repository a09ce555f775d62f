/**
 * Virtual machines end to end on this host (root): `kumo up` with its agent, the test VM image the
 * suite builds (Debian cloud kernel + busybox initramfs, no downloads), and the real `openstack`
 * CLI. What is proven is what a user sees: an image uploaded to Glance boots as a server on a
 * tenant network, the guest reads its uuid and user data from the metadata service (through the
 * DHCP namespace's proxy) and prints them on the console `console log show` returns, and
 * stop/start/reboot/delete do what they say and leave nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kumoUp, openstackCli, purgeHostObjects, stop } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';
import { isRoot } from '../support/netns.js';
import { buildTestVmImage } from '../support/vm-image.js';
import type { TestVmImage } from '../support/vm-image.js';
import { waitFor } from '../support/wait.js';

const haveQemu = existsSync('/usr/bin/qemu-system-x86_64');

describe('virtual machines through kumo up and `openstack server`', { skip: !isRoot ? 'needs root' : !haveQemu ? 'needs qemu-system-x86 (scripts/test.sh installs it)' : false }, () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  let vm: TestVmImage;
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-vm-e2e-'));
  const { os, osJson, osFails } = openstackCli(() => env);
  const statusOf = async (name: string) => (await osJson('server', 'show', name)) as Record<string, any>;
  const until = (name: string, status: string) => waitFor(`${name} ${status}`, async () => {
    const s = await statusOf(name);
    if (s.status === 'ERROR' && status !== 'ERROR') throw new Error(`${name} went to ERROR: ${JSON.stringify(s.fault)}`);
    return s.status === status && s;
  }, 180_000, 1000);
  const consoleHas = (name: string, pattern: RegExp) => waitFor(`${name} console ${pattern}`, async () => {
    const log = await os('console', 'log', 'show', name);
    return pattern.test(log) && log;
  }, 180_000, 1000);

  before(async () => {
    vm = buildTestVmImage();
    live = await kumoUp(['--agent', 'on', '--host', hostname(), '--accel', 'tcg', '--log-level', 'info']);
    env = { ...process.env, OS_CLIENT_CONFIG_FILE: join(live.dir, 'clouds.yaml') };
    for (const k of Object.keys(env)) if (k.startsWith('OS_') && k !== 'OS_CLIENT_CONFIG_FILE') delete env[k];
  });

  after(async () => {
    if (live) {
      await stop(live);
      await purgeHostObjects(live.dir);
      rmSync(live.dir, { recursive: true, force: true });
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  test('image, flavor, keypair, server create --wait, metadata and user data on the console, actions, delete', async () => {
    // The bootable disk: firmware → syslinux → the test kernel and initramfs.
    await os('image', 'create', '--file', vm.bootDisk, '--disk-format', 'qcow2', '--container-format', 'bare', '--public', 'kumo-test');
    assert.equal((await osJson('image', 'show', 'kumo-test')).status, 'active');
    await os('flavor', 'create', '--vcpus', '1', '--ram', '128', '--disk', '1', 'vm.tiny');
    const pub = join(scratch, 'key.pub');
    writeFileSync(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmyIDhpUzt5E1kJHlwYPYRJ8Wp0d6s5fZ5xLw7XoRpk e2e@kumo\n');
    await os('keypair', 'create', '--public-key', pub, 'k1');
    await os('network', 'create', 'vm-net');
    await os('subnet', 'create', '--network', 'vm-net', '--subnet-range', '10.77.0.0/24', 'vm-sub');
    const userData = join(scratch, 'user-data');
    writeFileSync(userData, 'kumo-user-data-marker\nsecond line\n');

    await os('server', 'create', '--image', 'kumo-test', '--flavor', 'vm.tiny', '--network', 'vm-net', '--key-name', 'k1', '--user-data', userData, '--wait', 'vm1');
    const s = await statusOf('vm1');
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s.key_name, 'k1');
    assert.match(JSON.stringify(s.addresses), /10\.77\.0\./);
    const log = await consoleHas('vm1', /KUMO-USERDATA/);
    assert.match(log, new RegExp(`KUMO-META uuid=${s.id} source=metadata-service`));
    assert.match(log, /KUMO-USERDATA kumo-user-data-marker/);
    assert.match(log, /KUMO-NIC eth0 mac=fa:16:3e:/);

    const servers = await osJson('server', 'list') as { Name: string; Status: string }[];
    assert.deepEqual(servers.map((x) => [x.Name, x.Status]), [['vm1', 'ACTIVE']]);

    await os('server', 'stop', 'vm1');
    await until('vm1', 'SHUTOFF');
    assert.match(await os('console', 'log', 'show', 'vm1'), /KUMO-ACPI-POWEROFF/, 'stop pressed the power button');
    await os('server', 'start', 'vm1');
    await until('vm1', 'ACTIVE');
    await os('server', 'reboot', '--hard', 'vm1');
    await until('vm1', 'ACTIVE');

    const events = (await osJson('server', 'event', 'list', 'vm1') as { Action: string }[]).map((e) => e.Action);
    for (const a of ['create', 'stop', 'start', 'reboot']) assert.ok(events.includes(a), `${a} in ${events.join(',')}`);

    const limits = await osJson('limits', 'show', '--absolute') as { Name: string; Value: number }[];
    assert.equal(limits.find((l) => l.Name === 'totalInstancesUsed')?.Value, 1);

    await osFails(['--os-cloud', 'kumo', 'server', 'create', '--image', 'kumo-test', '--flavor', 'nope', '--network', 'vm-net', 'bad'], /No flavor with a name or ID of 'nope' exists/);

    await os('server', 'delete', '--wait', 'vm1');
    assert.deepEqual(await osJson('server', 'list'), []);
    const vmsDir = join(live.dir, 'vms');
    assert.deepEqual(existsSync(vmsDir) ? readdirSync(vmsDir).filter((f) => !f.startsWith('.') && !f.endsWith('.json')) : [], [], 'no instance directory left');
    assert.deepEqual((await osJson('port', 'list', '--device-owner', 'compute:nova')), [], 'no port left');
  });
});
