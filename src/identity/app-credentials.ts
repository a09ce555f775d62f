import { randomBytes } from 'node:crypto';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { AccessRuleTable, ApplicationCredentialTable } from './schema.js';
import { isoTime, naiveUtcTime, parseTime, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { hashPassword } from './password.js';
import { addRevocation } from './revocation.js';
import { effectiveRoleIds, getRole, roleRef } from './roles.js';
import type { RoleRef } from './roles.js';

export interface AccessRuleInput {
  id?: string;
  service?: string;
  path?: string;
  method?: string;
}

export interface AppCredInput {
  name: string;
  description?: string | null;
  secret?: string | null;
  expires_at?: string | null;
  roles?: { id?: string; name?: string; domain_id?: string | null }[];
  unrestricted?: boolean;
  access_rules?: AccessRuleInput[];
}

export interface AppCredDetail {
  row: ApplicationCredentialTable;
  roles: RoleRef[];
  accessRules: AccessRuleTable[];
}

export function renderAccessRule(r: AccessRuleTable, base: string) {
  return { id: r.id, service: r.service, path: r.path, method: r.method, links: { self: `${base}/users/${r.user_id}/access_rules/${r.id}` } };
}

export function renderAppCred(d: AppCredDetail, base: string, secret?: string) {
  const r = d.row;
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    user_id: r.user_id,
    project_id: r.project_id,
    expires_at: r.expires_at,
    unrestricted: r.unrestricted === 1,
    system: null,
    roles: d.roles,
    access_rules: d.accessRules.map((a) => ({ id: a.id, service: a.service, path: a.path, method: a.method })),
    links: { self: `${base}/users/${r.user_id}/application_credentials/${r.id}` },
    ...(secret !== undefined ? { secret } : {}),
  };
}

async function details(db: Db, rows: ApplicationCredentialTable[]): Promise<AppCredDetail[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const roleLinks = await db.selectFrom('identity_application_credential_role').selectAll().where('application_credential_id', 'in', ids).execute();
  const roles = roleLinks.length
    ? await db.selectFrom('identity_role').selectAll().where('id', 'in', roleLinks.map((l) => l.role_id)).execute()
    : [];
  const roleById = new Map(roles.map((r) => [r.id, r]));
  const ruleLinks = await db.selectFrom('identity_application_credential_access_rule').selectAll().where('application_credential_id', 'in', ids).execute();
  const rules = ruleLinks.length
    ? await db.selectFrom('identity_access_rule').selectAll().where('id', 'in', ruleLinks.map((l) => l.access_rule_id)).execute()
    : [];
  const ruleById = new Map(rules.map((r) => [r.id, r]));
  return rows.map((row) => ({
    row,
    roles: roleLinks.filter((l) => l.application_credential_id === row.id).map((l) => roleById.get(l.role_id)).filter((r) => !!r).map(roleRef),
    accessRules: ruleLinks.filter((l) => l.application_credential_id === row.id).map((l) => ruleById.get(l.access_rule_id)!).filter((r) => !!r),
  }));
}

export async function findAppCred(db: Db, id: string): Promise<AppCredDetail | undefined> {
  const row = await db.selectFrom('identity_application_credential').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? (await details(db, [row]))[0] : undefined;
}

export async function getAppCred(db: Db, userId: string, id: string): Promise<AppCredDetail> {
  const found = await findAppCred(db, id);
  if (!found || found.row.user_id !== userId) throw notFound(`Could not find Application Credential: ${id}.`);
  return found;
}

export async function findAppCredByName(db: Db, userId: string, name: string): Promise<AppCredDetail | undefined> {
  const row = await db.selectFrom('identity_application_credential').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  return row ? (await details(db, [row]))[0] : undefined;
}

export async function listAppCreds(db: Db, userId: string, name?: string): Promise<AppCredDetail[]> {
  let q = db.selectFrom('identity_application_credential').selectAll().where('user_id', '=', userId);
  if (name !== undefined) q = q.where('name', '=', name);
  return details(db, await q.orderBy('name').execute());
}

/**
 * Creates an application credential for the caller's current project. Its roles must be a
 * subset of the roles the caller's token carries; by default it gets all of them.
 */
