/**
 * The qemu-system-x86_64 command line of a VM, as a pure function of its spec and the host facts
 * (accelerator, TSC frequency) so it can be tested without QEMU. Block, net and device options
 * are given as JSON (QEMU >= 6.2 parses JSON for -blockdev, -netdev and -device), which needs no
 * comma escaping for paths and ids coming from users.
 * @module
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Accelerator, DiskSpec, MachineType, NicSpec, VmSpec } from '../types.js';

/** Where an instance's QEMU-side files are. */
export interface InstancePaths {
  readonly dir: string;
  readonly spec: string;
  readonly pidfile: string;
  readonly qmpSocket: string;
  readonly consoleSocket: string;
  readonly consoleLog: string;
  /** The guest's memory and device state while suspended (QEMU's migration stream). */
  readonly savedState: string;
  /** Where the sockets are, when not in `dir` (a long state dir; see SOCKET_PATH_MAX), else null. */
  readonly socketDir: string | null;
}

/** sockaddr_un holds 108 bytes with the terminating NUL. */
export const SOCKET_PATH_MAX = 107;
/** A short place for sockets whose path in the state dir would be too long; one subdirectory per state dir. */
export const SHORT_SOCKET_ROOT = '/run/kumo-vm';

export function instancePaths(stateDir: string, instanceId: string): InstancePaths {
  const dir = path.join(stateDir, instanceId);
  // The same state dir always maps to the same short dir, so a restarted Kumo finds the sockets again.
  const socketDir = path.join(dir, 'console.sock').length > SOCKET_PATH_MAX
    ? path.join(SHORT_SOCKET_ROOT, createHash('sha256').update(stateDir).digest('hex').slice(0, 12), instanceId)
    : null;
  const sockets = socketDir ?? dir;
  return {
    dir,
    socketDir,
    spec: path.join(dir, 'spec.json'),
    pidfile: path.join(dir, 'qemu.pid'),
    qmpSocket: path.join(sockets, 'qmp.sock'),
    consoleSocket: path.join(sockets, 'console.sock'),
    consoleLog: path.join(dir, 'console.log'),
    savedState: path.join(dir, 'memory.state'),
  };
}

export interface HostFacts {
  readonly accel: Accelerator;
  /** The host's TSC frequency in kHz; microvm under TCG needs it (see microvmAppend). */
  readonly tscKhz: number | null;
}

/**
 * Empty PCIe root ports a q35 VM gets beyond one per cold-plugged device that may be unplugged:
 * hot-plug needs a free port (devices on pcie.0 itself cannot be hot-plugged or unplugged), and
 * ports cannot be added while the VM runs. Few, because every port costs the guest's boot time:
 * SeaBIOS scans the bus behind each (~22 ms a port under TCG, bench/README.md).
 */
export const SPARE_ROOT_PORTS = 2;

/** The boot disk and the config drive are never unplugged: they sit on pcie.0 and need no root port. */
const staysPlugged = (disk: DiskSpec): boolean => disk.bootIndex === 0 || disk.name === CONFIG_DRIVE_DISK;

/** The process label: `ps`/comm shows it (QEMU truncates to 15 bytes), /proc/PID/cmdline carries the full instance id in -uuid. */
export function processLabel(owner: string, instanceId: string): string {
  return `kumo-vm-${owner}-${instanceId.slice(0, 8)}`;
}

export const diskNodeName = (disk: string) => `d-${disk}`;
export const diskFileNodeName = (disk: string) => `f-${disk}`;
export const diskDeviceId = (disk: string) => `disk-${disk}`;
export const nicNetdevId = (portId: string) => `net-${portId.slice(0, 11)}`;
export const nicDeviceId = (portId: string) => `nic-${portId.slice(0, 11)}`;
export const rootPortId = (index: number) => `rp${index}`;

/** The name a config drive gets among the disks; the guest sees serial "config-2". */
export const CONFIG_DRIVE_DISK = 'config-drive';

/** QEMU's key=value option syntax doubles commas inside values. */
export function escapeOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/** The disks QEMU gets: the spec's, then the config drive (read-only raw). */
export function allDisks(spec: VmSpec): DiskSpec[] {
  const disks = [...spec.disks];
  if (spec.configDrive) disks.push({ name: CONFIG_DRIVE_DISK, path: spec.configDrive, format: 'raw', readonly: true, serial: 'config-2' });
  return disks;
}

/**
 * microvm has no HPET, PM timer or kvmclock under TCG: without the PIT and the TSC frequency on
 * the kernel command line, TSC calibration intermittently fails and the boot hangs.
 */
export function microvmAppend(facts: HostFacts): string {
  return facts.accel === 'tcg' && facts.tscKhz ? `tsc_early_khz=${facts.tscKhz}` : '';
}

export function blockdevArgs(disk: DiskSpec): { file: Record<string, unknown>; format: Record<string, unknown> } {
  const readOnly = disk.readonly ?? false;
  return {
    file: { driver: 'file', filename: disk.path, 'node-name': diskFileNodeName(disk.name), 'read-only': readOnly, discard: 'unmap' },
    format: { driver: disk.format, file: diskFileNodeName(disk.name), 'node-name': diskNodeName(disk.name), 'read-only': readOnly, discard: 'unmap' },
  };
}

