/**
 * The one place that knows the network driver implementations and creates them.
 * @module
 */
import type { Logger } from '../../log.js';
import { createLinuxNetDriver } from './linux/index.js';
import type { CommandRunner } from './linux/index.js';
import type { NetDriver, NetDriverOptions } from './types.js';

export type * from './types.js';
export type { CommandRunner, CommandResult, CommandOptions } from './linux/index.js';

export const NET_DRIVERS = {
  linux: (options: NetDriverOptions, logger: Logger, exec?: CommandRunner): NetDriver => createLinuxNetDriver(options, logger, exec),
} as const;

export type NetDriverKind = keyof typeof NET_DRIVERS;

export function createNetDriver(kind: NetDriverKind, options: NetDriverOptions, logger: Logger, exec?: CommandRunner): NetDriver {
  return NET_DRIVERS[kind](options, logger, exec);
}

/** The tap device the driver makes for a port with plug kind `tap`: what a hypervisor opens for that port. */
export { tapName } from './linux/naming.js';
