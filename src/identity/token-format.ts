/**
 * What a Kumo token carries inside its fernet envelope. Nothing about the token is stored:
 * validation decrypts it and re-reads the user, scope and roles, so revocation and role
 * changes take effect at once.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { fernetDecrypt, fernetEncrypt } from './fernet.js';
import type { FernetKey } from './fernet.js';

export type AuthMethod = 'password' | 'token' | 'application_credential';
const METHOD_BITS: Record<AuthMethod, number> = { password: 1, token: 2, application_credential: 4 };

export type TokenScope =
  | { type: 'project'; id: string }
  | { type: 'domain'; id: string }
  | { type: 'system' }
  | { type: 'unscoped' };

export interface TokenPayload {
  userId: string;
  methods: AuthMethod[];
  scope: TokenScope;
  /** Epoch milliseconds. */
  issuedAt: number;
  expiresAt: number;
  /** This token's audit id, then the audit id of the token it was rescoped from (if any). */
  auditIds: string[];
  trustId?: string;
  applicationCredentialId?: string;
}

const FORMAT_VERSION = 1;
const SCOPE_CODES = { unscoped: 0, project: 1, domain: 2, system: 3 } as const;

export function newAuditId(): string {
  return randomBytes(16).toString('base64url');
}

export function encodeToken(key: FernetKey, payload: TokenPayload): string {
  const bits = payload.methods.reduce((acc, m) => acc | METHOD_BITS[m], 0);
  const scope = payload.scope;
  const body = [
    FORMAT_VERSION,
    payload.userId,
    bits,
    SCOPE_CODES[scope.type],
    'id' in scope ? scope.id : null,
    payload.issuedAt,
    payload.expiresAt,
    payload.auditIds,
    payload.trustId ?? null,
    payload.applicationCredentialId ?? null,
  ];
  return fernetEncrypt(key, Buffer.from(JSON.stringify(body)), { nowSeconds: payload.issuedAt / 1000 });
}

/** Undefined for anything that is not a well-formed token of ours (never throws). */
export function decodeToken(keys: readonly FernetKey[], token: string, nowMs: number): TokenPayload | undefined {
  const out = fernetDecrypt(keys, token, { nowSeconds: nowMs / 1000 });
  if (!out) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(out.plaintext.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(body) || body[0] !== FORMAT_VERSION || body.length !== 10) return undefined;
  const [, userId, bits, scopeCode, scopeId, issuedAt, expiresAt, auditIds, trustId, appCredId] = body as [
    number, string, number, number, string | null, number, number, string[], string | null, string | null,
  ];
  const methods = (Object.keys(METHOD_BITS) as AuthMethod[]).filter((m) => bits & METHOD_BITS[m]);
  let scope: TokenScope;
  if (scopeCode === SCOPE_CODES.project && scopeId) scope = { type: 'project', id: scopeId };
  else if (scopeCode === SCOPE_CODES.domain && scopeId) scope = { type: 'domain', id: scopeId };
  else if (scopeCode === SCOPE_CODES.system) scope = { type: 'system' };
  else scope = { type: 'unscoped' };
  return {
    userId,
    methods,
    scope,
    issuedAt,
    expiresAt,
    auditIds,
    ...(trustId ? { trustId } : {}),
    ...(appCredId ? { applicationCredentialId: appCredId } : {}),
  };
}
