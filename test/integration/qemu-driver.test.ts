/**
 * The QEMU hypervisor driver with real QEMU (root only; qemu-system-x86, qemu-utils and
 * linux-image-cloud-amd64 installed). The tests build the test VM image themselves, put the
 * VM's tap on a bridge of their own whose far side is a network namespace serving DHCP
 * (dnsmasq) and a metadata service (busybox httpd on 169.254.169.254), and prove from outside
 * what users see: the guest's console lines (NIC with the port's MAC, disk serials, a DHCP
 * address, the instance uuid fetched from the metadata service), pause, the interactive serial
 * console, disk hot-plug, ACPI power off, start again from the same disks, VMs surviving a
 * kill -9 of the process that started them and found again by a new driver, a killed QEMU
 * reported stopped, and destroy leaving nothing behind.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHypervisor } from '../../src/drivers/qemu/index.js';
import type { Hypervisor, HypervisorOptions, ObservedVm, VmSpec, VmState } from '../../src/drivers/qemu/types.js';
import { findBinary } from '../../src/lib/find-binary.js';
import { createSilentLogger } from '../../src/log.js';
import { eventually, isRoot, randomTag, sh } from '../support/netns.js';
import { buildTestVmImage, type TestVmImage } from '../support/vm-image.js';

const skip = !isRoot ? 'needs root (runs QEMU with a tap device)'
  : !findBinary('qemu-system-x86_64') ? 'qemu-system-x86_64 is not installed (Debian: qemu-system-x86)'
    : !findBinary('qemu-img') ? 'qemu-img is not installed (Debian: qemu-utils)'
      : !findBinary('dnsmasq') ? 'dnsmasq is not installed (Debian: dnsmasq-base)'
        : false;

const work = mkdtempSync(path.join(tmpdir(), 'kumo-qemu-it-'));
const tag = randomTag();
const owner = `it${tag}`;
const options: HypervisorOptions = { owner, stateDir: path.join(work, 'vms'), imageDir: path.join(work, 'images') };
const logger = createSilentLogger();
/** Boots under TCG take seconds and the host is shared: waits are generous, and no test asserts a time. */
const BOOT_MS = 120_000;

const net = { bridge: `kqb${tag}`, tap: `kqt${tag}`, tap2: `kqu${tag}`, veth: `kqv${tag}`, ns: `kt-${tag}`, prefix: `10.241.${1 + (parseInt(tag.slice(0, 2), 16) % 250)}` };
const helpers: ChildProcess[] = [];
let image: TestVmImage;
let hv: Hypervisor;
let vm: VmSpec;
const mac = 'fa:16:3e:12:34:56';
const portId = randomUUID();
const userData = `kumo-userdata-${tag}`;

function driver(o: HypervisorOptions = options): Hypervisor {
  return createHypervisor('qemu', o, logger);
}

async function consoleHas(h: Hypervisor, id: string, text: string | RegExp | ((log: string) => boolean), timeoutMs = BOOT_MS): Promise<string> {
  let log = '';
  const ok = await eventually(async () => {
    log = await h.consoleLog(id);
    return typeof text === 'string' ? log.includes(text) : typeof text === 'function' ? text(log) : text.test(log);
  }, timeoutMs);
  assert.ok(ok, `console of ${id} never showed ${String(text)}; it has:\n${log.slice(-3000)}`);
  return log;
}

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

async function waitState(h: Hypervisor, id: string, state: VmState, timeoutMs = 30_000): Promise<ObservedVm> {
  let last = null as ObservedVm | null;
  const ok = await eventually(async () => {
    last = await h.state(id);
    return last?.state === state;
  }, timeoutMs);
  assert.ok(ok, `VM ${id} did not reach ${state} (last: ${JSON.stringify(last && { state: last.state, pid: last.pid })})`);
  return last!;
}

