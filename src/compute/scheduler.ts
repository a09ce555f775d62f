/**
 * Choosing a host for a server, as Nova's scheduler does with placement: the providers that have
 * room for the flavor (allocation candidates), only compute hosts that are up, narrowed by the
 * server group's policy, then an atomic claim on the first that still fits (a lost race moves on
 * to the next). No host: the server goes to ERROR with Nova's NoValidHost fault, as the
 * conductor leaves it.
 * @module
 */
import { KumoError } from '../errors.js';
import { bindVmPorts } from '../network/workload-ports.js';
import { allocationCandidates, claimAllocation, releaseAllocations } from '../placement/scheduling.js';
import type { ComputeDeps } from './context.js';
import type { FlavorRecord } from './flavors.js';
import { finishAction } from './instance-actions.js';
import { computeNodeId } from './hosts.js';
import { groupMembers } from './server-groups.js';
import type { InstanceRow } from './servers.js';

export interface ScheduleOptions {
  readonly forcedHost?: string;
  readonly serverGroup: string | null;
}

export const NO_VALID_HOST = 'No valid host was found. ';

/** What a flavor asks of placement (Nova's resources_from_flavor). */
export function flavorResources(flavor: FlavorRecord): Record<string, number> {
  const disk = flavor.disk + flavor.ephemeral + Math.ceil(flavor.swap / 1024);
  return { VCPU: flavor.vcpus, MEMORY_MB: flavor.ram, ...(disk > 0 ? { DISK_GB: disk } : {}) };
}

/** Hosts a server group allows for one more member, in preference order; null: any host. */
async function groupFilter(deps: ComputeDeps, groupId: string | null, self: string): Promise<((hosts: string[]) => string[]) | null> {
  if (!groupId) return null;
  const group = await deps.db.selectFrom('compute_server_group').selectAll().where('uuid', '=', groupId).executeTakeFirst();
  if (!group) return null;
  const members = ((await groupMembers(deps.db, [groupId])).get(groupId) ?? []).filter((id) => id !== self);
  const placed = members.length ? await deps.db.selectFrom('compute_instance').select(['host']).where('uuid', 'in', members).where('host', 'is not', null).execute() : [];
  const count = new Map<string, number>();
  for (const p of placed) count.set(p.host!, (count.get(p.host!) ?? 0) + 1);
  const maxPerHost = Number((JSON.parse(group.rules) as { max_server_per_host?: number }).max_server_per_host ?? 1);
  switch (group.policy) {
    case 'affinity': return (hosts) => (count.size ? hosts.filter((h) => count.has(h)) : hosts);
    case 'anti-affinity': return (hosts) => hosts.filter((h) => (count.get(h) ?? 0) < maxPerHost);
    case 'soft-affinity': return (hosts) => [...hosts].sort((a, b) => (count.get(b) ?? 0) - (count.get(a) ?? 0));
    case 'soft-anti-affinity': return (hosts) => [...hosts].sort((a, b) => (count.get(a) ?? 0) - (count.get(b) ?? 0));
    default: return null;
  }
}

/** Picks a host and claims the flavor's resources there; the row gets its host, or ERROR with NoValidHost. */
export async function scheduleServer(deps: ComputeDeps, row: InstanceRow, flavor: FlavorRecord, opts: ScheduleOptions): Promise<Partial<InstanceRow>> {
  const resources = flavorResources(flavor);
  const up = new Set(deps.computeHosts());
  const candidates = (await allocationCandidates(deps.db, { resources })).filter((c) => up.has(c.name) && (!opts.forcedHost || c.name === opts.forcedHost));
  const filter = await groupFilter(deps, opts.serverGroup, row.uuid);
  let hosts = candidates.map((c) => c.name);
  if (filter) hosts = filter(hosts);
  const now = new Date(deps.now()).toISOString();
  let chosen: string | undefined;
  for (const host of hosts) {
    const candidate = candidates.find((c) => c.name === host)!;
    try {
      await claimAllocation(deps.placement, { consumerId: row.uuid, projectId: row.project_id, userId: row.user_id, providerId: candidate.providerUuid, resources, consumerType: 'INSTANCE' });
      chosen = host;
      break;
    } catch (err) {
      // Someone else took the room meanwhile: the next candidate.
      if (!(err instanceof KumoError && err.status === 409)) throw err;
    }
  }
  let patch: Partial<InstanceRow>;
  if (chosen) {
    patch = { host: chosen, task_state: 'spawning', updated_at: now };
    // Bound now, the host's network agent plugs the taps while the compute agent prepares the disks.
    await bindVmPorts(deps.network, (JSON.parse(row.port_ids) as { id: string }[]).map((p) => p.id), chosen);
  }
  else {
    const details = up.size === 0 ? 'There are no compute hosts.' : candidates.length === 0 ? `No compute host has room for ${Object.entries(resources).map(([k, v]) => `${k}=${v}`).join(', ')}.` : 'The server group policy allows none of the hosts with room.';
    patch = { vm_state: 'error', task_state: null, fault: JSON.stringify({ code: 500, message: NO_VALID_HOST, details, created: now }), updated_at: now };
  }
  await deps.db.updateTable('compute_instance').set(patch).where('uuid', '=', row.uuid).execute();
  if (!chosen) await finishAction(deps.db, deps.now(), row.uuid, 'conductor_schedule_and_build_instances', null, `${NO_VALID_HOST}${patch.fault ? JSON.parse(patch.fault).details : ''}`);
  return patch;
}

export async function releaseServerResources(deps: ComputeDeps, instanceId: string): Promise<void> {
  await releaseAllocations(deps.placement, instanceId);
}

/**
 * A resize keeps room for the larger of both flavors on the host until it is confirmed or
 * reverted (Nova holds the old flavor's allocation for the migration meanwhile).
 */
export async function resizeClaim(deps: ComputeDeps, row: InstanceRow, flavor: FlavorRecord): Promise<void> {
  if (!row.host) return;
  const old = flavorResources(JSON.parse(row.flavor) as FlavorRecord);
  const next = flavorResources(flavor);
  const both = Object.fromEntries([...new Set([...Object.keys(old), ...Object.keys(next)])].map((k) => [k, Math.max(old[k] ?? 0, next[k] ?? 0)]));
  try {
    await claimAllocation(deps.placement, { consumerId: row.uuid, projectId: row.project_id, userId: row.user_id, providerId: computeNodeId(row.host), resources: both, consumerType: 'INSTANCE' });
  } catch (err) {
    if (err instanceof KumoError && err.status === 409) throw new KumoError('ERR_VALIDATION', `${NO_VALID_HOST}The host has no room for the new flavor.`);
    throw err;
  }
}

/** After a resize: the allocation of the flavor the server keeps (the row's flavor at that point). */
export async function finishResize(deps: ComputeDeps, row: InstanceRow, confirmed: boolean): Promise<void> {
  if (!row.host) return;
  const spec = JSON.parse(row.spec) as { old_flavor: FlavorRecord | null };
  const kept = confirmed || !spec.old_flavor ? (JSON.parse(row.flavor) as FlavorRecord) : spec.old_flavor;
  await claimAllocation(deps.placement, { consumerId: row.uuid, projectId: row.project_id, userId: row.user_id, providerId: computeNodeId(row.host), resources: flavorResources(kept), consumerType: 'INSTANCE' });
}
