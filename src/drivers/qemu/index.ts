/**
 * The one place that knows the hypervisor driver implementations and creates them.
 * @module
 */
import type { Logger } from '../../log.js';
import { createQemuHypervisor, type QemuDeps } from './linux/index.js';
import type { Hypervisor, HypervisorOptions } from './types.js';

export type * from './types.js';
export type { QemuDeps } from './linux/index.js';

export const HYPERVISORS = {
  qemu: (options: HypervisorOptions, logger: Logger, deps?: QemuDeps): Hypervisor => createQemuHypervisor(options, logger, deps),
} as const;

export type HypervisorKind = keyof typeof HYPERVISORS;

export function createHypervisor(kind: HypervisorKind, options: HypervisorOptions, logger: Logger, deps?: QemuDeps): Hypervisor {
  return HYPERVISORS[kind](options, logger, deps);
}
