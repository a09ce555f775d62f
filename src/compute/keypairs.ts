/**
 * Nova keypairs: public keys a user keeps under a name, injected into servers (metadata service
 * and config drive). Import checks the key's OpenSSH wire format; generation makes an RSA key (and
 * for x509 a self-signed certificate) as Nova does (removed at 2.92, where a public key is required).
 * @module
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { Selectable } from 'kysely';
import { conflict } from '../errors.js';
import { adminOnly, invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { checkCountQuota } from './quotas.js';
import type { KeypairTable } from './schema.js';
import { generateX509Keypair } from './x509-keypair.js';

export type KeypairRow = Selectable<KeypairTable>;

const SSH_TYPES = ['ssh-rsa', 'ssh-ed25519', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'];

const colonHex = (digest: Buffer) => [...digest].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** The MD5 fingerprint of an OpenSSH public key line (`type base64 [comment]`), or null when it is not one. */
export function sshFingerprint(publicKey: string): string | null {
  const parts = publicKey.trim().split(/\s+/);
  if (parts.length < 2 || !SSH_TYPES.includes(parts[0]) || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) return null;
  const blob = Buffer.from(parts[1], 'base64');
  // The blob starts with the key type as an SSH string: a 4-byte length and the name.
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4 || blob.subarray(4, 4 + len).toString('latin1') !== parts[0] || blob.length <= 4 + len) return null;
  return colonHex(createHash('md5').update(blob).digest());
}

function x509Fingerprint(pem: string): string | null {
  try {
    return colonHex(createHash('sha1').update(new X509Certificate(pem).raw).digest());
  } catch {
    return null;
  }
}

function sshString(b: Buffer): Buffer {
  const out = Buffer.alloc(4 + b.length);
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}
/** An SSH mpint: big-endian, with a zero byte in front when the top bit is set. */
const mpint = (b: Buffer) => sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

/** A new RSA key pair: the private key as PKCS#1 PEM (what Nova returns), the public key as an OpenSSH line. */
export function generateRsaKeypair(comment: string): { privateKey: string; publicKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(Buffer.from(jwk.e, 'base64url')), mpint(Buffer.from(jwk.n, 'base64url'))]);
  return { privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}` };
}

export const keypairNotFound = (name: string, userId: string) => novaError('ERR_NOT_FOUND', `Keypair ${name} not found for user ${userId}`);

function checkName(name: unknown, minor: number): string {
  // 2.92 widened the allowed characters to '@' and '.'.
  const pattern = minor >= 92 ? /^[a-zA-Z0-9 @._-]+$/ : /^[a-zA-Z0-9 _-]+$/;
  if (typeof name !== 'string' || name.length < 1 || name.length > 255 || !pattern.test(name) || name.trim() !== name) {
    throw invalid(`Invalid input for field/attribute name. Value: ${String(name)}. Keypair name contains unsafe characters or is not 1 to 255 characters`);
  }
  return name;
}

export interface KeypairInput { name?: unknown; public_key?: unknown; type?: unknown; user_id?: unknown }

export async function createKeypair(deps: ComputeDeps, caller: Caller, input: KeypairInput, minor: number): Promise<KeypairRow & { private_key?: string }> {
  const name = checkName(input.name, minor);
  let userId = caller.userId;
  if (input.user_id !== undefined) {
    if (minor < 10) throw invalid("Invalid input for field/attribute keypair. Additional properties are not allowed ('user_id' was unexpected)");
    if (typeof input.user_id !== 'string') throw invalid('Invalid input for field/attribute user_id.');
    if (input.user_id !== caller.userId && !caller.isAdmin) throw adminOnly('os_compute_api:os-keypairs:create');
    userId = input.user_id;
  }
  const type = input.type === undefined ? 'ssh' : input.type;
  if (input.type !== undefined && minor < 2) throw invalid("Invalid input for field/attribute keypair. Additional properties are not allowed ('type' was unexpected)");
  if (type !== 'ssh' && type !== 'x509') throw invalid(`Invalid input for field/attribute type. Value: ${String(type)}. '${String(type)}' is not one of ['ssh', 'x509']`);
  if (input.public_key === undefined && minor >= 92) throw invalid("Invalid input for field/attribute keypair. Value: {}. 'public_key' is a required property");
  if (input.public_key !== undefined && typeof input.public_key !== 'string') throw invalid(`Invalid input for field/attribute public_key. Value: ${String(input.public_key)}. It must be a string`);
  let publicKey: string;
  let privateKey: string | undefined;
  let fingerprint: string | null;
  if (input.public_key !== undefined) {
    publicKey = (input.public_key as string).trim();
    fingerprint = type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
    if (!fingerprint) throw invalid('Keypair data is invalid: failed to generate fingerprint');
  } else {
    if (type === 'x509') {
      const generated = generateX509Keypair(userId, deps.now());
      publicKey = generated.certificate;
      privateKey = generated.privateKey;
      fingerprint = colonHex(createHash('sha1').update(generated.der).digest());
    } else {
      const generated = generateRsaKeypair(`Generated-by-Kumo`);
      publicKey = generated.publicKey;
      privateKey = generated.privateKey;
      fingerprint = sshFingerprint(publicKey)!;
    }
  }
  await checkCountQuota(deps, caller.projectId, 'key_pairs', async () => Number((await deps.db.selectFrom('compute_keypair').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).executeTakeFirst())?.n ?? 0), 1);
  const exists = await deps.db.selectFrom('compute_keypair').select('name').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  if (exists) throw conflict(`Key pair '${name}' already exists.`);
  const row: KeypairRow = { user_id: userId, name, type, public_key: publicKey, fingerprint, created_at: new Date(deps.now()).toISOString() };
  await deps.db.insertInto('compute_keypair').values(row).execute();
  return privateKey ? { ...row, private_key: privateKey } : row;
}

function targetUser(caller: Caller, userId: string | undefined, action: string): string {
  if (userId === undefined || userId === caller.userId) return caller.userId;
  if (!caller.isAdmin) throw adminOnly(`os_compute_api:os-keypairs:${action}`);
  return userId;
}

export async function getKeypair(deps: ComputeDeps, caller: Caller, name: string, userId?: string): Promise<KeypairRow> {
  const uid = targetUser(caller, userId, 'show');
  const row = await deps.db.selectFrom('compute_keypair').selectAll().where('user_id', '=', uid).where('name', '=', name).executeTakeFirst();
  if (!row) throw keypairNotFound(name, uid);
  return row;
}

export async function listKeypairs(deps: ComputeDeps, caller: Caller, opts: { userId?: string; limit?: number; marker?: string }): Promise<KeypairRow[]> {
  const uid = targetUser(caller, opts.userId, 'index');
  let rows = await deps.db.selectFrom('compute_keypair').selectAll().where('user_id', '=', uid).orderBy('name').execute();
  if (opts.marker !== undefined) {
    const at = rows.findIndex((r) => r.name === opts.marker);
    if (at < 0) throw novaError('ERR_VALIDATION', `marker [${opts.marker}] not found`);
    rows = rows.slice(at + 1);
  }
  return opts.limit !== undefined ? rows.slice(0, opts.limit) : rows;
}

export async function deleteKeypair(deps: ComputeDeps, caller: Caller, name: string, userId?: string): Promise<void> {
  const row = await getKeypair(deps, caller, name, userId);
  await deps.db.deleteFrom('compute_keypair').where('user_id', '=', row.user_id).where('name', '=', name).execute();
}
