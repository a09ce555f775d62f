import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { AssignmentTable, RoleTable } from './schema.js';
import { parseJsonObject, splitExtra, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { getDomain } from './domains.js';
import { getProject, projectAncestors } from './projects.js';
import type { ProjectTable } from './schema.js';
import { getGroup, getUser, groupIdsOfUser } from './users.js';

const KNOWN = ['id', 'name', 'domain_id', 'description', 'options', 'links'];

export interface RoleInput {
  name: string;
  domain_id?: string | null;
  description?: string;
  options?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface RoleRef {
  id: string;
  name: string;
  domain_id: string | null;
}

export function renderRole(row: RoleTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    name: row.name,
    domain_id: row.domain_id || null,
    description: row.description || null,
    options: parseJsonObject(row.options),
    links: { self: `${base}/roles/${row.id}` },
  };
}

export const roleRef = (row: RoleTable): RoleRef => ({ id: row.id, name: row.name, domain_id: row.domain_id || null });

export async function findRole(db: Db, id: string): Promise<RoleTable | undefined> {
  return db.selectFrom('identity_role').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getRole(db: Db, id: string): Promise<RoleTable> {
  const row = await findRole(db, id);
  if (!row) throw notFound(`Could not find role: ${id}.`);
  return row;
}

export async function findRoleByName(db: Db, name: string, domainId: string | null = null): Promise<RoleTable | undefined> {
  return db.selectFrom('identity_role').selectAll().where('name', '=', name).where('domain_id', '=', domainId ?? '').executeTakeFirst();
}

export async function listRoles(db: Db, f: { name?: string; domain_id?: string | null; ids?: string[] }): Promise<RoleTable[]> {
  let q = db.selectFrom('identity_role').selectAll().where('domain_id', '=', f.domain_id ?? '');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', f.ids);
  }
  return q.orderBy('name').execute();
}

const duplicateRole = (name: string) => conflict(`Conflict occurred attempting to store role - Duplicate entry found with name ${name}.`);

export async function createRole(deps: IdentityDeps, input: RoleInput): Promise<RoleTable> {
  return writeTransaction(deps, async (trx) => {
    if (input.domain_id) await getDomain(trx, input.domain_id);
    if (await findRoleByName(trx, input.name, input.domain_id ?? null)) throw duplicateRole(input.name);
    const row: RoleTable = {
      id: typeof input.id === 'string' && input.id ? input.id : deps.newId(),
      name: input.name,
      domain_id: input.domain_id ?? '',
      description: input.description ?? '',
      options: JSON.stringify(input.options ?? {}),
      extra: JSON.stringify(splitExtra(input, KNOWN)),
    };
    await trx.insertInto('identity_role').values(row).execute();
    return row;
  });
}

export async function updateRole(deps: IdentityDeps, id: string, patch: Partial<RoleInput>): Promise<RoleTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getRole(trx, id);
    if (patch.domain_id !== undefined && (patch.domain_id ?? '') !== row.domain_id) throw forbidden('Update of `domain_id` is not allowed.');
    const options = patch.options ? { ...parseJsonObject(row.options), ...patch.options } : parseJsonObject(row.options);
    if (parseJsonObject(row.options).immutable === true && !(patch.options && patch.options.immutable === false && Object.keys(patch).length === 1)) {
      throw forbidden(`Cannot modify immutable role ${id}.`);
    }
    const next: RoleTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      options: JSON.stringify(options),
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, KNOWN) }),
    };
    if (next.name !== row.name) {
      const other = await findRoleByName(trx, next.name, row.domain_id || null);
      if (other && other.id !== id) throw duplicateRole(next.name);
    }
    await trx.updateTable('identity_role').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteRole(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    const row = await getRole(trx, id);
    if (parseJsonObject(row.options).immutable === true) throw forbidden(`Cannot delete immutable role ${id}.`);
    await trx.deleteFrom('identity_assignment').where('role_id', '=', id).execute();
    await trx.deleteFrom('identity_implied_role').where((eb) => eb.or([eb('prior_role_id', '=', id), eb('implied_role_id', '=', id)])).execute();
    await trx.deleteFrom('identity_trust_role').where('role_id', '=', id).execute();
    await trx.deleteFrom('identity_application_credential_role').where('role_id', '=', id).execute();
    await trx.deleteFrom('identity_role').where('id', '=', id).execute();
  });
}

// ---- implied roles ----

