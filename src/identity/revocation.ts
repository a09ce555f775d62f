/**
 * Revocation events: "tokens issued before T that match these fields are void". Checked on
 * every validation; events older than any token could live are pruned.
 * @module
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/database.js';
import type { RevocationTable } from './schema.js';
import type { TokenPayload } from './token-format.js';

export type RevocationFields = Partial<Pick<RevocationTable, 'user_id' | 'project_id' | 'domain_id' | 'role_id' | 'trust_id' | 'audit_id' | 'application_credential_id'>>;

export async function addRevocation(db: Db, nowMs: number, fields: RevocationFields): Promise<void> {
  await db
    .insertInto('identity_revocation')
    .values({
      user_id: fields.user_id ?? null,
      project_id: fields.project_id ?? null,
      domain_id: fields.domain_id ?? null,
      role_id: fields.role_id ?? null,
      trust_id: fields.trust_id ?? null,
      audit_id: fields.audit_id ?? null,
      application_credential_id: fields.application_credential_id ?? null,
      issued_before: nowMs,
      revoked_at: nowMs,
    })
    .execute();
}

export interface RevocationSubject {
  payload: TokenPayload;
  /** Domain of the token's user and of its scope. */
  domainIds: string[];
}

/** True when an event voids this token. Only events newer than the token's issue time are read. */
export async function isRevoked(db: Db, subject: RevocationSubject): Promise<boolean> {
  const p = subject.payload;
  const events = await db
    .selectFrom('identity_revocation')
    .selectAll()
    .where('issued_before', '>=', p.issuedAt)
    .where((eb) =>
      eb.or([
        eb('user_id', '=', p.userId),
        eb('audit_id', 'in', p.auditIds),
        ...(p.scope.type === 'project' ? [eb('project_id', '=', p.scope.id)] : []),
        ...(subject.domainIds.length ? [eb('domain_id', 'in', subject.domainIds)] : []),
        ...(p.trustId ? [eb('trust_id', '=', p.trustId)] : []),
        ...(p.applicationCredentialId ? [eb('application_credential_id', '=', p.applicationCredentialId)] : []),
      ]),
    )
    .execute();
  return events.some((e) => matches(e, subject));
}

function matches(e: Selectable<RevocationTable>, s: RevocationSubject): boolean {
  const p = s.payload;
  if (e.user_id !== null && e.user_id !== p.userId) return false;
  if (e.audit_id !== null && !p.auditIds.includes(e.audit_id)) return false;
  if (e.project_id !== null && !(p.scope.type === 'project' && p.scope.id === e.project_id)) return false;
  if (e.domain_id !== null && !s.domainIds.includes(e.domain_id)) return false;
  if (e.trust_id !== null && e.trust_id !== p.trustId) return false;
  if (e.application_credential_id !== null && e.application_credential_id !== p.applicationCredentialId) return false;
  // Role revocations are not needed: roles are recomputed at each validation.
  return e.role_id === null;
}

export async function pruneRevocations(db: Db, olderThanMs: number): Promise<void> {
  await db.deleteFrom('identity_revocation').where('issued_before', '<', olderThanMs).execute();
}