/** Every process whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Sends `command` to the guest shell on the serial console and returns what came back until `until` appeared. */
async function serialExchange(h: Hypervisor, id: string, command: string, until: RegExp): Promise<string> {
  const serial = await h.openSerialConsole(id);
  let seen = '';
  try {
    const got = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serial console never showed ${until}; got:\n${seen}`)), 60_000);
      serial.onData((bytes) => {
        seen += Buffer.from(bytes).toString('utf8');
        if (until.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    serial.write(`\n${command}\n`);
    await got;
    return seen;
  } finally {
    serial.close();
  }
}

/** A bridge with the VM's tap and a veth into a namespace that serves DHCP and the metadata service. */
async function setUpNetwork(instanceId: string): Promise<void> {
  const www = path.join(work, 'www/openstack/latest');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, 'meta_data.json'), JSON.stringify({ uuid: instanceId, name: 'kumo-it' }));
  writeFileSync(path.join(www, 'user_data'), `${userData}\nsecond line\n`);
  const ip = (...args: string[]) => sh('ip', args);
  await ip('link', 'add', net.bridge, 'type', 'bridge');
  await ip('link', 'set', net.bridge, 'up');
  await ip('tuntap', 'add', net.tap, 'mode', 'tap');
  await ip('link', 'set', net.tap, 'master', net.bridge, 'up');
  await ip('tuntap', 'add', net.tap2, 'mode', 'tap');
  await ip('link', 'set', net.tap2, 'master', net.bridge, 'up');
  await ip('netns', 'add', net.ns);
  await ip('link', 'add', net.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', net.ns);
  await ip('link', 'set', net.veth, 'master', net.bridge, 'up');
  await ip('-n', net.ns, 'addr', 'add', `${net.prefix}.1/24`, 'dev', 'eth0');
  await ip('-n', net.ns, 'link', 'set', 'eth0', 'up');
  await ip('-n', net.ns, 'link', 'set', 'lo', 'up');
  await ip('-n', net.ns, 'addr', 'add', '169.254.169.254/32', 'dev', 'lo');
  helpers.push(spawn('ip', ['netns', 'exec', net.ns, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--port=0',
    '--interface=eth0', '--bind-interfaces', `--dhcp-range=${net.prefix}.50,${net.prefix}.150,255.255.255.0,1h`,
    `--dhcp-option=3,${net.prefix}.1`, `--dhcp-leasefile=${path.join(work, 'leases')}`, `--pid-file=${path.join(work, 'dnsmasq.pid')}`], { stdio: 'ignore' }));
  helpers.push(spawn('ip', ['netns', 'exec', net.ns, 'busybox', 'httpd', '-f', '-p', '169.254.169.254:80', '-h', path.join(work, 'www')], { stdio: 'ignore' }));
}

async function tearDownNetwork(): Promise<void> {
  for (const h of helpers) h.kill('SIGKILL');
  for (const link of [net.tap, net.tap2, net.veth, net.bridge]) await sh('ip', ['link', 'del', link]).catch(() => undefined);
  await sh('ip', ['netns', 'del', net.ns]).catch(() => undefined);
}

before(async () => {
  if (skip) return;
  image = buildTestVmImage();
  hv = driver();
});

after(async () => {
  if (!skip) {
    for (const o of [options]) {
      const h = driver(o);
      for (const v of await h.list().catch(() => [])) await h.destroy(v.instanceId).catch((err: unknown) => console.error(`cleanup ${v.instanceId}:`, err));
    }
    await tearDownNetwork();
  }
  rmSync(work, { recursive: true, force: true });
});

test('probe: an accelerator with its reason, QEMU version and host size; the verdict is cached for the next driver', { skip }, async () => {
  const info = await hv.probe();
  assert.ok(info.accel === 'kvm' || info.accel === 'tcg');
  assert.ok(info.accelReason.length > 0);
  if (!existsSync('/dev/kvm')) assert.equal(info.accel, 'tcg');
  else assert.ok(existsSync(path.join(options.stateDir, 'kvm-probe/verdict.json')));
  assert.match(info.qemuVersion, /^\d+\.\d+/);
  assert.ok(info.cpus >= 1 && info.memoryMb > 0);
  assert.deepEqual(await driver().probe(), info);
});

test('base image cache: a bad digest leaves nothing; a good one is stored once; overlays grow to the requested size', { skip }, async () => {
  const disk = readFileSync(image.disk);
  const sha256 = createHash('sha256').update(disk).digest('hex');
  const source = () => createReadStream(image.disk) as AsyncIterable<Uint8Array>;
  await assert.rejects(hv.ensureBaseImage('test-disk', 'qcow2', { hash: { algorithm: 'sha256', hex: '0'.repeat(64) } }, source), /digest does not match/);
  await assert.rejects(hv.ensureBaseImage('test-disk', 'qcow2', { sizeBytes: 1 }, source), /expected 1/);
  await assert.rejects(hv.ensureBaseImage('test-disk', 'qcow2', {}, async function* () { yield new TextEncoder().encode('not a qcow2 image'); }), /content is raw/);
  assert.deepEqual(readdirSync(options.imageDir), []);
  const [a, b] = await Promise.all([
    hv.ensureBaseImage('test-disk', 'qcow2', { sizeBytes: disk.length, hash: { algorithm: 'sha256', hex: sha256 } }, source),
    hv.ensureBaseImage('test-disk', 'qcow2', {}, () => { throw new Error('a second download must not start'); }),
  ]);
  assert.deepEqual(a, b);
  assert.equal(a.virtualSizeBytes, 64 * 1024 * 1024);
  assert.deepEqual(readdirSync(options.imageDir), ['test-disk.qcow2']);
});

test('spawn: the guest boots with its NIC (port MAC), disk serial, a DHCP address and the metadata service; labelled QEMU', { skip }, async () => {
  const instanceId = randomUUID();
  await setUpNetwork(instanceId);
  const base = await hv.ensureBaseImage('test-disk', 'qcow2', {}, () => { throw new Error('cached already'); });
  const root = await hv.createOverlay(instanceId, 'root', base, 1);
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', root], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.equal(info['virtual-size'], 1024 ** 3);
  assert.equal(info['backing-filename'], base.path);
  vm = {
    instanceId, name: 'kumo-it', vcpus: 1, memoryMb: 128, kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline,
    disks: [{ name: 'root', path: root, format: 'qcow2', serial: 'root-serial' }],
    nics: [{ portId, tapName: net.tap, macAddress: mac }],
  };
  const started = await hv.spawn(vm);
  assert.equal(started.state, 'running');
  assert.ok(started.pid);
  assert.equal(started.accel, (await hv.probe()).accel);
  assert.match(readFileSync(`/proc/${started.pid}/comm`, 'utf8'), /^kumo-vm-/);
  // Spawning a running VM again changes nothing.
  assert.equal((await hv.spawn(vm)).pid, started.pid);
  const log = await consoleHas(hv, instanceId, `KUMO-META uuid=${instanceId} source=metadata-service`);
  assert.match(log, /KUMO-GUEST-UP uptime=/);
  assert.match(log, new RegExp(`KUMO-NIC eth0 mac=${mac}`));
  assert.match(log, /KUMO-DISK vda serial=root-serial/);
  assert.match(log, new RegExp(`KUMO-IP eth0 ${net.prefix.replace(/\./g, '\\.')}\\.\\d+/24`));
  await consoleHas(hv, instanceId, `KUMO-USERDATA ${userData}`);
  assert.equal((await hv.consoleLog(instanceId, { tailBytes: 10 })).length, 10);
});

test('spawn errors: QEMU\'s message, no QEMU left, only spec.json in the instance directory', { skip }, async () => {
  const id = randomUUID();
  await assert.rejects(hv.spawn({ ...vm, instanceId: id, disks: [{ name: 'root', path: path.join(work, 'missing.qcow2'), format: 'qcow2' }], nics: [] }),
    /QEMU could not start .*missing\.qcow2/s);
  assert.deepEqual(processesMentioning(id), []);
  assert.deepEqual(readdirSync(path.join(options.stateDir, id)).filter((f) => !f.startsWith('console.')), ['spec.json']);
  assert.equal((await hv.state(id))?.state, 'stopped');
  await assert.rejects(hv.spawn({ ...vm, instanceId: id, vcpus: 0 }), /vcpus/);
  await hv.destroy(id);
  assert.equal(existsSync(path.join(options.stateDir, id)), false);
});

test('pause and unpause over QMP; the serial console is interactive', { skip }, async () => {
  await hv.pause(vm.instanceId);
  assert.equal((await hv.state(vm.instanceId))?.state, 'paused');
  await hv.unpause(vm.instanceId);
  assert.equal((await hv.state(vm.instanceId))?.state, 'running');
  const out = await serialExchange(hv, vm.instanceId, 'echo KUMO-ECHO-$((6*7))', /KUMO-ECHO-42/);
  assert.match(out, /KUMO-ECHO-42/);
});

test('NIC hot-plug: the guest gets a second NIC with the port\'s MAC, and loses it on detach; spec.json follows', { skip }, async () => {
  const port2 = randomUUID();
  const mac2 = 'fa:16:3e:65:43:21';
  await hv.attachNic(vm.instanceId, { portId: port2, tapName: net.tap2, macAddress: mac2 });
  assert.deepEqual((await hv.state(vm.instanceId))?.spec.nics.map((n) => n.portId), [portId, port2]);
  await serialExchange(hv, vm.instanceId, 'cat /sys/class/net/eth1/address; echo :KUMO-MAC2', new RegExp(`${mac2}\\r?\\n:KUMO-MAC2`));
  await assert.rejects(hv.attachNic(vm.instanceId, { portId: port2, tapName: net.tap2, macAddress: mac2 }), /given twice/);
  await hv.detachNic(vm.instanceId, port2);
  assert.deepEqual((await hv.state(vm.instanceId))?.spec.nics.map((n) => n.portId), [portId]);
  await serialExchange(hv, vm.instanceId, 'ls /sys/class/net | tr "\\n" " "; echo :KUMO-NICS', /\neth0 lo :KUMO-NICS/);
  await assert.rejects(hv.detachNic(vm.instanceId, port2), /has no NIC/);
});

test('disk hot-plug: the guest sees the disk with its serial, and loses it on detach; spec.json follows', { skip }, async () => {
  const volume = path.join(work, 'volume.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', volume, '16M']);
  await hv.attachDisk(vm.instanceId, { name: 'vol1', path: volume, format: 'qcow2', serial: 'vol-serial-1' });
  assert.deepEqual((await hv.state(vm.instanceId))?.spec.disks.map((d) => d.name), ['root', 'vol1']);
  await serialExchange(hv, vm.instanceId, 'for f in /sys/block/vd*/serial; do printf "%s " "$(cat $f)"; done; echo :KUMO-SERIALS', /root-serial vol-serial-1 :KUMO-SERIALS/);
  await assert.rejects(hv.attachDisk(vm.instanceId, { name: 'vol1', path: volume, format: 'qcow2' }), /used twice/);
  // An online extend of a raw volume, as the block driver does it: the file grows (no image lock
  // stands in the way of a truncate), QEMU is told, the guest sees 32 MiB (65536 sectors).
  const raw = path.join(work, 'volume.raw');
  writeFileSync(raw, '');
  truncateSync(raw, 16 * 1024 * 1024);
  await hv.attachDisk(vm.instanceId, { name: 'vol2', path: raw, format: 'raw', serial: 'vol-serial-2' });
  truncateSync(raw, 32 * 1024 * 1024);
  await hv.resizeDisk(vm.instanceId, 'vol2', 32 * 1024 * 1024);
  await serialExchange(hv, vm.instanceId, 'cat /sys/block/vdc/size; echo :KUMO-SIZE', /\n65536\s+:KUMO-SIZE/);
  await assert.rejects(hv.resizeDisk(vm.instanceId, 'nope', 1024), /has no disk nope/);
  await hv.detachDisk(vm.instanceId, 'vol2');
  await hv.detachDisk(vm.instanceId, 'vol1');
  assert.deepEqual((await hv.state(vm.instanceId))?.spec.disks.map((d) => d.name), ['root']);
  await serialExchange(hv, vm.instanceId, 'ls /sys/block | tr "\\n" " "; echo :KUMO-BLOCKS', /\nvda :KUMO-BLOCKS/);
  await assert.rejects(hv.detachDisk(vm.instanceId, 'vol1'), /has no disk vol1/);
  assert.ok(existsSync(volume), 'detach leaves the volume file');
});

test('ACPI power off (even when paused): the guest shuts down, QEMU exits, the VM is stopped with its disks; spawn starts it again from them', { skip }, async () => {
  await serialExchange(hv, vm.instanceId, 'echo kept > /dev/vda; sync; echo :KUMO-WROTE', /\n:KUMO-WROTE/);
  // Paused, the guest could not see the power button: powerOff lets it run first.
  await hv.pause(vm.instanceId);
  await hv.powerOff(vm.instanceId, { timeoutMs: 60_000 });
  const stopped = await hv.state(vm.instanceId);
  assert.equal(stopped?.state, 'stopped');
  assert.equal(stopped?.pid, null);
  assert.match(await hv.consoleLog(vm.instanceId), /KUMO-ACPI-POWEROFF/);
  assert.deepEqual(processesMentioning(vm.instanceId), []);
  assert.ok(existsSync(vm.disks[0].path));
  await hv.powerOff(vm.instanceId, { timeoutMs: 1000 });
  await assert.rejects(hv.pause(vm.instanceId), /is not running/);

  const again = await hv.spawn(stopped!.spec);
  assert.equal(again.state, 'running');
  const log = await consoleHas(hv, vm.instanceId, /KUMO-GUEST-UP[^]*KUMO-GUEST-UP/);
  assert.equal(count(log, 'KUMO-GUEST-UP'), 2, 'the console log keeps both boots');
  await serialExchange(hv, vm.instanceId, 'head -c 4 /dev/vda; echo :KUMO-READ', /kept:KUMO-READ/);
});

test('VMs (here a microvm with a NIC and a config drive) outlive a kill -9 of the process that started them; a new driver finds and controls them; another owner does not see them', { skip }, async () => {
  const id = randomUUID();
  const base = await hv.ensureBaseImage('test-disk', 'qcow2', {}, () => { throw new Error('cached already'); });
  const root = await hv.createOverlay(id, 'root', base, 0);
  // A config drive as Nova makes one: ISO 9660 labelled config-2 with openstack/latest/{meta_data.json,user_data}.
  const cdDir = path.join(work, 'config-drive/openstack/latest');
  mkdirSync(cdDir, { recursive: true });
  writeFileSync(path.join(cdDir, 'meta_data.json'), JSON.stringify({ uuid: id }));
  writeFileSync(path.join(cdDir, 'user_data'), 'from-the-config-drive\n');
  const iso = path.join(work, 'config.iso');
  execFileSync('genisoimage', ['-quiet', '-o', iso, '-V', 'config-2', '-J', '-R', path.join(work, 'config-drive')]);
  const spec: VmSpec = {
    ...vm, instanceId: id, machine: 'microvm', disks: [{ name: 'root', path: root, format: 'qcow2', serial: 'micro' }], configDrive: iso,
    // The hot-plug test has released the second tap: a microvm's virtio-mmio NIC on it.
    nics: [{ portId: randomUUID(), tapName: net.tap2, macAddress: 'fa:16:3e:00:aa:02' }],
  };
  const moduleUrl = new URL('../../src/drivers/qemu/index.js', import.meta.url).href;
  const logUrl = new URL('../../src/log.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { createHypervisor } = await import(${JSON.stringify(moduleUrl)});
    const { createSilentLogger } = await import(${JSON.stringify(logUrl)});
    const hv = createHypervisor('qemu', ${JSON.stringify(options)}, createSilentLogger());
    await hv.spawn(${JSON.stringify(spec)});
    console.log('spawned');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('spawned') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`the spawning process exited with ${code}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const fresh = driver();
  const found = await fresh.list();
  assert.deepEqual(found.map((v) => v.instanceId).sort(), [id, vm.instanceId].sort());
  assert.ok(found.every((v) => v.state === 'running' && v.pid !== null));
  await consoleHas(fresh, id, 'KUMO-DISK vda serial=micro');
  await consoleHas(fresh, id, `KUMO-META uuid=${id} source=config-drive`);
  await consoleHas(fresh, id, 'KUMO-USERDATA from-the-config-drive');
  await consoleHas(fresh, id, 'KUMO-NIC eth0 mac=fa:16:3e:00:aa:02');
  await consoleHas(fresh, id, new RegExp(`KUMO-IP eth0 ${net.prefix.replace(/\./g, '\\.')}\\.\\d+/24`));
  await fresh.pause(id);
  assert.equal((await fresh.state(id))?.state, 'paused');
  await fresh.unpause(id);
  assert.equal((await fresh.state(id))?.state, 'running');
  assert.deepEqual(await driver({ ...options, owner: `x${tag}` }).list(), []);

  // A QEMU that dies is reported stopped, its files kept.
  const pid = (await fresh.state(id))!.pid!;
  process.kill(pid, 'SIGKILL');
  await waitState(fresh, id, 'stopped');
  assert.ok(existsSync(root));
  await fresh.destroy(id);
  assert.equal(await fresh.state(id), null);
});