export async function createImpliedRole(deps: IdentityDeps, priorId: string, impliedId: string): Promise<[RoleTable, RoleTable]> {
  return writeTransaction(deps, async (trx) => {
    const prior = await getRole(trx, priorId);
    const implied = await getRole(trx, impliedId);
    if (!prior.domain_id && implied.domain_id) throw forbidden('A global role cannot imply a domain-specific role.');
    if (priorId === impliedId || (await impliesTransitively(trx, impliedId, priorId))) {
      throw forbidden(`Creating this implied role would create a cycle: ${prior.name} -> ${implied.name}.`);
    }
    await trx.insertInto('identity_implied_role').values({ prior_role_id: priorId, implied_role_id: impliedId })
      .onConflict((oc) => oc.columns(['prior_role_id', 'implied_role_id']).doNothing()).execute();
    return [prior, implied];
  });
}

async function impliesTransitively(db: Db, from: string, to: string): Promise<boolean> {
  const all = await db.selectFrom('identity_implied_role').selectAll().execute();
  const seen = new Set([from]);
  let frontier = [from];
  while (frontier.length) {
    const next = all.filter((r) => frontier.includes(r.prior_role_id)).map((r) => r.implied_role_id).filter((id) => !seen.has(id));
    if (next.includes(to)) return true;
    next.forEach((id) => seen.add(id));
    frontier = next;
  }
  return false;
}

export async function getImpliedRole(db: Db, priorId: string, impliedId: string): Promise<[RoleTable, RoleTable]> {
  const prior = await getRole(db, priorId);
  const implied = await getRole(db, impliedId);
  const row = await db.selectFrom('identity_implied_role').selectAll().where('prior_role_id', '=', priorId).where('implied_role_id', '=', impliedId).executeTakeFirst();
  if (!row) throw notFound(`Could not find implied role: ${priorId} implies ${impliedId}.`);
  return [prior, implied];
}

export async function deleteImpliedRole(deps: IdentityDeps, priorId: string, impliedId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getImpliedRole(trx, priorId, impliedId);
    await trx.deleteFrom('identity_implied_role').where('prior_role_id', '=', priorId).where('implied_role_id', '=', impliedId).execute();
  });
}

export async function listImpliedRoles(db: Db, priorId?: string): Promise<{ prior: RoleTable; implies: RoleTable[] }[]> {
  let q = db.selectFrom('identity_implied_role').selectAll();
  if (priorId) {
    await getRole(db, priorId);
    q = q.where('prior_role_id', '=', priorId);
  }
  const rows = await q.execute();
  const roles = new Map((await db.selectFrom('identity_role').selectAll().execute()).map((r) => [r.id, r]));
  const byPrior = new Map<string, RoleTable[]>();
  for (const r of rows) byPrior.set(r.prior_role_id, [...(byPrior.get(r.prior_role_id) ?? []), roles.get(r.implied_role_id)!]);
  if (priorId && !byPrior.has(priorId)) byPrior.set(priorId, []);
  return [...byPrior].map(([id, implies]) => ({ prior: roles.get(id)!, implies }));
}

/** Adds every role implied (transitively) by `roleIds`. Domain-specific roles are not themselves in tokens. */
export async function expandImpliedRoles(db: Db, roleIds: Iterable<string>): Promise<Map<string, string | undefined>> {
  const rules = await db.selectFrom('identity_implied_role').selectAll().execute();
  /** role id → the prior role that implied it (undefined when assigned directly). */
  const out = new Map<string, string | undefined>();
  let frontier = [...roleIds];
  frontier.forEach((id) => out.set(id, undefined));
  while (frontier.length) {
    const next: string[] = [];
    for (const r of rules) {
      if (frontier.includes(r.prior_role_id) && !out.has(r.implied_role_id)) {
        out.set(r.implied_role_id, r.prior_role_id);
        next.push(r.implied_role_id);
      }
    }
    frontier = next;
  }
  return out;
}

// ---- assignments ----

export type Actor = { type: 'user' | 'group'; id: string };
export type Target = { type: 'project' | 'domain' | 'system'; id: string };

async function checkActorTarget(db: Db, actor: Actor, target: Target): Promise<void> {
  if (actor.type === 'user') await getUser(db, actor.id);
  else await getGroup(db, actor.id);
  if (target.type === 'project') await getProject(db, target.id);
  else if (target.type === 'domain') await getDomain(db, target.id);
}

export async function grantRole(deps: IdentityDeps, actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await checkActorTarget(trx, actor, target);
    const role = await getRole(trx, roleId);
    if (role.domain_id && target.type !== 'system') {
      const targetDomain = target.type === 'domain' ? target.id : (await getProject(trx, target.id)).domain_id;
      if (targetDomain !== role.domain_id) throw forbidden('A domain-specific role can only be assigned within its domain.');
    }
    await trx.insertInto('identity_assignment')
      .values({ actor_type: actor.type, actor_id: actor.id, target_type: target.type, target_id: target.id, role_id: roleId, inherited: inherited ? 1 : 0 })
      .onConflict((oc) => oc.columns(['actor_type', 'actor_id', 'target_type', 'target_id', 'role_id', 'inherited']).doNothing())
      .execute();
  });
}

