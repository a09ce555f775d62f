/**
 * Nova server groups (os-server-groups): affinity (same host), anti-affinity (different hosts) and
 * their soft variants; the scheduler reads a group's policy and the hosts of its members.
 * @module
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/database.js';
import { invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { checkCountQuota, computeQuotaOf } from './quotas.js';
import type { ServerGroupTable } from './schema.js';

export type ServerGroupRow = Selectable<ServerGroupTable>;

export const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;

export const groupNotFound = (id: string) => novaError('ERR_NOT_FOUND', `Instance group ${id} could not be found.`);

export async function createServerGroup(deps: ComputeDeps, caller: Caller, input: Record<string, unknown>, minor: number): Promise<ServerGroupRow> {
  const name = input.name;
  if (typeof name !== 'string' || !name.trim() || name.length > 255) throw invalid(`Invalid input for field/attribute name. Value: ${String(name)}. It must be 1 to 255 characters`);
  let policy: unknown;
  let rules: Record<string, unknown> = {};
  if (minor >= 64) {
    policy = input.policy;
    if (input.policies !== undefined) throw invalid("Invalid input for field/attribute server_group. Additional properties are not allowed ('policies' was unexpected)");
    if (input.rules !== undefined) {
      if (!input.rules || typeof input.rules !== 'object' || Array.isArray(input.rules)) throw invalid('Invalid input for field/attribute rules. It must be an object');
      rules = input.rules as Record<string, unknown>;
      const unknown = Object.keys(rules).filter((k) => k !== 'max_server_per_host');
      if (unknown.length) throw invalid(`Invalid input for field/attribute rules. Additional properties are not allowed ('${unknown[0]}' was unexpected)`);
      if (Object.keys(rules).length && policy !== 'anti-affinity') throw invalid("Only anti-affinity policy supports rules.");
      const m = rules.max_server_per_host;
      if (m !== undefined && !(Number.isInteger(Number(m)) && Number(m) >= 1)) throw invalid('Invalid input for field/attribute max_server_per_host. It must be a positive integer');
    }
  } else {
    if (!Array.isArray(input.policies) || input.policies.length !== 1) throw invalid("Invalid input for field/attribute policies. It must be a list of one policy");
    policy = input.policies[0];
  }
  if (!POLICIES.includes(policy as (typeof POLICIES)[number])) throw invalid(`Invalid input for field/attribute policy. Value: ${String(policy)}. '${String(policy)}' is not one of ${JSON.stringify(POLICIES)}`);
  await checkCountQuota(deps, caller.projectId, 'server_groups', async () => (await deps.db.selectFrom('compute_server_group').select('uuid').where('project_id', '=', caller.projectId).execute()).length, 1);
  const row: ServerGroupRow = { uuid: deps.newId(), name, project_id: caller.projectId, user_id: caller.userId, policy: policy as string, rules: JSON.stringify(rules), created_at: new Date(deps.now()).toISOString() };
  await deps.db.insertInto('compute_server_group').values(row).execute();
  return row;
}

export async function getServerGroup(db: Db, caller: Caller, id: string): Promise<ServerGroupRow> {
  const row = await db.selectFrom('compute_server_group').selectAll().where('uuid', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw groupNotFound(id);
  return row;
}

export async function listServerGroups(db: Db, caller: Caller, allProjects: boolean): Promise<ServerGroupRow[]> {
  let q = db.selectFrom('compute_server_group').selectAll().orderBy('created_at');
  if (!(allProjects && caller.isAdmin)) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

export async function groupMembers(db: Db, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(groupIds.map((g) => [g, []]));
  if (!groupIds.length) return out;
  for (const m of await db.selectFrom('compute_server_group_member').selectAll().where('group_id', 'in', [...groupIds]).execute()) out.get(m.group_id)?.push(m.instance_id);
  return out;
}

export async function deleteServerGroup(deps: ComputeDeps, caller: Caller, id: string): Promise<void> {
  await getServerGroup(deps.db, caller, id);
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('compute_server_group_member').where('group_id', '=', id).execute();
    await tx.deleteFrom('compute_server_group').where('uuid', '=', id).execute();
  });
}

/** Before a create: the group exists, is the caller's, and has room for `adding` more members. */
export async function checkGroupForNewMember(deps: ComputeDeps, caller: Caller, groupId: string, adding: number): Promise<void> {
  await getServerGroup(deps.db, caller, groupId).catch(() => {
    throw invalid(`Invalid server group ${groupId}.`);
  });
  const members = (await groupMembers(deps.db, [groupId])).get(groupId) ?? [];
  const limit = (await computeQuotaOf(deps.db, caller.projectId)).server_group_members;
  if (limit >= 0 && members.length + adding > limit) {
    throw novaError('ERR_FORBIDDEN', `Quota exceeded, too many servers in group`);
  }
}