test('firmware boot: a self-contained bootable qcow2 image (SeaBIOS, syslinux) boots from its overlay without direct kernel boot', { skip }, async () => {
  const id = randomUUID();
  const base = await hv.ensureBaseImage('boot-disk', 'qcow2', { sizeBytes: readFileSync(image.bootDisk).length }, () => createReadStream(image.bootDisk));
  const root = await hv.createOverlay(id, 'root', base, 1);
  await hv.spawn({ instanceId: id, name: 'firmware-boot', vcpus: 1, memoryMb: 128, disks: [{ name: 'root', path: root, format: 'qcow2', serial: 'fw', bootIndex: 0 }], nics: [] });
  await consoleHas(hv, id, 'KUMO-DISK vda serial=fw');
  await hv.destroy(id);
  await hv.removeBaseImage('boot-disk');
  assert.equal(existsSync(root), false);
});

test('suspend saves the guest to a file and ends QEMU; resume continues the same boot', { skip }, async () => {
  const boots = count(await hv.consoleLog(vm.instanceId), 'KUMO-GUEST-UP');
  await serialExchange(hv, vm.instanceId, 'x=remembered-$((2*21)); echo :KUMO-SET', /\n:KUMO-SET/);
  await hv.suspend(vm.instanceId);
  const suspended = await hv.state(vm.instanceId);
  assert.equal(suspended?.state, 'suspended');
  assert.equal(suspended?.pid, null);
  assert.deepEqual(processesMentioning(vm.instanceId), []);
  await assert.rejects(hv.pause(vm.instanceId), /is not running/);
  const resumed = await hv.resume(vm.instanceId);
  assert.equal(resumed.state, 'running');
  assert.equal(existsSync(path.join(options.stateDir, vm.instanceId, 'memory.state')), false);
  await serialExchange(hv, vm.instanceId, 'echo $x:KUMO-GET', /remembered-42:KUMO-GET/);
  assert.equal(count(await hv.consoleLog(vm.instanceId), 'KUMO-GUEST-UP'), boots, 'no new boot');
  assert.equal((await hv.resume(vm.instanceId)).pid, resumed.pid, 'resuming a running VM changes nothing');
  await assert.rejects(hv.suspend(randomUUID()), /is not running/);
  await assert.rejects(hv.resume(randomUUID()), /no VM/);
});