export async function createAppCred(
  deps: IdentityDeps,
  caller: { userId: string; projectId: string; roleIds: string[]; viaAppCred: boolean; viaTrust: boolean; unrestrictedAppCred: boolean },
  input: AppCredInput,
): Promise<{ detail: AppCredDetail; secret: string }> {
  if (caller.viaTrust) throw forbidden('Cannot create an application credential with a trust-scoped token.');
  if (caller.viaAppCred && !caller.unrestrictedAppCred) throw forbidden('Cannot create an application credential with a restricted application credential.');
  let expiresAt: string | null = null;
  if (input.expires_at) {
    expiresAt = naiveUtcTime(input.expires_at) ?? null;
    if (expiresAt === null) throw badRequest(`Invalid input for field 'expires_at': '${input.expires_at}' is not a valid time.`);
    if (parseTime(expiresAt)! <= deps.now()) throw badRequest('The expiration time of an application credential must be in the future.');
  }
  const secret = input.secret || randomBytes(48).toString('base64url');
  const secretHash = await hashPassword(secret, deps.config.identity.passwordHash);
  return writeTransaction(deps, async (trx) => {
    if (await findAppCredByName(trx, caller.userId, input.name)) {
      throw conflict(`Conflict occurred attempting to store application_credential - Duplicate entry found with name ${input.name}.`);
    }
    let roleIds: string[];
    if (input.roles && input.roles.length) {
      roleIds = [];
      for (const r of input.roles) {
        let role;
        if (r.id) role = await getRole(trx, r.id);
        else if (r.name) {
          role = await trx.selectFrom('identity_role').selectAll().where('name', '=', r.name).where('domain_id', '=', r.domain_id ?? '').executeTakeFirst();
          if (!role) throw notFound(`Could not find role: ${r.name}.`);
        } else throw badRequest("Invalid input for field 'roles': each role needs an id or a name.");
        if (!caller.roleIds.includes(role.id)) throw badRequest(`Could not find role assignment with role: ${role.id}, user or group: ${caller.userId}, project, domain, or system: ${caller.projectId}.`);
        roleIds.push(role.id);
      }
    } else roleIds = caller.roleIds;
    const row: ApplicationCredentialTable = {
      id: deps.newId(),
      name: input.name,
      user_id: caller.userId,
      project_id: caller.projectId,
      secret_hash: secretHash,
      description: input.description ?? null,
      expires_at: expiresAt,
      unrestricted: input.unrestricted ? 1 : 0,
      created_at: isoTime(deps.now()),
    };
    await trx.insertInto('identity_application_credential').values(row).execute();
    const uniqueRoles = [...new Set(roleIds)];
    if (uniqueRoles.length) {
      await trx.insertInto('identity_application_credential_role').values(uniqueRoles.map((role_id) => ({ application_credential_id: row.id, role_id }))).execute();
    }
    for (const rule of input.access_rules ?? []) {
      let ruleId: string;
      if (rule.id) {
        const existing = await trx.selectFrom('identity_access_rule').selectAll().where('id', '=', rule.id).where('user_id', '=', caller.userId).executeTakeFirst();
        if (!existing) throw notFound(`Could not find access rule: ${rule.id}.`);
        ruleId = existing.id;
      } else {
        if (!rule.service || !rule.path || !rule.method) throw badRequest("Invalid input for field 'access_rules': service, path and method are required.");
        const existing = await trx.selectFrom('identity_access_rule').select('id').where('user_id', '=', caller.userId)
          .where('service', '=', rule.service).where('path', '=', rule.path).where('method', '=', rule.method).executeTakeFirst();
        ruleId = existing?.id ?? deps.newId();
        if (!existing) await trx.insertInto('identity_access_rule').values({ id: ruleId, user_id: caller.userId, service: rule.service, path: rule.path, method: rule.method }).execute();
      }
      await trx.insertInto('identity_application_credential_access_rule').values({ application_credential_id: row.id, access_rule_id: ruleId })
        .onConflict((oc) => oc.columns(['application_credential_id', 'access_rule_id']).doNothing()).execute();
    }
    return { detail: (await details(trx, [row]))[0], secret };
  });
}

export async function deleteAppCred(deps: IdentityDeps, userId: string, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getAppCred(trx, userId, id);
    await trx.deleteFrom('identity_application_credential').where('id', '=', id).execute();
    await addRevocation(trx, deps.now(), { application_credential_id: id });
  });
}

/** The roles an application credential still grants: its roles that the user still holds on the project. */
export async function appCredEffectiveRoleIds(db: Db, d: AppCredDetail): Promise<string[]> {
  if (!d.row.project_id) return [];
  const held = new Set(await effectiveRoleIds(db, d.row.user_id, { type: 'project', id: d.row.project_id }));
  return d.roles.map((r) => r.id).filter((id) => held.has(id));
}

export async function listAccessRules(db: Db, userId: string): Promise<AccessRuleTable[]> {
  return db.selectFrom('identity_access_rule').selectAll().where('user_id', '=', userId).execute();
}

export async function getAccessRule(db: Db, userId: string, id: string): Promise<AccessRuleTable> {
  const row = await db.selectFrom('identity_access_rule').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  if (!row) throw notFound(`Could not find access rule: ${id}.`);
  return row;
}

export async function deleteAccessRule(deps: IdentityDeps, userId: string, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getAccessRule(trx, userId, id);
    const used = await trx.selectFrom('identity_application_credential_access_rule').select('application_credential_id').where('access_rule_id', '=', id).executeTakeFirst();
    if (used) throw forbidden(`Cannot delete access rule ${id} because it is in use by an application credential.`);
    await trx.deleteFrom('identity_access_rule').where('id', '=', id).execute();
  });
}
