/** EC2-style (and any other type of) credentials, and the legacy policy blobs of /v3/policies. */
import { createHash, randomBytes } from 'node:crypto';
import { badRequest, conflict, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { CredentialTable, PolicyTable } from './schema.js';
import { isoTime, parseJsonObject, splitExtra, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';

export interface CredentialInput {
  user_id: string;
  project_id?: string | null;
  type: string;
  blob: string;
  [extra: string]: unknown;
}

export function renderCredential(row: CredentialTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    user_id: row.user_id,
    project_id: row.project_id,
    type: row.type,
    blob: row.blob,
    links: { self: `${base}/credentials/${row.id}` },
  };
}

/** EC2 credentials are addressed by the hash of their access key, as Keystone does. */
function credentialId(deps: IdentityDeps, input: CredentialInput): string {
  if (input.type !== 'ec2') return deps.newId();
  let blob: Record<string, unknown>;
  try {
    blob = JSON.parse(input.blob) as Record<string, unknown>;
  } catch {
    throw badRequest('Invalid blob in credential: an ec2 blob must be JSON.');
  }
  if (typeof blob.access !== 'string' || !blob.access) throw badRequest('Invalid blob in credential: an ec2 blob needs an access key.');
  if (!input.project_id && !blob.trust_id) throw badRequest('Invalid blob in credential: an ec2 credential needs a project_id.');
  return createHash('sha256').update(blob.access).digest('hex');
}

export async function getCredential(db: Db, id: string): Promise<CredentialTable> {
  const row = await db.selectFrom('identity_credential').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find credential: ${id}.`);
  return row;
}

export async function listCredentials(db: Db, f: { user_id?: string; type?: string }): Promise<CredentialTable[]> {
  let q = db.selectFrom('identity_credential').selectAll();
  if (f.user_id !== undefined) q = q.where('user_id', '=', f.user_id);
  if (f.type !== undefined) q = q.where('type', '=', f.type);
  return q.execute();
}

export async function createCredential(deps: IdentityDeps, input: CredentialInput): Promise<CredentialTable> {
  const row: CredentialTable = {
    id: credentialId(deps, input),
    user_id: input.user_id,
    project_id: input.project_id ?? null,
    type: input.type,
    blob: input.blob,
    extra: JSON.stringify(splitExtra(input, ['id', 'user_id', 'project_id', 'type', 'blob', 'links'])),
    created_at: isoTime(deps.now()),
  };
  return writeTransaction(deps, async (trx) => {
    const user = await trx.selectFrom('identity_user').select('id').where('id', '=', input.user_id).executeTakeFirst();
    if (!user) throw badRequest(`Could not find user: ${input.user_id}.`);
    if (await trx.selectFrom('identity_credential').select('id').where('id', '=', row.id).executeTakeFirst()) {
      throw conflict(`Conflict occurred attempting to store credential - Duplicate ID, ${row.id}.`);
    }
    await trx.insertInto('identity_credential').values(row).execute();
    return row;
  });
}

export async function updateCredential(deps: IdentityDeps, id: string, patch: Partial<CredentialInput>): Promise<CredentialTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getCredential(trx, id);
    const next: CredentialTable = {
      ...row,
      user_id: patch.user_id ?? row.user_id,
      project_id: patch.project_id === undefined ? row.project_id : patch.project_id,
      type: patch.type ?? row.type,
      blob: patch.blob ?? row.blob,
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, ['id', 'user_id', 'project_id', 'type', 'blob', 'links']) }),
    };
    if (next.type === 'ec2' && !next.project_id) throw badRequest('An ec2 credential needs a project_id.');
    await trx.updateTable('identity_credential').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteCredential(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getCredential(trx, id);
    await trx.deleteFrom('identity_credential').where('id', '=', id).execute();
  });
}

// ---- /v3/policies ----

export interface PolicyInput {
  type: string;
  blob: string;
  [extra: string]: unknown;
}

export function renderPolicy(row: PolicyTable, base: string) {
  return { ...parseJsonObject(row.extra), id: row.id, type: row.type, blob: row.blob, links: { self: `${base}/policies/${row.id}` } };
}

export async function getPolicy(db: Db, id: string): Promise<PolicyTable> {
  const row = await db.selectFrom('identity_policy').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find policy: ${id}.`);
  return row;
}

export async function listPolicies(db: Db, f: { type?: string }): Promise<PolicyTable[]> {
  let q = db.selectFrom('identity_policy').selectAll();
  if (f.type !== undefined) q = q.where('type', '=', f.type);
  return q.execute();
}

export async function createPolicy(deps: IdentityDeps, input: PolicyInput): Promise<PolicyTable> {
  const row: PolicyTable = { id: deps.newId(), type: input.type, blob: input.blob, extra: JSON.stringify(splitExtra(input, ['id', 'type', 'blob', 'links'])) };
  await writeTransaction(deps, (trx) => trx.insertInto('identity_policy').values(row).execute());
  return row;
}

export async function updatePolicy(deps: IdentityDeps, id: string, patch: Partial<PolicyInput>): Promise<PolicyTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getPolicy(trx, id);
    const next = { ...row, type: patch.type ?? row.type, blob: patch.blob ?? row.blob, extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, ['id', 'type', 'blob', 'links']) }) };
    await trx.updateTable('identity_policy').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deletePolicy(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getPolicy(trx, id);
    await trx.deleteFrom('identity_policy').where('id', '=', id).execute();
  });
}

// ---- /v3/users/{user_id}/credentials/OS-EC2 ----

export interface Ec2Credential {
  user_id: string;
  tenant_id: string | null;
  access: string;
  secret: string;
  trust_id: string | null;
}

function ec2FromRow(row: CredentialTable): Ec2Credential {
  const blob = parseJsonObject(row.blob);
  return {
    user_id: row.user_id,
    tenant_id: row.project_id,
    access: String(blob.access ?? ''),
    secret: String(blob.secret ?? ''),
    trust_id: typeof blob.trust_id === 'string' ? blob.trust_id : null,
  };
}

export function renderEc2(c: Ec2Credential, base: string) {
  return { ...c, links: { self: `${base}/users/${c.user_id}/credentials/OS-EC2/${c.access}` } };
}

export async function createEc2Credential(deps: IdentityDeps, userId: string, projectId: string, trustId: string | null): Promise<Ec2Credential> {
  const project = await deps.db.selectFrom('identity_project').select('id').where('id', '=', projectId).executeTakeFirst();
  if (!project) throw notFound(`Could not find project: ${projectId}.`);
  const access = randomBytes(16).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const row = await createCredential(deps, { user_id: userId, project_id: projectId, type: 'ec2', blob: JSON.stringify({ access, secret, trust_id: trustId }) });
  return ec2FromRow(row);
}

export async function listEc2Credentials(db: Db, userId: string): Promise<Ec2Credential[]> {
  return (await listCredentials(db, { user_id: userId, type: 'ec2' })).map(ec2FromRow);
}

export async function getEc2Credential(db: Db, userId: string, access: string): Promise<Ec2Credential> {
  const id = createHash('sha256').update(access).digest('hex');
  const row = await db.selectFrom('identity_credential').selectAll().where('id', '=', id).where('type', '=', 'ec2').executeTakeFirst();
  if (!row || row.user_id !== userId) throw notFound(`Could not find credential: ${access}.`);
  return ec2FromRow(row);
}

export async function deleteEc2Credential(deps: IdentityDeps, userId: string, access: string): Promise<void> {
  await getEc2Credential(deps.db, userId, access);
  await deleteCredential(deps, createHash('sha256').update(access).digest('hex'));
}