test('soft reboot: ACPI power off and a fresh QEMU; hard reboot resets the guest in the same QEMU; destroy leaves no QEMU, no instance files and keeps the base image', { skip }, async () => {
  const log0 = await hv.consoleLog(vm.instanceId);
  const pid0 = (await hv.state(vm.instanceId))!.pid;
  const soft = await hv.reboot(vm.instanceId, 'soft', { timeoutMs: 60_000 });
  assert.equal(soft.state, 'running');
  assert.notEqual(soft.pid, pid0);
  const log1 = await consoleHas(hv, vm.instanceId, (log) => count(log, 'KUMO-GUEST-UP') > count(log0, 'KUMO-GUEST-UP'));
  assert.equal(count(log1, 'KUMO-ACPI-POWEROFF'), count(log0, 'KUMO-ACPI-POWEROFF') + 1);
  const hard = await hv.reboot(vm.instanceId, 'hard');
  assert.equal(hard.state, 'running');
  assert.equal(hard.pid, soft.pid);
  await consoleHas(hv, vm.instanceId, (log) => count(log, 'KUMO-GUEST-UP') > count(log1, 'KUMO-GUEST-UP'));
  const overlay = vm.disks[0].path;
  await hv.destroy(vm.instanceId);
  assert.deepEqual(processesMentioning(vm.instanceId), []);
  assert.equal(existsSync(overlay), false);
  assert.equal(existsSync(path.join(options.stateDir, vm.instanceId)), false);
  assert.equal(await hv.state(vm.instanceId), null);
  await hv.destroy(vm.instanceId);
  assert.deepEqual(readdirSync(options.imageDir), ['test-disk.qcow2']);
  await hv.removeBaseImage('test-disk');
  assert.deepEqual(readdirSync(options.imageDir), []);
});
