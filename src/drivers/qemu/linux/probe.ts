/**
 * Which accelerator VMs get. /dev/kvm existing is not enough: under nested virtualisation it
 * can open, create VMs and then hang the guest at boot. So KVM is trusted only after a tiny
 * guest (the host's cloud kernel with a busybox initramfs whose /init prints a marker and
 * powers off) booted under it within a time limit; otherwise TCG. The verdict is cached in the
 * state dir per QEMU version, host kernel and guest kernel, so it is probed once per upgrade.
 * @module
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../../../lib/find-binary.js';
import type { Accelerator } from '../types.js';
import { busyboxInitramfs, findGuestKernel } from './initramfs.js';

export const PROBE_MARKER = 'KUMO-KVM-PROBE-UP';

export interface AccelVerdict {
  readonly accel: Accelerator;
  readonly reason: string;
}

/** The host's TSC frequency (kHz) as /proc/cpuinfo states it, or null. */
export function hostTscKhz(cpuinfo: string): number | null {
  const mhz = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo);
  return mhz ? Math.round(Number(mhz[1]) * 1000) : null;
}

/** The QEMU version from `qemu-system-x86_64 --version` output ("QEMU emulator version 7.2.22 (...)"). */
export function parseQemuVersion(output: string): string {
  return /version\s+([0-9][^\s]*)/.exec(output)?.[1] ?? 'unknown';
}

/** The probe guest's command line: no disks, no NICs, serial on stdio, exits on poweroff and on reset. */
export function buildKvmProbeArgv(binary: string, kernel: string, initrd: string): string[] {
  return [
    binary, '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host', '-smp', '1', '-m', '128M',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-monitor', 'none',
    '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1',
  ];
}

/** Boots the probe guest under KVM; true when its marker appeared within `timeoutMs`. The QEMU is killed either way. */
export function bootsUnderKvm(argv: readonly string[], timeoutMs: number): Promise<{ booted: boolean; detail: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const finish = (booted: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ booted, detail });
    };
    const timer = setTimeout(() => finish(false, `the probe guest did not boot within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes(PROBE_MARKER)) finish(true, 'a probe guest booted under KVM');
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.on('error', (err) => finish(false, `QEMU could not start: ${err.message}`));
    child.on('close', (code, signal) => finish(false, `QEMU exited (${code ?? signal}) before the probe guest booted: ${out.trim().split('\n').at(-1) ?? ''}`));
  });
}

/**
 * The accelerator for this host: `forced` when given, else the cached verdict, else a probe.
 * Never rejects: anything that prevents the probe means TCG, with the reason.
 */
export async function chooseAccelerator(options: {
  readonly stateDir: string;
  readonly qemuBinary: string;
  readonly qemuVersion: string;
  readonly forced?: Accelerator | 'auto';
  readonly timeoutMs: number;
}): Promise<AccelVerdict> {
  if (options.forced && options.forced !== 'auto') return { accel: options.forced, reason: `configured: ${options.forced}` };
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: '/dev/kvm does not exist' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not readable and writable' };
  }
  const kernel = findGuestKernel();
  if (!kernel) return { accel: 'tcg', reason: '/dev/kvm present but no /boot/vmlinuz-*-cloud-amd64 to probe it with (linux-image-cloud-amd64)' };
  const busybox = findBinary('busybox');
  if (!busybox) return { accel: 'tcg', reason: '/dev/kvm present but no busybox to probe it with' };
  const dir = path.join(options.stateDir, 'kvm-probe');
  const key = `${options.qemuVersion} ${os.release()} ${kernel.version}`;
  const cacheFile = path.join(dir, 'verdict.json');
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as AccelVerdict & { key: string };
    if (cached.key === key) return { accel: cached.accel, reason: cached.reason };
  } catch {
    // no verdict yet
  }
  mkdirSync(dir, { recursive: true });
  const initrd = path.join(dir, 'initramfs.cpio.gz');
  writeFileSync(initrd, busyboxInitramfs({ busyboxPath: busybox, init: `#!/bin/sh\necho ${PROBE_MARKER}\npoweroff -f\n` }));
  const result = await bootsUnderKvm(buildKvmProbeArgv(options.qemuBinary, kernel.path, initrd), options.timeoutMs);
  const verdict: AccelVerdict = result.booted
    ? { accel: 'kvm', reason: result.detail }
    : { accel: 'tcg', reason: `/dev/kvm present but ${result.detail}` };
  writeFileSync(`${cacheFile}.tmp`, JSON.stringify({ ...verdict, key }));
  renameSync(`${cacheFile}.tmp`, cacheFile);
  return verdict;
}
