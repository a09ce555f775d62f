import { badRequest, forbidden, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { RoleTable, TrustTable } from './schema.js';
import { isoTime, parseJsonObject, parseTime, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { getProject } from './projects.js';
import { addRevocation } from './revocation.js';
import { effectiveRoleIds, getRole, renderRole } from './roles.js';
import { getUser } from './users.js';

export interface TrustInput {
  trustor_user_id: string;
  trustee_user_id: string;
  project_id?: string | null;
  impersonation: boolean;
  expires_at?: string | null;
  remaining_uses?: number | null;
  allow_redelegation?: boolean;
  redelegation_count?: number;
  roles?: { id?: string; name?: string }[];
}

export interface TrustDetail {
  row: TrustTable;
  roles: RoleTable[];
}

export function renderTrust(d: TrustDetail, base: string) {
  const r = d.row;
  const extra = parseJsonObject(r.extra);
  return {
    id: r.id,
    trustor_user_id: r.trustor_user_id,
    trustee_user_id: r.trustee_user_id,
    project_id: r.project_id,
    impersonation: r.impersonation === 1,
    expires_at: r.expires_at,
    remaining_uses: r.remaining_uses,
    allow_redelegation: extra.allow_redelegation === true,
    redelegation_count: r.redelegation_count ?? 0,
    redelegated_trust_id: r.redelegated_trust_id,
    roles: d.roles.map((role) => renderRole(role, base)),
    roles_links: { self: `${base}/OS-TRUST/trusts/${r.id}/roles`, previous: null, next: null },
    links: { self: `${base}/OS-TRUST/trusts/${r.id}` },
  };
}

async function withRoles(db: Db, rows: TrustTable[]): Promise<TrustDetail[]> {
  if (rows.length === 0) return [];
  const links = await db.selectFrom('identity_trust_role').selectAll().where('trust_id', 'in', rows.map((r) => r.id)).execute();
  const roles = links.length ? await db.selectFrom('identity_role').selectAll().where('id', 'in', links.map((l) => l.role_id)).execute() : [];
  const byId = new Map(roles.map((r) => [r.id, r]));
  return rows.map((row) => ({ row, roles: links.filter((l) => l.trust_id === row.id).map((l) => byId.get(l.role_id)!).filter((r) => !!r) }));
}

/** A live trust (not deleted, not expired, uses left), or undefined. */
export async function findLiveTrust(db: Db, id: string, nowMs: number): Promise<TrustDetail | undefined> {
  const row = await db.selectFrom('identity_trust').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) return undefined;
  if (row.expires_at && (parseTime(row.expires_at) ?? 0) <= nowMs) return undefined;
  return (await withRoles(db, [row]))[0];
}

export async function getTrust(db: Db, id: string, nowMs: number): Promise<TrustDetail> {
  const found = await findLiveTrust(db, id, nowMs);
  if (!found) throw notFound(`Could not find trust: ${id}.`);
  return found;
}

export async function listTrusts(db: Db, f: { trustor_user_id?: string; trustee_user_id?: string }, nowMs: number): Promise<TrustDetail[]> {
  let q = db.selectFrom('identity_trust').selectAll().where('deleted_at', 'is', null);
  if (f.trustor_user_id) q = q.where('trustor_user_id', '=', f.trustor_user_id);
  if (f.trustee_user_id) q = q.where('trustee_user_id', '=', f.trustee_user_id);
  const rows = (await q.execute()).filter((r) => !r.expires_at || (parseTime(r.expires_at) ?? 0) > nowMs);
  return withRoles(db, rows);
}

export async function createTrust(deps: IdentityDeps, callerUserId: string, input: TrustInput, viaTrust?: TrustDetail): Promise<TrustDetail> {
  if (callerUserId !== input.trustor_user_id) throw forbidden('The authenticated user should match the trustor.');
  if (input.remaining_uses !== undefined && input.remaining_uses !== null && (!Number.isInteger(input.remaining_uses) || input.remaining_uses <= 0)) {
    throw badRequest("Invalid input for field 'remaining_uses': must be a positive integer or null.");
  }
  let expiresAt: string | null = null;
  if (input.expires_at) {
    const ms = parseTime(input.expires_at);
    if (ms === undefined) throw badRequest(`Invalid input for field 'expires_at': '${input.expires_at}' is not a valid time.`);
    if (ms <= deps.now()) throw badRequest('The expiration time of a trust must be in the future.');
    expiresAt = isoTime(ms);
  }
  if ((input.roles?.length ?? 0) > 0 && !input.project_id) throw forbidden('A trust with roles needs a project.');
  return writeTransaction(deps, async (trx) => {
    await getUser(trx, input.trustee_user_id).catch(() => { throw notFound(`Could not find user: ${input.trustee_user_id}.`); });
    if (input.project_id) await getProject(trx, input.project_id);
    if (viaTrust && input.project_id !== viaTrust.row.project_id) throw forbidden('A redelegated trust must be for the same project.');
    const held = input.project_id && !viaTrust ? new Set(await effectiveRoleIds(trx, callerUserId, { type: 'project', id: input.project_id })) : new Set<string>();
    const roleIds: string[] = [];
    for (const r of input.roles ?? []) {
      let role: RoleTable | undefined;
      if (r.id) role = await getRole(trx, r.id);
      else if (r.name) role = await trx.selectFrom('identity_role').selectAll().where('name', '=', r.name).where('domain_id', '=', '').executeTakeFirst();
      if (!role) throw notFound(`Could not find role: ${r.id ?? r.name}.`);
      // A redelegated trust may carry only roles of the trust it comes from; a new one only roles the trustor holds.
      if (viaTrust ? !viaTrust.roles.some((t) => t.id === role!.id) : !held.has(role.id)) {
        throw forbidden(`User ${callerUserId} does not have role ${role.name} on project ${input.project_id}.`);
      }
      roleIds.push(role.id);
    }
    const maxCount = deps.config.identity.maxRedelegationCount;
    let redelegationCount: number | null = input.allow_redelegation ? (input.redelegation_count ?? maxCount) : null;
    if (viaTrust) {
      const parentExtra = parseJsonObject(viaTrust.row.extra);
      if (parentExtra.allow_redelegation !== true) throw forbidden('This trust may not be redelegated.');
      const remaining = (viaTrust.row.redelegation_count ?? 0) - 1;
      if (remaining < 0) throw forbidden('Remaining redelegation depth of the trust is exhausted.');
      redelegationCount = input.allow_redelegation ? Math.min(input.redelegation_count ?? remaining, remaining) : null;
    } else if (redelegationCount !== null && redelegationCount > maxCount) {
      throw forbidden(`Requested redelegation depth of ${redelegationCount} is greater than allowed ${maxCount}.`);
    }
    const row: TrustTable = {
      id: deps.newId(),
      trustor_user_id: input.trustor_user_id,
      trustee_user_id: input.trustee_user_id,
      project_id: input.project_id ?? null,
      impersonation: input.impersonation ? 1 : 0,
      expires_at: expiresAt,
      remaining_uses: input.remaining_uses ?? null,
      redelegated_trust_id: viaTrust?.row.id ?? null,
      redelegation_count: redelegationCount,
      deleted_at: null,
      extra: JSON.stringify({ allow_redelegation: input.allow_redelegation === true }),
      created_at: isoTime(deps.now()),
    };
    await trx.insertInto('identity_trust').values(row).execute();
    const unique = [...new Set(roleIds)];
    if (unique.length) await trx.insertInto('identity_trust_role').values(unique.map((role_id) => ({ trust_id: row.id, role_id }))).execute();
    return (await withRoles(trx, [row]))[0];
  });
}

export async function deleteTrust(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getTrust(trx, id, deps.now());
    // Deleting a trust also voids trusts redelegated from it.
    const ids = [id];
    for (let i = 0; i < ids.length; i++) {
      const children = await trx.selectFrom('identity_trust').select('id').where('redelegated_trust_id', '=', ids[i]).where('deleted_at', 'is', null).execute();
      ids.push(...children.map((c) => c.id));
    }
    await trx.updateTable('identity_trust').set({ deleted_at: isoTime(deps.now()) }).where('id', 'in', ids).execute();
    for (const t of ids) await addRevocation(trx, deps.now(), { trust_id: t });
  });
}

/** Uses up one of a trust's remaining uses; 401 when none are left. */
export async function consumeTrustUse(deps: IdentityDeps, trust: TrustDetail): Promise<void> {
  if (trust.row.remaining_uses === null) return;
  await writeTransaction(deps, async (trx) => {
    const res = await trx.updateTable('identity_trust').set((eb) => ({ remaining_uses: eb('remaining_uses', '-', 1) }))
      .where('id', '=', trust.row.id).where('remaining_uses', '>', 0).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw forbidden('The trust has no remaining uses.');
  });
}
