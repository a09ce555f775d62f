import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VmSpec } from '../types.js';
import { buildQemuArgv, diskDevice, escapeOptionValue, instancePaths, processLabel, shellQuote, SPARE_ROOT_PORTS } from './argv.js';

const ID = '3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab';
const PORT = '9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d';
const paths = instancePaths('/var/lib/kumo/vms', ID);

const spec: VmSpec = {
  instanceId: ID,
  name: 'web,1',
  vcpus: 2,
  memoryMb: 512,
  disks: [{ name: 'root', path: '/var/lib/kumo/vms/x/root.qcow2', format: 'qcow2', serial: 'a-very-long-volume-serial-number', bootIndex: 0 }],
  nics: [{ portId: PORT, tapName: 'tap9b1c2d3e4f5', macAddress: 'fa:16:3e:00:00:01', mtu: 1450 }],
};

/** The values following each occurrence of `flag`. */
const valuesOf = (argv: string[], flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]] : []));
const devices = (argv: string[]) => valuesOf(argv, '-device').map((d) => JSON.parse(d) as Record<string, unknown>);

test('argv: labelled, detached, QMP and serial sockets in the instance dir, no -no-shutdown and no -no-reboot', () => {
  const argv = buildQemuArgv(spec, paths, { accel: 'tcg', tscKhz: 2_600_000 }, { owner: 'ab12' });
  assert.equal(argv[0], 'qemu-system-x86_64');
  assert.deepEqual(valuesOf(argv, '-name'), [`guest=web,,1,process=kumo-vm-ab12-3f2a9c4e`]);
  assert.equal(processLabel('ab12', ID), 'kumo-vm-ab12-3f2a9c4e');
  assert.deepEqual(valuesOf(argv, '-uuid'), [ID]);
  for (const flag of ['-nodefaults', '-no-user-config', '-daemonize']) assert.ok(argv.includes(flag), flag);
  assert.ok(!argv.includes('-no-shutdown') && !argv.includes('-no-reboot'));
  assert.deepEqual(valuesOf(argv, '-pidfile'), ['/var/lib/kumo/vms/3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab/qemu.pid']);
  assert.deepEqual(valuesOf(argv, '-qmp'), [`unix:${paths.qmpSocket},server=on,wait=off`]);
  assert.deepEqual(valuesOf(argv, '-chardev'), [`socket,id=serial0,path=${paths.consoleSocket},server=on,wait=off,logfile=${paths.consoleLog},logappend=on`]);
  assert.deepEqual(valuesOf(argv, '-serial'), ['chardev:serial0']);
  assert.deepEqual(valuesOf(argv, '-machine'), ['q35']);
  assert.deepEqual(valuesOf(argv, '-accel'), ['tcg']);
  assert.deepEqual(valuesOf(argv, '-cpu'), ['max']);
  assert.deepEqual(valuesOf(argv, '-smp'), ['2']);
  assert.deepEqual(valuesOf(argv, '-m'), ['512M']);
  assert.ok(!argv.includes('-kernel') && !argv.includes('-append'));
});

test('argv: KVM gets the host CPU', () => {
  const argv = buildQemuArgv(spec, paths, { accel: 'kvm', tscKhz: null }, { owner: 'ab12' });
  assert.deepEqual(valuesOf(argv, '-accel'), ['kvm']);
  assert.deepEqual(valuesOf(argv, '-cpu'), ['host']);
});

test('argv q35: the boot disk and config drive on pcie.0, every other device on its own root port plus spare ports; disk serial cut to 20 bytes; tap without vhost; MAC and MTU', () => {
  const argv = buildQemuArgv({ ...spec, configDrive: '/data/cd.iso' }, paths, { accel: 'tcg', tscKhz: null }, { owner: 'ab12' });
  const devs = devices(argv);
  const ports = devs.filter((d) => d.driver === 'pcie-root-port');
  assert.equal(ports.length, 1 + SPARE_ROOT_PORTS, 'a port for the NIC and the spares');
  assert.deepEqual(ports.map((p) => p.chassis), ports.map((_, i) => i + 1));
  const blockdevs = valuesOf(argv, '-blockdev').map((b) => JSON.parse(b) as Record<string, unknown>);
  assert.deepEqual(blockdevs[0], { driver: 'file', filename: '/var/lib/kumo/vms/x/root.qcow2', 'node-name': 'f-root', 'read-only': false, discard: 'unmap' });
  assert.deepEqual(blockdevs[1], { driver: 'qcow2', file: 'f-root', 'node-name': 'd-root', 'read-only': false, discard: 'unmap' });
  assert.deepEqual(blockdevs[3], { driver: 'raw', file: 'f-config-drive', 'node-name': 'd-config-drive', 'read-only': true, discard: 'unmap' });
  const disk = devs.find((d) => d.id === 'disk-root');
  assert.deepEqual(disk, { driver: 'virtio-blk-pci', drive: 'd-root', id: 'disk-root', serial: 'a-very-long-volume-s', bootindex: 0 });
  assert.equal(devs.find((d) => d.id === 'disk-config-drive')?.serial, 'config-2');
  assert.equal(devs.find((d) => d.id === 'disk-config-drive')?.bus, undefined);
  assert.deepEqual(JSON.parse(valuesOf(argv, '-netdev')[0]), { type: 'tap', id: 'net-9b1c2d3e-4f', ifname: 'tap9b1c2d3e4f5', script: 'no', downscript: 'no', vhost: false });
  assert.deepEqual(devs.find((d) => d.driver === 'virtio-net-pci'), {
    driver: 'virtio-net-pci', netdev: 'net-9b1c2d3e-4f', id: 'nic-9b1c2d3e-4f', mac: 'fa:16:3e:00:00:01', host_mtu: 1450, bus: 'rp0',
  });
});

