/**
 * `kumo doctor`: which host capabilities the drivers need are present, and how to get the rest.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseAccelerator, parseQemuVersion } from '../drivers/qemu/linux/probe.js';
import { findBinary } from '../lib/find-binary.js';

export { findBinary };

export interface Capability {
  name: string;
  present: boolean;
  detail: string;
  /** Debian package that provides it. */
  aptPackage?: string;
}

function binary(name: string, label: string, aptPackage: string, versionArgs: string[] = ['--version']): Capability {
  const path = findBinary(name);
  if (!path) return { name: label, present: false, detail: `${name} not found`, aptPackage };
  const out = spawnSync(path, versionArgs, { encoding: 'utf8', timeout: 5000 });
  const firstLine = `${out.stdout ?? ''}${out.stderr ?? ''}`.split('\n').find((l) => l.trim()) ?? '';
  return { name: label, present: true, detail: `${path} ${firstLine.trim()}`.trim(), aptPackage };
}

function kvm(): Capability {
  if (!existsSync('/dev/kvm')) return { name: 'kvm', present: false, detail: '/dev/kvm does not exist; VMs will use TCG (software emulation)' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { name: 'kvm', present: false, detail: '/dev/kvm exists but is not readable and writable by this user; VMs will use TCG' };
  }
  return {
    name: 'kvm',
    present: true,
    detail: '/dev/kvm is accessible; whether it can boot a guest (nested KVM may hang) is what the vm accelerator probe below says',
  };
}

/**
 * The hypervisor's own verdict: boots the KVM probe guest (a few seconds at most) in a scratch
 * directory, as the compute service does at start, and says whether VMs get KVM or TCG and why.
 */
export async function checkAccelerator(): Promise<Capability> {
  const qemu = findBinary('qemu-system-x86_64');
  if (!qemu) return { name: 'vm accelerator', present: false, detail: 'no QEMU to probe with', aptPackage: 'qemu-system-x86' };
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-doctor-'));
  try {
    const version = spawnSync(qemu, ['--version'], { encoding: 'utf8', timeout: 5000 });
    const verdict = await chooseAccelerator({ stateDir: scratch, qemuBinary: qemu, qemuVersion: parseQemuVersion(version.stdout ?? ''), timeoutMs: 8000 });
    return { name: 'vm accelerator', present: true, detail: `${verdict.accel} (${verdict.reason})` };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function checkCapabilities(): Capability[] {
  return [
    binary('runc', 'runc (containers)', 'runc'),
    binary('conmon', 'conmon (container monitor)', 'conmon'),
    binary('crun', 'crun (faster container runtime, --container-runtime crun)', 'crun'),
    binary('qemu-system-x86_64', 'qemu (virtual machines)', 'qemu-system-x86'),
    kvm(),
    binary('nft', 'nftables (security groups, NAT)', 'nftables'),
    binary('dnsmasq', 'dnsmasq (DHCP and DNS)', 'dnsmasq-base'),
    binary('haproxy', 'haproxy (metadata proxy in DHCP namespaces)', 'haproxy', ['-v']),
    binary('ip', 'iproute2 (bridges, veth, netns)', 'iproute2', ['-V']),
    binary('qemu-img', 'qemu-img (volumes, images)', 'qemu-utils'),
    binary('losetup', 'losetup (volumes mounted into containers)', 'mount'),
    binary('blkid', 'blkid (whether a volume has a filesystem)', 'util-linux', ['-V']),
    binary('mkfs.ext4', 'mkfs.ext4 (a new volume\'s filesystem for containers)', 'e2fsprogs', ['-V']),
  ];
}

export function formatDoctorReport(caps: Capability[]): string {
  const lines = caps.map((c) => `${c.present ? 'ok     ' : 'missing'}  ${c.name}: ${c.detail}`);
  const missing = [...new Set(caps.filter((c) => !c.present && c.aptPackage).map((c) => c.aptPackage!))];
  if (missing.length) lines.push('', 'To install what is missing:', `  apt-get update && apt-get install -y ${missing.join(' ')}`);
  else lines.push('', 'Everything the drivers need is present.');
  return `${lines.join('\n')}\n`;
}