export function diskDevice(machine: MachineType, disk: DiskSpec, bus: string | null, withBootIndex: boolean): Record<string, unknown> {
  const device: Record<string, unknown> = {
    driver: machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci',
    drive: diskNodeName(disk.name),
    id: diskDeviceId(disk.name),
  };
  // virtio-blk carries at most 20 bytes of serial; a longer one is refused by QEMU.
  if (disk.serial) device.serial = disk.serial.slice(0, 20);
  // Without share-rw a second QEMU cannot take the image's write lock ("Failed to get "write" lock").
  if (disk.shareable) device['share-rw'] = true;
  if (bus) device.bus = bus;
  if (withBootIndex && disk.bootIndex !== undefined) device.bootindex = disk.bootIndex;
  return device;
}

export function netdevArgs(nic: NicSpec): Record<string, unknown> {
  // The cloud kernel lacks vhost-net and Kumo need not load it: the tap is served from QEMU's own thread.
  return { type: 'tap', id: nicNetdevId(nic.portId), ifname: nic.tapName, script: 'no', downscript: 'no', vhost: false };
}

export function nicDevice(machine: MachineType, nic: NicSpec, bus: string | null): Record<string, unknown> {
  const device: Record<string, unknown> = {
    driver: machine === 'microvm' ? 'virtio-net-device' : 'virtio-net-pci',
    netdev: nicNetdevId(nic.portId),
    id: nicDeviceId(nic.portId),
    mac: nic.macAddress,
  };
  if (nic.mtu) device.host_mtu = nic.mtu;
  if (bus) device.bus = bus;
  return device;
}

/** A shell word for `exec:` migration URIs, which QEMU runs with /bin/sh -c. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The full argv (argv[0] is the binary). `resumeFrom`: a saved state file to load instead of
 * booting (the VM continues where `suspend` stopped it).
 */
export function buildQemuArgv(
  spec: VmSpec, paths: InstancePaths, facts: HostFacts, options: { readonly owner: string; readonly binary?: string; readonly resumeFrom?: string },
): string[] {
  const machine = spec.machine ?? 'q35';
  if (machine === 'microvm' && !spec.kernel) throw new Error('a microvm needs direct kernel boot (kernel)');
  const json = (value: Record<string, unknown>) => JSON.stringify(value);
  const argv = [
    options.binary ?? 'qemu-system-x86_64',
    '-name', `guest=${escapeOptionValue(spec.name.replace(/[^\x20-\x7e]/g, '?') || spec.instanceId)},process=${processLabel(options.owner, spec.instanceId)}`,
    '-uuid', spec.instanceId,
    // Nothing QEMU would add by itself (a NIC on user networking, a VGA, a parallel port), no host config files.
    '-nodefaults', '-no-user-config', '-display', 'none',
    // Detached and in its own session, so neither a restart nor a kill -9 of Kumo stops the VM.
    '-daemonize', '-pidfile', paths.pidfile,
    // -no-shutdown is deliberately absent: a guest poweroff ends QEMU, which is how Kumo sees SHUTOFF.
    '-machine', machine === 'microvm' ? 'microvm,pit=on,acpi=on,rtc=on' : 'q35',
    '-accel', facts.accel,
    // TCG's 'max' offers x86-64-v2 and later features modern distributions require; KVM passes the host CPU through.
    '-cpu', facts.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(spec.vcpus),
    '-m', `${spec.memoryMb}M`,
    '-qmp', `unix:${escapeOptionValue(paths.qmpSocket)},server=on,wait=off`,
    // The serial port goes to a socket (the interactive console) and, even with no client connected, to the console log.
    '-chardev', `socket,id=serial0,path=${escapeOptionValue(paths.consoleSocket)},server=on,wait=off,logfile=${escapeOptionValue(paths.consoleLog)},logappend=on`,
    '-serial', 'chardev:serial0',
  ];
  if (spec.kernel) {
    argv.push('-kernel', spec.kernel);
    if (spec.initrd) argv.push('-initrd', spec.initrd);
    const append = [spec.cmdline ?? '', machine === 'microvm' ? microvmAppend(facts) : ''].filter(Boolean).join(' ');
    if (append) argv.push('-append', append);
  }
  const disks = allDisks(spec);
  const unpluggable = disks.filter((d) => !staysPlugged(d)).length + spec.nics.length;
  let port = 0;
  const nextBus = (): string | null => (machine === 'q35' ? rootPortId(port++) : null);
  if (machine === 'q35') {
    for (let i = 0; i < unpluggable + SPARE_ROOT_PORTS; i++) {
      argv.push('-device', json({ driver: 'pcie-root-port', id: rootPortId(i), bus: 'pcie.0', chassis: i + 1 }));
    }
  }
  for (const disk of disks) {
    const { file, format } = blockdevArgs(disk);
    argv.push('-blockdev', json(file), '-blockdev', json(format), '-device', json(diskDevice(machine, disk, staysPlugged(disk) ? null : nextBus(), !spec.kernel)));
  }
  for (const nic of spec.nics) {
    argv.push('-netdev', json(netdevArgs(nic)), '-device', json(nicDevice(machine, nic, nextBus())));
  }
  if (options.resumeFrom) argv.push('-incoming', `exec:cat ${shellQuote(options.resumeFrom)}`);
  return argv;
}
