/**
 * Nova quotas per project (os-quota-sets) and the limits view (`openstack limits show`): counted
 * from the rows that exist, as Nova's counting quota driver does; 403 with Nova's message when a
 * request would go over.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { adminOnly, invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';

export const DEFAULT_COMPUTE_QUOTAS = Object.freeze({
  instances: 10, cores: 20, ram: 51200, metadata_items: 128, key_pairs: 100, server_groups: 10, server_group_members: 10,
  injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255,
});
export type ComputeQuotaResource = keyof typeof DEFAULT_COMPUTE_QUOTAS;
export const QUOTA_RESOURCES = Object.keys(DEFAULT_COMPUTE_QUOTAS) as ComputeQuotaResource[];

export async function computeQuotaOf(db: Db, projectId: string): Promise<Record<ComputeQuotaResource, number>> {
  const rows = await db.selectFrom('compute_quota').selectAll().where('project_id', '=', projectId).execute();
  return { ...DEFAULT_COMPUTE_QUOTAS, ...Object.fromEntries(rows.filter((r) => r.resource in DEFAULT_COMPUTE_QUOTAS).map((r) => [r.resource, Number(r.hard_limit)])) };
}

/** Servers, their vCPUs and RAM (from each server's own flavor copy), and server groups of a project. */
export async function computeUsage(db: Db, projectId: string): Promise<{ instances: number; cores: number; ram: number; server_groups: number }> {
  const servers = await db.selectFrom('compute_instance').select('flavor').where('project_id', '=', projectId).where('desired', '!=', 'deleted').execute();
  let cores = 0;
  let ram = 0;
  for (const s of servers) {
    const f = JSON.parse(s.flavor) as { vcpus: number; ram: number };
    cores += f.vcpus;
    ram += f.ram;
  }
  const groups = await db.selectFrom('compute_server_group').select(sql<number>`count(*)`.as('n')).where('project_id', '=', projectId).executeTakeFirst();
  return { instances: servers.length, cores, ram, server_groups: Number(groups?.n ?? 0) };
}

/** Nova's over-quota message for servers: the first resource that does not fit. */
export async function checkServerQuota(db: Db, projectId: string, count: number, vcpus: number, ram: number): Promise<void> {
  const [limits, used] = [await computeQuotaOf(db, projectId), await computeUsage(db, projectId)];
  const asked = { instances: count, cores: vcpus * count, ram: ram * count } as const;
  for (const r of ['instances', 'cores', 'ram'] as const) {
    if (limits[r] >= 0 && used[r] + asked[r] > limits[r]) {
      throw novaError('ERR_FORBIDDEN', `Quota exceeded for ${r}: Requested ${asked[r]}, but already used ${used[r]} of ${limits[r]} ${r}`);
    }
  }
}

/** A resize adds the flavors' difference in cores and ram (nothing when it shrinks). */
export async function checkResizeQuota(db: Db, projectId: string, moreCores: number, moreRam: number): Promise<void> {
  if (moreCores <= 0 && moreRam <= 0) return;
  const [limits, used] = [await computeQuotaOf(db, projectId), await computeUsage(db, projectId)];
  for (const [r, more] of [['cores', moreCores], ['ram', moreRam]] as const) {
    if (more > 0 && limits[r] >= 0 && used[r] + more > limits[r]) throw novaError('ERR_FORBIDDEN', `Quota exceeded for ${r}: Requested ${more}, but already used ${used[r]} of ${limits[r]} ${r}`);
  }
}

/** How many servers of this size still fit the project's instances, cores and ram quotas. */
export async function serversAllowed(db: Db, projectId: string, vcpus: number, ram: number): Promise<number> {
  const [limits, used] = [await computeQuotaOf(db, projectId), await computeUsage(db, projectId)];
  const room = (r: 'instances' | 'cores' | 'ram', per: number) => (limits[r] < 0 || per === 0 ? Infinity : Math.floor((limits[r] - used[r]) / per));
  return Math.max(0, Math.min(room('instances', 1), room('cores', vcpus), room('ram', ram)));
}

/** For the quotas counted per something other than servers (key pairs per user, server groups, members). */
export async function checkCountQuota(deps: ComputeDeps, projectId: string, resource: ComputeQuotaResource, count: () => Promise<number>, adding: number): Promise<void> {
  const limit = (await computeQuotaOf(deps.db, projectId))[resource];
  if (limit < 0) return;
  const used = await count();
  if (used + adding > limit) {
    const message = resource === 'key_pairs' ? 'Quota exceeded, too many key pairs.' : `Quota exceeded for ${resource}: Requested ${adding}, but already used ${used} of ${limit} ${resource}`;
    throw novaError('ERR_FORBIDDEN', message);
  }
}

export async function showComputeQuota(deps: ComputeDeps, caller: Caller, projectId: string, detail: boolean) {
  if (!caller.isAdmin && caller.projectId !== projectId) throw adminOnly('os_compute_api:os-quota-sets:show');
  const limits = await computeQuotaOf(deps.db, projectId);
  if (!detail) return { id: projectId, ...limits };
  const used = await computeUsage(deps.db, projectId);
  // Key pairs belong to users, not projects: Nova shows none in use for a project.
  const inUse: Record<string, number> = { instances: used.instances, cores: used.cores, ram: used.ram, server_groups: used.server_groups };
  return { id: projectId, ...Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], in_use: inUse[r] ?? 0, reserved: 0 }])) };
}

export async function updateComputeQuota(deps: ComputeDeps, caller: Caller, projectId: string, patch: Record<string, unknown>) {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-quota-sets:update');
  const entries: [ComputeQuotaResource, number][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'force') continue;
    if (!QUOTA_RESOURCES.includes(key as ComputeQuotaResource)) throw invalid(`Invalid input for field/attribute quota_set. Additional properties are not allowed ('${key}' was unexpected)`);
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < -1) throw invalid(`Invalid input for field/attribute ${key}. Value: ${String(value)}. It must be an integer of at least -1`);
    entries.push([key as ComputeQuotaResource, n]);
  }
  await deps.db.transaction().execute(async (tx) => {
    for (const [key, n] of entries) {
      await tx.insertInto('compute_quota').values({ project_id: projectId, resource: key, hard_limit: n })
        .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: n })).execute();
    }
  });
  return computeQuotaOf(deps.db, projectId);
}

export async function deleteComputeQuota(deps: ComputeDeps, caller: Caller, projectId: string): Promise<void> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-quota-sets:delete');
  await deps.db.deleteFrom('compute_quota').where('project_id', '=', projectId).execute();
}

/** `GET /limits`: Nova's absolute limits with the project's usage (rate limits are gone from Nova). */
export async function absoluteLimits(deps: ComputeDeps, projectId: string) {
  const [q, used] = [await computeQuotaOf(deps.db, projectId), await computeUsage(deps.db, projectId)];
  return {
    maxServerMeta: q.metadata_items, maxPersonality: q.injected_files, maxPersonalitySize: q.injected_file_content_bytes, maxImageMeta: q.metadata_items,
    maxTotalKeypairs: q.key_pairs, maxServerGroups: q.server_groups, maxServerGroupMembers: q.server_group_members,
    maxTotalCores: q.cores, maxTotalInstances: q.instances, maxTotalRAMSize: q.ram,
    totalCoresUsed: used.cores, totalInstancesUsed: used.instances, totalRAMUsed: used.ram, totalServerGroupsUsed: used.server_groups,
    // Proxied to Neutron in Nova before 2.36; Kumo shows no network limits here.
    maxSecurityGroupRules: -1, maxSecurityGroups: -1, maxTotalFloatingIps: -1, totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0,
  };
}
