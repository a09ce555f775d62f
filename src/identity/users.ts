import { conflict, notFound } from '../errors.js';
import { KumoError } from '../errors.js';
import type { Db } from '../store/database.js';
import type { GroupTable, UserTable } from './schema.js';
import { fromBool, isoTime, parseJsonObject, splitExtra, toBool, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { DEFAULT_DOMAIN_ID, getDomain } from './domains.js';
import { hashPassword, verifyPassword } from './password.js';
import { addRevocation } from './revocation.js';

const USER_KNOWN = ['id', 'name', 'domain_id', 'enabled', 'default_project_id', 'password', 'options', 'links', 'password_expires_at'];
const GROUP_KNOWN = ['id', 'name', 'domain_id', 'description', 'links'];

export interface UserInput {
  name: string;
  domain_id?: string;
  enabled?: boolean;
  default_project_id?: string | null;
  password?: string | null;
  options?: Record<string, unknown>;
  [extra: string]: unknown;
}

export function renderUser(row: UserTable, base: string) {
  const extra = parseJsonObject(row.extra);
  return {
    ...extra,
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    enabled: toBool(row.enabled),
    password_expires_at: null,
    options: parseJsonObject(row.options),
    ...(row.default_project_id ? { default_project_id: row.default_project_id } : {}),
    links: { self: `${base}/users/${row.id}` },
  };
}

export async function findUser(db: Db, id: string): Promise<UserTable | undefined> {
  return db.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getUser(db: Db, id: string): Promise<UserTable> {
  const row = await findUser(db, id);
  if (!row) throw notFound(`Could not find user: ${id}.`);
  return row;
}

export async function findUserByName(db: Db, domainId: string, name: string): Promise<UserTable | undefined> {
  return db.selectFrom('identity_user').selectAll().where('domain_id', '=', domainId).where('name', '=', name).executeTakeFirst();
}

export async function listUsers(db: Db, f: { name?: string; domain_id?: string; enabled?: boolean; ids?: string[] }): Promise<UserTable[]> {
  let q = db.selectFrom('identity_user').selectAll();
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domain_id !== undefined) q = q.where('domain_id', '=', f.domain_id);
  if (f.enabled !== undefined) q = q.where('enabled', '=', fromBool(f.enabled));
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', f.ids);
  }
  return q.orderBy('name').execute();
}

const duplicateUser = (name: string, domainId: string) =>
  conflict(`Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID ${domainId}.`);

/** `precomputedHash`, when given, is the hash of `input.password`, computed while the caller did other work. */
export async function createUser(deps: IdentityDeps, input: UserInput, precomputedHash?: Promise<string>): Promise<UserTable> {
  // Hash outside the transaction: it is slow and must not hold the database.
  const passwordHash = input.password ? await (precomputedHash ?? hashPassword(input.password, deps.config.identity.passwordHash)) : null;
  const now = deps.now();
  return writeTransaction(deps, async (trx) => {
    const domainId = input.domain_id ?? DEFAULT_DOMAIN_ID;
    await getDomain(trx, domainId);
    if (await findUserByName(trx, domainId, input.name)) throw duplicateUser(input.name, domainId);
    const row: UserTable = {
      id: deps.newId(),
      name: input.name,
      domain_id: domainId,
      enabled: fromBool(input.enabled),
      default_project_id: input.default_project_id ?? null,
      extra: JSON.stringify(splitExtra(input, USER_KNOWN)),
      options: JSON.stringify(input.options ?? {}),
      password_hash: passwordHash,
      password_created_at: passwordHash ? isoTime(now) : null,
      created_at: isoTime(now),
    };
    await trx.insertInto('identity_user').values(row).execute();
    return row;
  });
}

export async function updateUser(deps: IdentityDeps, id: string, patch: Partial<UserInput>): Promise<UserTable> {
  const passwordHash = typeof patch.password === 'string' ? await hashPassword(patch.password, deps.config.identity.passwordHash) : undefined;
  return writeTransaction(deps, async (trx) => {
    const row = await getUser(trx, id);
    if (patch.domain_id !== undefined && patch.domain_id !== row.domain_id) {
      throw new KumoError('ERR_VALIDATION', 'Update of `domain_id` is not allowed.');
    }
    const now = deps.now();
    const next: UserTable = {
      ...row,
      name: patch.name ?? row.name,
      enabled: patch.enabled === undefined ? row.enabled : fromBool(patch.enabled),
      default_project_id: patch.default_project_id === undefined ? row.default_project_id : patch.default_project_id,
      options: patch.options ? JSON.stringify({ ...parseJsonObject(row.options), ...patch.options }) : row.options,
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, USER_KNOWN) }),
    };
    if (passwordHash !== undefined) {
      next.password_hash = passwordHash;
      next.password_created_at = isoTime(now);
    } else if (patch.password === null) {
      next.password_hash = null;
    }
    if (next.name !== row.name) {
      const other = await findUserByName(trx, row.domain_id, next.name);
      if (other && other.id !== id) throw duplicateUser(next.name, row.domain_id);
    }
    await trx.updateTable('identity_user').set(next).where('id', '=', id).execute();
    if ((row.enabled === 1 && next.enabled === 0) || passwordHash !== undefined || patch.password === null) {
      await addRevocation(trx, now, { user_id: id });
    }
    return next;
  });
}

