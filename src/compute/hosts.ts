/**
 * Compute hosts: their stable ids (Nova's compute node UUID, which is also the host's placement
 * resource provider UUID) and their registration in placement.
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdir, statfs } from 'node:fs/promises';
import type { Hypervisor } from '../drivers/qemu/types.js';
import { ensureComputeProvider } from '../placement/scheduling.js';
import type { ComputeDeps } from './context.js';

/** A UUID derived from the host name, so the hypervisor id and the resource provider stay the same across restarts. */
export function computeNodeId(host: string): string {
  const h = createHash('sha1').update(`kumo-compute-node:${host}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** Nova's initial allocation ratios and reserved host memory (nova.conf defaults since Stein). */
export const CPU_ALLOCATION_RATIO = 4;
export const RAM_ALLOCATION_RATIO = 1;
export const DISK_ALLOCATION_RATIO = 1;
export const RESERVED_HOST_MEMORY_MB = 512;

export interface HostCapacity {
  readonly cpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
}

/** Registers (or updates) a compute host as a placement resource provider with its capacity. */
export async function registerComputeHost(deps: ComputeDeps, host: string, capacity: HostCapacity): Promise<void> {
  await ensureComputeProvider(deps.placement, {
    name: host,
    uuid: computeNodeId(host),
    inventories: {
      VCPU: { total: capacity.cpus, allocation_ratio: CPU_ALLOCATION_RATIO },
      MEMORY_MB: { total: capacity.memoryMb, reserved: Math.min(RESERVED_HOST_MEMORY_MB, capacity.memoryMb - 1), allocation_ratio: RAM_ALLOCATION_RATIO },
      ...(capacity.diskGb > 0 ? { DISK_GB: { total: capacity.diskGb, allocation_ratio: DISK_ALLOCATION_RATIO } } : {}),
    },
    traits: ['COMPUTE_NET_ATTACH_INTERFACE', 'COMPUTE_VOLUME_ATTACH', 'HW_ARCH_X86_64'],
  });
}

/** CPUs and memory from the hypervisor, disk from the filesystem that holds the VMs' disks. */
export async function hostCapacity(hypervisor: Hypervisor, vmStateDir: string): Promise<HostCapacity> {
  const info = await hypervisor.probe();
  let diskGb = 0;
  try {
    await mkdir(vmStateDir, { recursive: true });
    const fs = await statfs(vmStateDir);
    diskGb = Math.floor((fs.blocks * fs.bsize) / 1024 ** 3);
  } catch {
    // No disk inventory: servers then ask for none (a flavor with disk 0) or find no host.
  }
  return { cpus: info.cpus, memoryMb: info.memoryMb, diskGb };
}