export async function checkRoleGrant(db: Db, actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
  await checkActorTarget(db, actor, target);
  await getRole(db, roleId);
  const row = await db.selectFrom('identity_assignment').select('role_id')
    .where('actor_type', '=', actor.type).where('actor_id', '=', actor.id)
    .where('target_type', '=', target.type).where('target_id', '=', target.id)
    .where('role_id', '=', roleId).where('inherited', '=', inherited ? 1 : 0).executeTakeFirst();
  if (!row) throw notFound(`Could not find role assignment with role: ${roleId}, ${actor.type}: ${actor.id}, ${target.type}: ${target.id}.`);
}

export async function revokeRole(deps: IdentityDeps, actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await checkRoleGrant(trx, actor, target, roleId, inherited);
    await trx.deleteFrom('identity_assignment')
      .where('actor_type', '=', actor.type).where('actor_id', '=', actor.id)
      .where('target_type', '=', target.type).where('target_id', '=', target.id)
      .where('role_id', '=', roleId).where('inherited', '=', inherited ? 1 : 0).execute();
  });
}

export async function listGrants(db: Db, actor: Actor, target: Target, inherited = false): Promise<RoleTable[]> {
  await checkActorTarget(db, actor, target);
  const rows = await db.selectFrom('identity_assignment').innerJoin('identity_role', 'identity_role.id', 'identity_assignment.role_id')
    .selectAll('identity_role')
    .where('actor_type', '=', actor.type).where('actor_id', '=', actor.id)
    .where('target_type', '=', target.type).where('target_id', '=', target.id)
    .where('inherited', '=', inherited ? 1 : 0).execute();
  return rows;
}

/**
 * The role ids a user holds on a target, through groups, inheritance from the domain and
 * parent projects, and implied roles. This is what goes in a token.
 */
export async function effectiveRoleIds(db: Db, userId: string, target: Target): Promise<string[]> {
  const actorIds = [userId, ...(await groupIdsOfUser(db, userId))];
  const direct = db.selectFrom('identity_assignment').select('role_id').where('actor_id', 'in', actorIds);
  let rows: { role_id: string }[];
  if (target.type === 'project') {
    const project = await db.selectFrom('identity_project').selectAll().where('id', '=', target.id).executeTakeFirst();
    if (!project) return [];
    const inheritFrom = [project.domain_id, ...(await projectAncestors(db, project)).map((p) => p.id)];
    rows = await direct
      .where((eb) =>
        eb.or([
          eb.and([eb('target_type', '=', 'project'), eb('target_id', '=', target.id), eb('inherited', '=', 0)]),
          eb.and([eb('target_id', 'in', inheritFrom), eb('target_type', '!=', 'system'), eb('inherited', '=', 1)]),
        ]),
      )
      .execute();
  } else {
    rows = await direct.where('target_type', '=', target.type).where('target_id', '=', target.id).where('inherited', '=', 0).execute();
  }
  const expanded = await expandImpliedRoles(db, new Set(rows.map((r) => r.role_id)));
  return [...expanded.keys()];
}

export interface AssignmentQuery {
  userId?: string;
  groupId?: string;
  roleId?: string;
  projectId?: string;
  domainId?: string;
  system?: boolean;
  inheritedToProjects?: boolean;
  effective?: boolean;
  includeSubtree?: boolean;
}

/** One row of GET /v3/role_assignments, before rendering. */
export interface AssignmentRow {
  actor: Actor;
  target: Target;
  roleId: string;
  inherited: boolean;
  /** For effective results: where the assignment came from. */
  viaGroupId?: string;
  viaPriorRoleId?: string;
  viaInheritedFrom?: Target;
  /** The assignment that was expanded (for links.assignment in effective mode). */
  source?: { actor: Actor; target: Target; roleId: string; inherited: boolean };
}

