/**
 * Zun quotas per project: containers, cpu, memory (MiB) and disk (GiB), summed from the
 * containers that are not being deleted; 403 OverQuota as Zun answers.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { invalid, zunError } from './context.js';
import type { Caller } from './context.js';

export const DEFAULT_CONTAINER_QUOTAS = Object.freeze({ containers: 40, cpu: 20, memory: 51200, disk: 100 });
export type ContainerQuotaResource = keyof typeof DEFAULT_CONTAINER_QUOTAS;
const RESOURCES = Object.keys(DEFAULT_CONTAINER_QUOTAS) as ContainerQuotaResource[];

export async function containerQuotaOf(db: Db, projectId: string): Promise<Record<ContainerQuotaResource, number>> {
  const rows = await db.selectFrom('container_quota').selectAll().where('project_id', '=', projectId).execute();
  return { ...DEFAULT_CONTAINER_QUOTAS, ...Object.fromEntries(rows.map((r) => [r.resource, Number(r.hard_limit)])) };
}

export async function containerUsage(db: Db, projectId: string): Promise<Record<ContainerQuotaResource, number>> {
  const row = await db.selectFrom('container_container')
    .select([
      sql<number>`count(*)`.as('containers'),
      sql<number>`coalesce(sum(cpu), 0)`.as('cpu'),
      sql<number>`coalesce(sum(memory_mib), 0)`.as('memory'),
      sql<number>`coalesce(sum(disk_gib), 0)`.as('disk'),
    ])
    .where('project_id', '=', projectId).where('desired', '!=', 'deleted').executeTakeFirst();
  return { containers: Number(row?.containers ?? 0), cpu: Number(row?.cpu ?? 0), memory: Number(row?.memory ?? 0), disk: Number(row?.disk ?? 0) };
}

/** Throws 403 OverQuota when adding `delta` would exceed a limit; call inside the writing transaction. */
export async function checkContainerQuota(trx: Db, projectId: string, delta: Record<ContainerQuotaResource, number>): Promise<void> {
  const [limits, used] = [await containerQuotaOf(trx, projectId), await containerUsage(trx, projectId)];
  const over = RESOURCES.filter((r) => delta[r] > 0 && limits[r] >= 0 && used[r] + delta[r] > limits[r]);
  if (over.length) throw zunError('ERR_FORBIDDEN', `Quota exceeded for resources: ${JSON.stringify(over).replaceAll('"', "'")}`);
}

export async function showContainerQuota(db: Db, caller: Caller, projectId: string, usages: boolean) {
  if (!caller.isAdmin && caller.projectId !== projectId) throw zunError('ERR_FORBIDDEN', 'Policy doesn\'t allow quota:get to be performed.');
  const limits = await containerQuotaOf(db, projectId);
  if (!usages) return limits;
  const used = await containerUsage(db, projectId);
  return Object.fromEntries(RESOURCES.map((r) => [r, { limit: limits[r], in_use: used[r] }]));
}

export async function updateContainerQuota(db: Db, caller: Caller, projectId: string, patch: Record<string, unknown>) {
  if (!caller.isAdmin) throw zunError('ERR_FORBIDDEN', 'Policy doesn\'t allow quota:update to be performed.');
  for (const [key, value] of Object.entries(patch)) {
    if (!RESOURCES.includes(key as ContainerQuotaResource)) throw invalid(`Invalid input: ${key} is not a quota resource (${RESOURCES.join(', ')}).`);
    const n = Number(value);
    if (!Number.isInteger(n) || n < -1) throw invalid(`Invalid input for field/attribute ${key}. Value: ${String(value)}. It must be an integer of at least -1.`);
    await db.insertInto('container_quota').values({ project_id: projectId, resource: key, hard_limit: n })
      .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: n })).execute();
  }
  return containerQuotaOf(db, projectId);
}

export async function deleteContainerQuota(db: Db, caller: Caller, projectId: string): Promise<void> {
  if (!caller.isAdmin) throw zunError('ERR_FORBIDDEN', 'Policy doesn\'t allow quota:delete to be performed.');
  await db.deleteFrom('container_quota').where('project_id', '=', projectId).execute();
}