/** Self-service password change: the caller proves the original password. */
export async function changePassword(deps: IdentityDeps, id: string, originalPassword: string, password: string): Promise<void> {
  const user = await getUser(deps.db, id);
  if (!user.password_hash || !(await verifyPassword(originalPassword, user.password_hash))) {
    throw new KumoError('ERR_UNAUTHORIZED', 'The request you have made requires authentication.');
  }
  await updateUser(deps, id, { password });
}

export async function deleteUser(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getUser(trx, id);
    await trx.deleteFrom('identity_assignment').where('actor_type', '=', 'user').where('actor_id', '=', id).execute();
    await trx.deleteFrom('identity_user_group').where('user_id', '=', id).execute();
    await trx.deleteFrom('identity_credential').where('user_id', '=', id).execute();
    await trx.deleteFrom('identity_application_credential').where('user_id', '=', id).execute();
    await trx.deleteFrom('identity_access_rule').where('user_id', '=', id).execute();
    await trx.updateTable('identity_trust').set({ deleted_at: isoTime(deps.now()) })
      .where((eb) => eb.or([eb('trustor_user_id', '=', id), eb('trustee_user_id', '=', id)])).execute();
    await trx.deleteFrom('identity_user').where('id', '=', id).execute();
    await addRevocation(trx, deps.now(), { user_id: id });
  });
}

// ---- groups ----

export interface GroupInput {
  name: string;
  domain_id?: string;
  description?: string;
  [extra: string]: unknown;
}

export function renderGroup(row: GroupTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    description: row.description,
    links: { self: `${base}/groups/${row.id}` },
  };
}

export async function getGroup(db: Db, id: string): Promise<GroupTable> {
  const row = await db.selectFrom('identity_group').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find group: ${id}.`);
  return row;
}

export async function listGroups(db: Db, f: { name?: string; domain_id?: string; ids?: string[] }): Promise<GroupTable[]> {
  let q = db.selectFrom('identity_group').selectAll();
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domain_id !== undefined) q = q.where('domain_id', '=', f.domain_id);
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', f.ids);
  }
  return q.orderBy('name').execute();
}

const duplicateGroup = (name: string, domainId: string) =>
  conflict(`Conflict occurred attempting to store group - Duplicate entry found with name ${name} at domain ID ${domainId}.`);

async function findGroupByName(db: Db, domainId: string, name: string) {
  return db.selectFrom('identity_group').select('id').where('domain_id', '=', domainId).where('name', '=', name).executeTakeFirst();
}

export async function createGroup(deps: IdentityDeps, input: GroupInput): Promise<GroupTable> {
  return writeTransaction(deps, async (trx) => {
    const domainId = input.domain_id ?? DEFAULT_DOMAIN_ID;
    await getDomain(trx, domainId);
    if (await findGroupByName(trx, domainId, input.name)) throw duplicateGroup(input.name, domainId);
    const row: GroupTable = {
      id: deps.newId(),
      name: input.name,
      domain_id: domainId,
      description: input.description ?? '',
      extra: JSON.stringify(splitExtra(input, GROUP_KNOWN)),
    };
    await trx.insertInto('identity_group').values(row).execute();
    return row;
  });
}

export async function updateGroup(deps: IdentityDeps, id: string, patch: Partial<GroupInput>): Promise<GroupTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getGroup(trx, id);
    if (patch.domain_id !== undefined && patch.domain_id !== row.domain_id) throw new KumoError('ERR_VALIDATION', 'Update of `domain_id` is not allowed.');
    const next: GroupTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, GROUP_KNOWN) }),
    };
    if (next.name !== row.name) {
      const other = await findGroupByName(trx, row.domain_id, next.name);
      if (other && other.id !== id) throw duplicateGroup(next.name, row.domain_id);
    }
    await trx.updateTable('identity_group').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteGroup(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getGroup(trx, id);
    await trx.deleteFrom('identity_assignment').where('actor_type', '=', 'group').where('actor_id', '=', id).execute();
    await trx.deleteFrom('identity_user_group').where('group_id', '=', id).execute();
    await trx.deleteFrom('identity_group').where('id', '=', id).execute();
  });
}

export async function addUserToGroup(deps: IdentityDeps, groupId: string, userId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getGroup(trx, groupId);
    await getUser(trx, userId);
    await trx.insertInto('identity_user_group').values({ user_id: userId, group_id: groupId })
      .onConflict((oc) => oc.columns(['user_id', 'group_id']).doNothing()).execute();
  });
}

export async function removeUserFromGroup(deps: IdentityDeps, groupId: string, userId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getGroup(trx, groupId);
    await getUser(trx, userId);
    const res = await trx.deleteFrom('identity_user_group').where('user_id', '=', userId).where('group_id', '=', groupId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`User ${userId} is not a member of group ${groupId}.`);
  });
}

export async function isUserInGroup(db: Db, groupId: string, userId: string): Promise<boolean> {
  await getGroup(db, groupId);
  await getUser(db, userId);
  return !!(await db.selectFrom('identity_user_group').select('user_id').where('user_id', '=', userId).where('group_id', '=', groupId).executeTakeFirst());
}

export async function groupIdsOfUser(db: Db, userId: string): Promise<string[]> {
  return (await db.selectFrom('identity_user_group').select('group_id').where('user_id', '=', userId).execute()).map((r) => r.group_id);
}

export async function userIdsInGroup(db: Db, groupId: string): Promise<string[]> {
  return (await db.selectFrom('identity_user_group').select('user_id').where('group_id', '=', groupId).execute()).map((r) => r.user_id);
}
