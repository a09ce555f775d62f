import { conflict, forbidden, notFound } from '../errors.js';
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import type { DomainTable } from './schema.js';
import { fromBool, isoTime, parseJsonObject, splitExtra, toBool, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { addRevocation } from './revocation.js';

export const DEFAULT_DOMAIN_ID = 'default';
const KNOWN = ['id', 'name', 'description', 'enabled', 'options', 'tags', 'explicit_domain_id', 'links'];

export interface DomainInput {
  id?: string;
  name: string;
  description?: string;
  enabled?: boolean;
  options?: Record<string, unknown>;
  [extra: string]: unknown;
}

export function renderDomain(row: DomainTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: toBool(row.enabled),
    tags: [] as string[],
    options: parseJsonObject(row.options),
    links: { self: `${base}/domains/${row.id}` },
  };
}

export async function findDomain(db: Db, id: string): Promise<DomainTable | undefined> {
  return db.selectFrom('identity_domain').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getDomain(db: Db, id: string): Promise<DomainTable> {
  const row = await findDomain(db, id);
  if (!row) throw notFound(`Could not find domain: ${id}.`);
  return row;
}

export async function findDomainByName(db: Db, name: string): Promise<DomainTable | undefined> {
  return db.selectFrom('identity_domain').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listDomains(db: Db, filters: { name?: string; enabled?: boolean; ids?: string[] }): Promise<DomainTable[]> {
  let q = db.selectFrom('identity_domain').selectAll();
  if (filters.name !== undefined) q = q.where('name', '=', filters.name);
  if (filters.enabled !== undefined) q = q.where('enabled', '=', fromBool(filters.enabled));
  if (filters.ids) {
    if (filters.ids.length === 0) return [];
    q = q.where('id', 'in', filters.ids);
  }
  return q.orderBy('name').execute();
}

export async function createDomain(deps: IdentityDeps, input: DomainInput): Promise<DomainTable> {
  const row: DomainTable = {
    id: input.id ?? (typeof input.explicit_domain_id === 'string' ? input.explicit_domain_id : deps.newId()),
    name: input.name,
    description: input.description ?? '',
    enabled: fromBool(input.enabled),
    extra: JSON.stringify(splitExtra(input, KNOWN)),
    options: JSON.stringify(input.options ?? {}),
    created_at: isoTime(deps.now()),
  };
  try {
    await writeTransaction(deps, async (trx) => {
      if (await findDomainByName(trx, row.name)) throw duplicate(row.name);
      await trx.insertInto('identity_domain').values(row).execute();
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicate(row.name);
    throw err;
  }
  return row;
}

const duplicate = (name: string) => conflict(`Conflict occurred attempting to store domain - Duplicate entry found with name ${name}.`);

export async function updateDomain(deps: IdentityDeps, id: string, patch: Partial<DomainInput>): Promise<DomainTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getDomain(trx, id);
    if (patch.id !== undefined && patch.id !== id) throw forbidden('Cannot change the id of a domain.');
    if (id === DEFAULT_DOMAIN_ID && patch.enabled === false) throw forbidden('The default domain cannot be disabled.');
    const extra = { ...parseJsonObject(row.extra), ...splitExtra(patch, KNOWN) };
    const next: DomainTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      enabled: patch.enabled === undefined ? row.enabled : fromBool(patch.enabled),
      options: patch.options ? JSON.stringify({ ...parseJsonObject(row.options), ...patch.options }) : row.options,
      extra: JSON.stringify(extra),
    };
    if (next.name !== row.name) {
      const other = await findDomainByName(trx, next.name);
      if (other && other.id !== id) throw duplicate(next.name);
    }
    await trx.updateTable('identity_domain').set(next).where('id', '=', id).execute();
    if (row.enabled === 1 && next.enabled === 0) await addRevocation(trx, deps.now(), { domain_id: id });
    return next;
  });
}

/** Deletes a disabled domain and everything in it: projects, users, groups, its roles and their assignments. */
export async function deleteDomain(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    const row = await getDomain(trx, id);
    if (row.enabled === 1) throw forbidden('Cannot delete a domain that is enabled, please disable it first.');
    const projectIds = (await trx.selectFrom('identity_project').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
    const userIds = (await trx.selectFrom('identity_user').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
    const groupIds = (await trx.selectFrom('identity_group').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
    const roleIds = (await trx.selectFrom('identity_role').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
    const targets = [id, ...projectIds];
    await trx.deleteFrom('identity_assignment').where('target_id', 'in', targets).execute();
    if (userIds.length) {
      await trx.deleteFrom('identity_assignment').where('actor_type', '=', 'user').where('actor_id', 'in', userIds).execute();
      await trx.deleteFrom('identity_credential').where('user_id', 'in', userIds).execute();
      await trx.deleteFrom('identity_application_credential').where('user_id', 'in', userIds).execute();
    }
    if (groupIds.length) await trx.deleteFrom('identity_assignment').where('actor_type', '=', 'group').where('actor_id', 'in', groupIds).execute();
    if (roleIds.length) await trx.deleteFrom('identity_assignment').where('role_id', 'in', roleIds).execute();
    await trx.deleteFrom('identity_user').where('domain_id', '=', id).execute();
    await trx.deleteFrom('identity_group').where('domain_id', '=', id).execute();
    await trx.deleteFrom('identity_role').where('domain_id', '=', id).execute();
    // Children before parents: repeatedly delete leaves.
    let remaining = projectIds;
    while (remaining.length) {
      const parents = new Set(
        (await trx.selectFrom('identity_project').select('parent_id').where('parent_id', 'in', remaining).execute()).map((r) => r.parent_id),
      );
      const leaves = remaining.filter((p) => !parents.has(p));
      await trx.deleteFrom('identity_project').where('id', 'in', leaves).execute();
      remaining = remaining.filter((p) => parents.has(p));
    }
    await trx.deleteFrom('identity_domain_config').where('domain_id', '=', id).execute();
    if (projectIds.length) {
      await trx.deleteFrom('identity_project_endpoint').where('project_id', 'in', projectIds).execute();
      await trx.deleteFrom('identity_project_endpoint_group').where('project_id', 'in', projectIds).execute();
    }
    await trx.deleteFrom('identity_domain').where('id', '=', id).execute();
    await addRevocation(trx, deps.now(), { domain_id: id });
  });
}