export async function listRoleAssignments(db: Db, q: AssignmentQuery): Promise<AssignmentRow[]> {
  if (q.userId && q.groupId) throw badRequest('Specify either a user or group, not both.');
  if (q.projectId && q.domainId) throw badRequest('Specify either a domain or project, not both.');
  if (q.effective && q.groupId) throw badRequest('Combining effective and group filter will always result in an empty list.');
  // An effective query for one user needs only the assignments of that user and its groups.
  let rawQuery = db.selectFrom('identity_assignment').selectAll();
  if (q.effective && q.userId) rawQuery = rawQuery.where('actor_id', 'in', [q.userId, ...(await groupIdsOfUser(db, q.userId))]);
  const raw = (await rawQuery.execute()).map(toRow);
  if (!q.effective) {
    let projectIds: string[] | undefined;
    if (q.projectId) projectIds = [q.projectId, ...(q.includeSubtree ? (await subtreeIds(db, q.projectId)) : [])];
    return raw.filter((r) =>
      (!q.userId || (r.actor.type === 'user' && r.actor.id === q.userId)) &&
      (!q.groupId || (r.actor.type === 'group' && r.actor.id === q.groupId)) &&
      (!q.roleId || r.roleId === q.roleId) &&
      (!projectIds || (r.target.type === 'project' && projectIds.includes(r.target.id))) &&
      (!q.domainId || (r.target.type === 'domain' && r.target.id === q.domainId)) &&
      (!q.system || r.target.type === 'system') &&
      (q.inheritedToProjects === undefined || r.inherited === q.inheritedToProjects),
    );
  }
  // Effective: groups become their members, inherited assignments land on every project below,
  // implied roles are added.
  const memberships = await db.selectFrom('identity_user_group').selectAll().execute();
  const projects = await db.selectFrom('identity_project').selectAll().execute();
  const out: AssignmentRow[] = [];
  for (const a of raw) {
    const users = a.actor.type === 'user' ? [{ id: a.actor.id, via: undefined as string | undefined }]
      : memberships.filter((m) => m.group_id === a.actor.id).map((m) => ({ id: m.user_id, via: a.actor.id }));
    const targets: { target: Target; from?: Target }[] = a.inherited
      ? descendants(projects, a.target).map((p) => ({ target: { type: 'project' as const, id: p.id }, from: a.target }))
      : [{ target: a.target }];
    for (const u of users) for (const t of targets) {
      out.push({ actor: { type: 'user', id: u.id }, target: t.target, roleId: a.roleId, inherited: false, viaGroupId: u.via, viaInheritedFrom: t.from, source: a });
    }
  }
  const rules = await db.selectFrom('identity_implied_role').selectAll().execute();
  const withImplied: AssignmentRow[] = [];
  for (const row of out) {
    withImplied.push(row);
    const seen = new Set([row.roleId]);
    let frontier = [row.roleId];
    while (frontier.length) {
      const next: string[] = [];
      for (const r of rules) if (frontier.includes(r.prior_role_id) && !seen.has(r.implied_role_id)) {
        seen.add(r.implied_role_id);
        next.push(r.implied_role_id);
        withImplied.push({ ...row, roleId: r.implied_role_id, viaPriorRoleId: r.prior_role_id });
      }
      frontier = next;
    }
  }
  let projectIds: string[] | undefined;
  if (q.projectId) projectIds = [q.projectId, ...(q.includeSubtree ? (await subtreeIds(db, q.projectId)) : [])];
  // As Keystone: domain-specific roles act only through the global roles they imply.
  const domainRoleIds = new Set((await db.selectFrom('identity_role').select('id').where('domain_id', '!=', '').execute()).map((r) => r.id));
  const seen = new Set<string>();
  return withImplied.filter((r) => {
    if (domainRoleIds.has(r.roleId)) return false;
    const key = `${r.actor.id}|${r.target.type}|${r.target.id}|${r.roleId}`;
    if (seen.has(key)) return false;
    const keep = (!q.userId || r.actor.id === q.userId) &&
      (!q.roleId || r.roleId === q.roleId) &&
      (!projectIds || (r.target.type === 'project' && projectIds.includes(r.target.id))) &&
      (!q.domainId || (r.target.type === 'domain' && r.target.id === q.domainId)) &&
      (!q.system || r.target.type === 'system');
    if (keep) seen.add(key);
    return keep;
  });
}

function toRow(a: AssignmentTable): AssignmentRow {
  return { actor: { type: a.actor_type, id: a.actor_id }, target: { type: a.target_type, id: a.target_id }, roleId: a.role_id, inherited: a.inherited === 1 };
}

function descendants(projects: ProjectTable[], target: Target): ProjectTable[] {
  if (target.type === 'system') return [];
  const out: ProjectTable[] = [];
  let frontier = target.type === 'domain'
    ? projects.filter((p) => p.domain_id === target.id && p.parent_id === null)
    : projects.filter((p) => p.parent_id === target.id);
  while (frontier.length) {
    out.push(...frontier);
    const ids = new Set(frontier.map((p) => p.id));
    frontier = projects.filter((p) => p.parent_id !== null && ids.has(p.parent_id));
  }
  return out;
}

async function subtreeIds(db: Db, projectId: string): Promise<string[]> {
  const projects = await db.selectFrom('identity_project').selectAll().execute();
  return descendants(projects, { type: 'project', id: projectId }).map((p) => p.id);
}
