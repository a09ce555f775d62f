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
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { kumoUpForCli, openstackCli, restartKumo, run, tearDown } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';
import { endpointNamespace, isRoot, randomTag, sh } from '../support/netns.js';
import { pushBusyboxImage, startRegistry } from '../support/registry.js';
import type { Registry } from '../support/registry.js';
import { buildTestVmImage } from '../support/vm-image.js';
import type { TestVmImage } from '../support/vm-image.js';
import { serverWaits } from '../support/server-waits.js';
import { waitFor } from '../support/wait.js';

const haveQemu = existsSync('/usr/bin/qemu-system-x86_64');
const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('virtual machines through kumo up and `openstack server`', { skip: !isRoot ? 'needs root' : !haveQemu ? 'needs qemu-system-x86 (scripts/test.sh installs it)' : false }, () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  let vm: TestVmImage;
  let registry: Registry;
  let ctrImage: string;
  // "The outside": a bridge of this test's with a namespace holding the external gateway address.
  const tag = randomTag();
  const outsideBridge = `kvo${tag}`;
  const kumoArgs = ['--agent', 'on', '--host', hostname(), '--accel', 'tcg', '--physical-bridges', `public:${outsideBridge}`, '--log-level', 'info'];
  let outside: { name: string; remove(): Promise<void> } | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-vm-e2e-'));
  const { os, osJson, osFails } = openstackCli(() => env);
  const statusOf = async (name: string) => (await osJson('server', 'show', name)) as Record<string, any>;
  const { serverIs: until, consoleHas } = serverWaits(os, osJson);

  before(async () => {
    vm = buildTestVmImage();
    registry = await startRegistry();
    ctrImage = await pushBusyboxImage(registry, scratch);
    await sh('ip', ['link', 'add', outsideBridge, 'type', 'bridge']);
    await sh('ip', ['link', 'set', outsideBridge, 'up']);
    outside = await endpointNamespace(`v${tag}`);
    await sh('ip', ['link', 'add', `kvp${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name]);
    await sh('ip', ['link', 'set', `kvp${tag}`, 'master', outsideBridge, 'up']);
    await sh('ip', ['-n', outside.name, 'addr', 'add', '198.19.0.1/24', 'dev', 'eth0']);
    await sh('ip', ['-n', outside.name, 'link', 'set', 'eth0', 'up']);
    ({ live, env } = await kumoUpForCli(kumoArgs));
  });

  after(async () => {
    if (live) await tearDown(live);
    await registry?.stop();
    await outside?.remove();
    await sh('ip', ['link', 'del', outsideBridge]).catch(() => undefined);
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

    // The host is a placement resource provider with the VM's usage (osc-placement).
    const providers = await osJson('resource', 'provider', 'list') as { uuid: string; name: string }[];
    assert.deepEqual(providers.map((p) => p.name), [hostname()]);
    const inventory = await osJson('resource', 'provider', 'inventory', 'list', providers[0].uuid) as { resource_class: string; total: number }[];
    assert.deepEqual(inventory.map((i) => i.resource_class).sort(), ['DISK_GB', 'MEMORY_MB', 'VCPU']);
    const usage = await osJson('resource', 'provider', 'usage', 'show', providers[0].uuid) as { resource_class: string; usage: number }[];
    assert.equal(usage.find((u) => u.resource_class === 'MEMORY_MB')?.usage, 128);

    // kill -9 of Kumo: the VM runs on; Kumo restarted on the same data dir finds it and drives it.
    const pidFile = join(live.dir, 'vms', s.id, 'qemu.pid');
    const qemuPid = Number(readFileSync(pidFile, 'utf8').trim());
    live.proc.kill('SIGKILL');
    await new Promise((r) => live.proc.once('exit', r));
    assert.ok(processAlive(qemuPid), 'QEMU outlives Kumo');
    live = await restartKumo(live, kumoArgs);
    assert.equal((await statusOf('vm1')).status, 'ACTIVE');
    assert.equal(Number(readFileSync(pidFile, 'utf8').trim()), qemuPid, 'the same QEMU');
    // QEMU killed behind Kumo's back: the server is SHUTOFF, and starts again from its disk.
    process.kill(qemuPid, 'SIGKILL');
    await until('vm1', 'SHUTOFF');
    await os('server', 'start', 'vm1');
    await until('vm1', 'ACTIVE');

    await os('server', 'delete', '--wait', 'vm1');
    assert.deepEqual(await osJson('server', 'list'), []);
    const vmsDir = join(live.dir, 'vms');
    assert.deepEqual(existsSync(vmsDir) ? readdirSync(vmsDir).filter((f) => !f.startsWith('.') && !f.endsWith('.json')) : [], [], 'no instance directory left');
    assert.deepEqual((await osJson('port', 'list', '--device-owner', 'compute:nova')), [], 'no port left');
  });

  test('config drive, snapshot and boot from it, resize with confirm, rebuild', async () => {
    await os('server', 'create', '--image', 'kumo-test', '--flavor', 'vm.tiny', '--network', 'vm-net', '--config-drive', 'True', '--user-data', join(scratch, 'user-data'), '--wait', 'cd1');
    const cd1 = await statusOf('cd1');
    const log = await consoleHas('cd1', /source=config-drive/);
    assert.match(log, new RegExp(`KUMO-META uuid=${cd1.id} source=config-drive`));

    await os('server', 'image', 'create', '--name', 'cd1-snap', '--wait', 'cd1');
    const snap = await osJson('image', 'show', 'cd1-snap');
    assert.equal(snap.status, 'active');
    assert.equal(snap.disk_format, 'qcow2');
    await os('server', 'create', '--image', 'cd1-snap', '--flavor', 'vm.tiny', '--network', 'vm-net', '--wait', 'from-snap');
    await consoleHas('from-snap', /KUMO-GUEST-UP/);

    await os('flavor', 'create', '--vcpus', '1', '--ram', '192', '--disk', '2', 'vm.small');
    await os('server', 'resize', '--flavor', 'vm.small', '--wait', 'from-snap');
    assert.equal((await statusOf('from-snap')).status, 'VERIFY_RESIZE');
    await os('server', 'resize', 'confirm', 'from-snap');
    const resized = await until('from-snap', 'ACTIVE');
    assert.match(JSON.stringify(resized.flavor), /vm\.small/);

    await os('server', 'rebuild', '--image', 'kumo-test', '--wait', 'from-snap');
    assert.equal((await statusOf('from-snap')).status, 'ACTIVE');
    for (const name of ['cd1', 'from-snap']) await os('server', 'delete', '--wait', name);
    await os('image', 'delete', 'cd1-snap');
  });

  test('a VM and a container reach each other; a floating IP reaches the VM; a security group blocks a port; the serial console answers', async () => {
    const script = join(scratch, 'web.sh');
    writeFileSync(script, '#!/bin/sh\nmkdir -p /www && echo kumo-vm-web > /www/index.html\nhttpd -p 8080 -h /www\nhttpd -p 8081 -h /www\necho KUMO-WEB-UP\n');
    await os('server', 'create', '--image', 'kumo-test', '--flavor', 'vm.tiny', '--network', 'vm-net', '--user-data', script, '--wait', 'web');
    await consoleHas('web', /KUMO-WEB-UP/);
    const web = await statusOf('web');
    const vmIp = /10\.77\.0\.\d+/.exec(JSON.stringify(web.addresses))![0];

    // A container on the same network (the project's default group lets members in) fetches the VM's page.
    await os('appcontainer', 'run', '--name', 'peer', '--workdir', '/etc', '--net', 'network=vm-net', ctrImage, 'httpd', '-f', '-p', '8080');
    const peer = await waitFor('peer Running', async () => {
      const c = await osJson('appcontainer', 'show', 'peer');
      return c.status === 'Running' && c;
    }, 90_000, 500);
    const ctrIp = /10\.77\.0\.\d+/.exec(JSON.stringify(peer.addresses))![0];
    const page = await waitFor('container → VM', async () => {
      const r = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'peer', 'wget', '-O', '-', `http://${vmIp}:8080/`], env);
      return r.code === 0 && r.stdout;
    }, 60_000, 1000);
    assert.match(page, /kumo-vm-web/);

    // The VM fetches the container's page, typed into the guest's shell over the serial console websocket.
    const url = (await osJson('console', 'url', 'show', '--serial', 'web')).url as string;
    assert.match(url, /^ws:\/\/.*\/compute\/serial-console\?token=/);
    const socket = new WebSocket(url);
    let seen = '';
    socket.on('message', (data: Buffer) => {
      seen += data.toString('utf8');
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const fromVm = await waitFor('VM → container over the serial console', async () => {
      socket.send(`wget -O - http://${ctrIp}:8080/hostname && echo KUMO-FETCHED\n`);
      await new Promise((r) => setTimeout(r, 1500));
      return /KUMO-FETCHED/.test(seen.replace(/echo KUMO-FETCHED/g, '')) && seen;
    }, 60_000, 100);
    socket.close();
    assert.ok(fromVm.includes('KUMO-FETCHED'));

    // From the outside, through a floating IP: only once a group lets TCP 8080 in, and 8081 stays shut.
    await os('network', 'create', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public', 'vm-public');
    await os('subnet', 'create', '--network', 'vm-public', '--subnet-range', '198.19.0.0/24', '--gateway', '198.19.0.1', '--allocation-pool', 'start=198.19.0.10,end=198.19.0.99', '--no-dhcp', 'vm-public-sub');
    await os('router', 'create', 'vm-router');
    await os('router', 'set', '--external-gateway', 'vm-public', 'vm-router');
    await os('router', 'add', 'subnet', 'vm-router', 'vm-sub');
    const fip = await osJson('floating', 'ip', 'create', 'vm-public');
    await os('server', 'add', 'floating', 'ip', 'web', fip.floating_ip_address);
    const outsideFetch = (port: number) => run('ip', ['netns', 'exec', outside!.name, 'sh', '-c', `echo | busybox nc -w 3 ${fip.floating_ip_address} ${port} && echo connected`], env);
    assert.doesNotMatch((await outsideFetch(8080)).stdout, /connected/, 'the default group keeps the outside out');
    await os('security', 'group', 'create', 'web8080');
    await os('security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'web8080');
    await os('server', 'add', 'security', 'group', 'web', 'web8080');
    const fromOutside = await waitFor('the VM through its floating IP', async () => {
      const r = await run('ip', ['netns', 'exec', outside!.name, 'busybox', 'wget', '-O', '-', `http://${fip.floating_ip_address}:8080/`], env);
      return r.code === 0 && r.stdout;
    }, 60_000, 1000);
    assert.match(fromOutside, /kumo-vm-web/);
    assert.doesNotMatch((await outsideFetch(8081)).stdout, /connected/, 'TCP 8081 is blocked');
    assert.match(JSON.stringify((await statusOf('web')).addresses), new RegExp(fip.floating_ip_address.replace(/\./g, '\\.')));

    await os('server', 'remove', 'floating', 'ip', 'web', fip.floating_ip_address);
    await os('floating', 'ip', 'delete', fip.id);
    await os('router', 'remove', 'subnet', 'vm-router', 'vm-sub');
    await os('router', 'delete', 'vm-router');
    await os('appcontainer', 'delete', '--force', 'peer');
    await os('server', 'delete', '--wait', 'web');
  });
});