test('argv: direct kernel boot drops boot indexes; microvm uses virtio-mmio devices, no root ports, and the TSC frequency under TCG only', () => {
  const direct = { ...spec, kernel: '/img/vmlinuz', initrd: '/img/initrd', cmdline: 'console=ttyS0' };
  const q35 = buildQemuArgv(direct, paths, { accel: 'tcg', tscKhz: 2_600_000 }, { owner: 'ab12' });
  assert.deepEqual([valuesOf(q35, '-kernel'), valuesOf(q35, '-initrd'), valuesOf(q35, '-append')], [['/img/vmlinuz'], ['/img/initrd'], ['console=ttyS0']]);
  assert.equal(devices(q35).find((d) => d.id === 'disk-root')?.bootindex, undefined);
  const micro = buildQemuArgv({ ...direct, machine: 'microvm' }, paths, { accel: 'tcg', tscKhz: 2_600_000 }, { owner: 'ab12' });
  assert.deepEqual(valuesOf(micro, '-machine'), ['microvm,pit=on,acpi=on,rtc=on']);
  assert.deepEqual(valuesOf(micro, '-append'), ['console=ttyS0 tsc_early_khz=2600000']);
  assert.deepEqual(devices(micro).map((d) => [d.driver, d.bus]), [['virtio-blk-device', undefined], ['virtio-net-device', undefined]]);
  const microKvm = buildQemuArgv({ ...direct, machine: 'microvm' }, paths, { accel: 'kvm', tscKhz: 2_600_000 }, { owner: 'ab12' });
  assert.deepEqual(valuesOf(microKvm, '-append'), ['console=ttyS0']);
  assert.throws(() => buildQemuArgv({ ...spec, machine: 'microvm' }, paths, { accel: 'tcg', tscKhz: null }, { owner: 'ab12' }), /direct kernel boot/);
});

test('argv: resuming loads the saved state through a quoted exec: URI', () => {
  assert.equal(shellQuote("/a b/it's"), `'/a b/it'\\''s'`);
  const argv = buildQemuArgv(spec, paths, { accel: 'tcg', tscKhz: null }, { owner: 'ab12', resumeFrom: paths.savedState });
  assert.deepEqual(valuesOf(argv, '-incoming'), [`exec:cat '${paths.savedState}'`]);
  assert.ok(!buildQemuArgv(spec, paths, { accel: 'tcg', tscKhz: null }, { owner: 'ab12' }).includes('-incoming'));
});

test('argv: commas in option values are doubled', () => {
  assert.equal(escapeOptionValue('/a,b/c'), '/a,,b/c');
  const odd = instancePaths('/srv/a,b', ID);
  const argv = buildQemuArgv(spec, odd, { accel: 'tcg', tscKhz: null }, { owner: 'ab12' });
  assert.deepEqual(valuesOf(argv, '-qmp'), [`unix:/srv/a,,b/${ID}/qmp.sock,server=on,wait=off`]);
});

test('instancePaths: sockets move to a short per-state-dir place when the state dir is too deep for sockaddr_un', () => {
  const id = '7e457fb4-1a41-4a11-ba38-02da6f8e769c';
  const short = instancePaths('/var/lib/kumo/vms', id);
  assert.equal(short.socketDir, null);
  assert.equal(short.qmpSocket, `/var/lib/kumo/vms/${id}/qmp.sock`);
  const deep = `/tmp/${'x'.repeat(60)}/vms`;
  const long = instancePaths(deep, id);
  assert.ok(long.socketDir?.startsWith('/run/kumo-vm/'));
  assert.ok(long.qmpSocket.length <= 107 && long.consoleSocket.length <= 107);
  assert.equal(instancePaths(deep, id).qmpSocket, long.qmpSocket, 'the same every time, so a restart finds them');
  assert.notEqual(instancePaths(`${deep}2`, id).qmpSocket, long.qmpSocket, 'another state dir, other sockets');
  assert.equal(long.dir, `${deep}/${id}`);
});

test('diskDevice: a shareable disk (a multiattach volume) is opened with share-rw; others are not', () => {
  const disk = { name: 'vshared', path: '/v/x.raw', format: 'raw' as const, serial: 'x' };
  assert.equal(diskDevice('q35', { ...disk, shareable: true }, 'rp1', false)['share-rw'], true);
  assert.equal(diskDevice('q35', disk, 'rp1', false)['share-rw'], undefined);
});
