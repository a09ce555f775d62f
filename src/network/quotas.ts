/**
 * Neutron quotas: defaults, per-project overrides, usage counted from the resources' own rows,
 * and the check every create makes inside its transaction. On PostgreSQL the check takes a
 * per-project advisory lock first, so two concurrent creates cannot both see the last free unit.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { badInput, neutronError } from './context.js';
import type { Caller, NetworkDeps } from './context.js';

/** Neutron's defaults; -1 means unlimited. */
export const DEFAULT_QUOTAS = Object.freeze({
  network: 100,
  subnet: 100,
  subnetpool: -1,
  port: 500,
  router: 10,
  floatingip: 50,
  rbac_policy: 10,
  security_group: 10,
  security_group_rule: 100,
});

export type QuotaResource = keyof typeof DEFAULT_QUOTAS;
const RESOURCES = Object.keys(DEFAULT_QUOTAS) as QuotaResource[];

const COUNTED: Partial<Record<QuotaResource, 'network_network' | 'network_subnet' | 'network_port' | 'network_router' | 'network_floating_ip' | 'network_security_group' | 'network_security_group_rule'>> = {
  network: 'network_network',
  subnet: 'network_subnet',
  port: 'network_port',
  router: 'network_router',
  floatingip: 'network_floating_ip',
  security_group: 'network_security_group',
  security_group_rule: 'network_security_group_rule',
};

export async function quotaOf(db: Db, projectId: string): Promise<Record<QuotaResource, number>> {
  const rows = await db.selectFrom('network_quota').selectAll().where('project_id', '=', projectId).execute();
  return { ...DEFAULT_QUOTAS, ...Object.fromEntries(rows.map((r) => [r.resource, Number(r.hard_limit)])) };
}

export async function usageOf(db: Db, projectId: string, resource: QuotaResource): Promise<number> {
  const table = COUNTED[resource];
  if (!table) return 0;
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<string | number>().as('n')).where('project_id', '=', projectId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Throws 409 OverQuota when `adding` more of `resource` would exceed the project's limit.
 * Call inside the creating transaction, before the insert.
 */
export async function checkQuota(deps: NetworkDeps, trx: Db, projectId: string, resource: QuotaResource, adding = 1): Promise<void> {
  if (!projectId) return;
  if (deps.config.database.kind === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`neutron-quota:${projectId}`}))`.execute(trx);
  const limit = (await quotaOf(trx, projectId))[resource];
  if (limit < 0) return;
  if ((await usageOf(trx, projectId, resource)) + adding > limit) {
    throw neutronError('ERR_CONFLICT', 'OverQuota', `Quota exceeded for resources: ['${resource}'].`);
  }
}

export async function quotaDetails(db: Db, projectId: string): Promise<Record<string, { used: number; limit: number; reserved: number }>> {
  const limits = await quotaOf(db, projectId);
  const out: Record<string, { used: number; limit: number; reserved: number }> = {};
  for (const r of RESOURCES) out[r] = { used: await usageOf(db, projectId, r), limit: limits[r], reserved: 0 };
  return out;
}

function requireQuotaReader(caller: Caller, projectId: string): void {
  if (!caller.isAdmin && caller.projectId !== projectId) {
    throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `(rule:get_quota) is disallowed by policy for project ${projectId}.`);
  }
}

export async function showQuota(db: Db, caller: Caller, projectId: string): Promise<Record<QuotaResource, number>> {
  requireQuotaReader(caller, projectId);
  return quotaOf(db, projectId);
}

export async function showQuotaDetails(db: Db, caller: Caller, projectId: string) {
  requireQuotaReader(caller, projectId);
  return quotaDetails(db, projectId);
}

/** Projects with at least one override, each with its full quota set (admin only). */
export async function listQuotas(db: Db, caller: Caller): Promise<(Record<QuotaResource, number> & { project_id: string; tenant_id: string })[]> {
  if (!caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:get_quota) is disallowed by policy.');
  const projects = [...new Set((await db.selectFrom('network_quota').select('project_id').execute()).map((r) => r.project_id))];
  return Promise.all(projects.map(async (p) => ({ ...(await quotaOf(db, p)), project_id: p, tenant_id: p })));
}

export async function updateQuota(deps: NetworkDeps, caller: Caller, projectId: string, patch: Record<string, unknown>): Promise<Record<QuotaResource, number>> {
  if (!caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:update_quota) is disallowed by policy.');
  const changes: [QuotaResource, number][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (!RESOURCES.includes(key as QuotaResource)) throw badInput(`Unrecognized attribute(s) '${key}'.`);
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1) throw badInput(`'${String(value)}' is not a valid quota for ${key}: it must be an integer of at least -1.`);
    changes.push([key as QuotaResource, n]);
  }
  await deps.db.transaction().execute(async (trx) => {
    for (const [resource, hardLimit] of changes) {
      await trx.insertInto('network_quota').values({ project_id: projectId, resource, hard_limit: hardLimit })
        .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: hardLimit })).execute();
    }
  });
  return quotaOf(deps.db, projectId);
}

export async function resetQuota(deps: NetworkDeps, caller: Caller, projectId: string): Promise<void> {
  if (!caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:delete_quota) is disallowed by policy.');
  await deps.db.deleteFrom('network_quota').where('project_id', '=', projectId).execute();
}
