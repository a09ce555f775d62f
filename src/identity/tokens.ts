/**
 * Authentication (password, token, application_credential; project, domain, system, trust
 * scopes), token issue and validation. Validation results are cached per token and trusted
 * only while the store's identity revision is unchanged, so any write (revocation, role
 * change, disable) takes effect on the next request, on every replica.
 * @module
 */
import { KumoError, forbidden, notFound, unauthorized } from '../errors.js';
import { readRevision } from '../store/revision.js';
import type { DomainTable, ProjectTable, UserTable } from './schema.js';
import { IDENTITY_REVISION, isoTime, parseTime, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { appCredEffectiveRoleIds, findAppCred, findAppCredByName } from './app-credentials.js';
import type { AppCredDetail } from './app-credentials.js';
import { buildCatalog } from './catalog.js';
import { allowedEndpointIds } from './endpoint-filter.js';
import type { CatalogEntry } from './catalog.js';
import { findDomain, findDomainByName } from './domains.js';
import { verifyPassword } from './password.js';
import { findProject, findProjectByName } from './projects.js';
import { addRevocation, isRevoked } from './revocation.js';
import { effectiveRoleIds, expandImpliedRoles, roleRef } from './roles.js';
import type { RoleRef } from './roles.js';
import { decodeToken, encodeToken, newAuditId } from './token-format.js';
import type { AuthMethod, TokenPayload, TokenScope } from './token-format.js';
import { consumeTrustUse, findLiveTrust } from './trusts.js';
import type { TrustDetail } from './trusts.js';
import { findUser, findUserByName } from './users.js';


/** Everything known about a valid token: what policy checks and what the token body shows. */
export interface ValidatedToken {
  token: string;
  payload: TokenPayload;
  user: UserTable;
  userDomain: DomainTable;
  /** The user whose identity the token acts as (the trustor under impersonation). */
  project?: ProjectTable & { domainName: string };
  domain?: DomainTable;
  system: boolean;
  roles: RoleRef[];
  trust?: TrustDetail;
  applicationCredential?: AppCredDetail;
  catalog: CatalogEntry[];
}

// ---- request bodies ----

interface DomainRef { id?: string; name?: string }
interface UserRef { id?: string; name?: string; domain?: DomainRef; password?: string }
export interface AuthRequest {
  identity: {
    methods: string[];
    password?: { user?: UserRef };
    token?: { id?: string };
    application_credential?: { id?: string; name?: string; secret?: string; user?: UserRef };
  };
  scope?: 'unscoped' | {
    project?: { id?: string; name?: string; domain?: DomainRef };
    domain?: DomainRef;
    system?: { all?: boolean };
    'OS-TRUST:trust'?: { id?: string };
  };
}

async function resolveDomain(deps: IdentityDeps, ref: DomainRef | undefined): Promise<DomainTable> {
  const d = ref?.id ? await findDomain(deps.db, ref.id) : ref?.name ? await findDomainByName(deps.db, ref.name) : undefined;
  if (!d) throw unauthorized();
  return d;
}

async function resolveUser(deps: IdentityDeps, ref: UserRef | undefined): Promise<UserTable> {
  if (!ref) throw new KumoError('ERR_VALIDATION', "Invalid input for field 'identity': a user is required.");
  let user: UserTable | undefined;
  if (ref.id) user = await findUser(deps.db, ref.id);
  else if (ref.name) {
    if (!ref.domain) throw new KumoError('ERR_VALIDATION', 'A user name needs a domain (user.domain.id or user.domain.name).');
    user = await findUserByName(deps.db, (await resolveDomain(deps, ref.domain)).id, ref.name);
  } else throw new KumoError('ERR_VALIDATION', "Invalid input for field 'user': an id or a name is required.");
  if (!user) throw unauthorized();
  return user;
}

async function checkUserUsable(deps: IdentityDeps, user: UserTable): Promise<DomainTable> {
  if (user.enabled !== 1) throw unauthorized();
  const domain = await findDomain(deps.db, user.domain_id);
  if (!domain || domain.enabled !== 1) throw unauthorized();
  return domain;
}

export interface IssuedToken {
  token: string;
  validated: ValidatedToken;
}

/** POST /v3/auth/tokens. Throws 401 for every authentication failure, without saying which part failed. */
export async function authenticate(deps: IdentityDeps, req: AuthRequest): Promise<IssuedToken> {
  const methods = req.identity.methods;
  if (!Array.isArray(methods) || methods.length === 0) throw new KumoError('ERR_VALIDATION', "Invalid input for field 'identity/methods': at least one method is required.");
  for (const m of methods) {
    if (!['password', 'token', 'application_credential'].includes(m)) throw unauthorized(`Attempted to authenticate with an unsupported method: ${m}.`);
    if (!(req.identity as Record<string, unknown>)[m]) throw new KumoError('ERR_VALIDATION', `Invalid input for field 'identity': the ${m} method needs its parameters.`);
  }
  const now = deps.now();
  let userId: string | undefined;
  let expiresAt = now + deps.config.identity.tokenExpirationSeconds * 1000;
  let parentAuditId: string | undefined;
  let appCred: AppCredDetail | undefined;
  let fromToken: ValidatedToken | undefined;

  const setUser = (id: string) => {
    if (userId && userId !== id) throw unauthorized('The methods identify different users.');
    userId = id;
  };

  if (methods.includes('password')) {
    const ref = req.identity.password!.user;
    const user = await resolveUser(deps, ref);
    if (typeof ref?.password !== 'string' || !user.password_hash || !(await verifyPassword(ref.password, user.password_hash))) {
      throw unauthorized();
    }
    await checkUserUsable(deps, user);
    setUser(user.id);
  }
  if (methods.includes('token')) {
    const id = req.identity.token!.id;
    if (!id) throw new KumoError('ERR_VALIDATION', "Invalid input for field 'token': an id is required.");
    fromToken = await validateToken(deps, id).catch(() => { throw unauthorized(); });
    if (fromToken.applicationCredential) throw forbidden('Rescoping a token obtained with an application credential is not allowed.');
    if (fromToken.trust) throw forbidden('Rescoping a trust-scoped token is not allowed.');
    setUser(fromToken.payload.userId);
    expiresAt = fromToken.payload.expiresAt;
    parentAuditId = fromToken.payload.auditIds[0];
  }
  if (methods.includes('application_credential')) {
    const ac = req.identity.application_credential!;
    if (ac.id) appCred = await findAppCred(deps.db, ac.id);
    else if (ac.name) appCred = await findAppCredByName(deps.db, (await resolveUser(deps, ac.user)).id, ac.name);
    else throw new KumoError('ERR_VALIDATION', "Invalid input for field 'application_credential': an id or a name is required.");
    if (!appCred || typeof ac.secret !== 'string' || !(await verifyPassword(ac.secret, appCred.row.secret_hash))) throw unauthorized();
    if (appCred.row.expires_at && (parseTime(appCred.row.expires_at) ?? 0) <= now) throw unauthorized();
    const user = await findUser(deps.db, appCred.row.user_id);
    if (!user) throw unauthorized();
    await checkUserUsable(deps, user);
    setUser(user.id);
    if (appCred.row.expires_at) expiresAt = Math.min(expiresAt, parseTime(appCred.row.expires_at)!);
  }
  const user = await findUser(deps.db, userId!);
  if (!user) throw unauthorized();

  // Scope
  let scope: TokenScope = { type: 'unscoped' };
  let trust: TrustDetail | undefined;
  const s = req.scope;
  if (appCred) {
    if (s && s !== 'unscoped' && (s.domain || s.system || s['OS-TRUST:trust'])) throw unauthorized('Application credentials cannot request a scope.');
    if (s && s !== 'unscoped' && s.project) {
      const p = await resolveProjectRef(deps, s.project);
      if (p.id !== appCred.row.project_id) throw unauthorized('Application credentials cannot request a scope.');
    }
    scope = { type: 'project', id: appCred.row.project_id! };
  } else if (s && s !== 'unscoped') {
    const kinds = [s.project, s.domain, s.system, s['OS-TRUST:trust']].filter((x) => x !== undefined).length;
    if (kinds > 1) throw new KumoError('ERR_VALIDATION', 'Specify only one of project, domain, system or trust scope.');
    if (s.project) scope = { type: 'project', id: (await resolveProjectRef(deps, s.project)).id };
    else if (s.domain) {
      const d = s.domain.id ? await findDomain(deps.db, s.domain.id) : s.domain.name ? await findDomainByName(deps.db, s.domain.name) : undefined;
      if (!d) throw unauthorized(`Could not find domain: ${s.domain.id ?? s.domain.name}.`);
      scope = { type: 'domain', id: d.id };
    } else if (s.system) {
      if (s.system.all !== true) throw new KumoError('ERR_VALIDATION', "Invalid input for field 'scope/system': only {\"all\": true} is supported.");
      scope = { type: 'system' };
    } else if (s['OS-TRUST:trust']) {
      const trustId = s['OS-TRUST:trust'].id;
      trust = trustId ? await findLiveTrust(deps.db, trustId, now) : undefined;
      if (!trust) throw unauthorized('Could not find trust.');
      if (trust.row.trustee_user_id !== user.id) throw forbidden('The user is not the trustee of this trust.');
      if (trust.row.remaining_uses !== null && trust.row.remaining_uses <= 0) throw unauthorized('The trust has no remaining uses.');
      if (trust.row.project_id) scope = { type: 'project', id: trust.row.project_id };
      if (trust.row.expires_at) expiresAt = Math.min(expiresAt, parseTime(trust.row.expires_at)!);
    }
  } else if (!s && user.default_project_id && !fromToken) {
    // Keystone scopes to the default project when the user still has a role there.
    const p = await findProject(deps.db, user.default_project_id);
    if (p && p.enabled === 1 && (await effectiveRoleIds(deps.db, user.id, { type: 'project', id: p.id })).length) scope = { type: 'project', id: p.id };
  } else if (!s && fromToken) {
    // A token re-issued without a scope keeps the scope of the one it came from.
    scope = fromToken.payload.scope;
  }

  const payload: TokenPayload = {
    userId: trust && trust.row.impersonation === 1 ? trust.row.trustor_user_id : user.id,
    methods: [...new Set([...(fromToken?.payload.methods ?? []), ...methods])] as AuthMethod[],
    scope,
    issuedAt: now,
    expiresAt: fromToken ? Math.min(expiresAt, fromToken.payload.expiresAt) : expiresAt,
    auditIds: parentAuditId ? [newAuditId(), parentAuditId] : [newAuditId()],
    ...(trust ? { trustId: trust.row.id } : {}),
    ...(appCred ? { applicationCredentialId: appCred.row.id } : {}),
  };
  const token = encodeToken(deps.keys.primary(), payload);
  // Build the body through the same path as validation, so that issue and validate never disagree.
  const validated = await validatePayload(deps, token, payload, { authenticating: true, revision: await readRevision(deps.db, IDENTITY_REVISION) });
  if (trust) await consumeTrustUse(deps, trust);
  return { token, validated };
}

async function resolveProjectRef(deps: IdentityDeps, ref: { id?: string; name?: string; domain?: DomainRef }): Promise<ProjectTable> {
  let p: ProjectTable | undefined;
  if (ref.id) p = await findProject(deps.db, ref.id);
  else if (ref.name) {
    if (!ref.domain) throw new KumoError('ERR_VALIDATION', 'A project name needs a domain (project.domain.id or project.domain.name).');
    const d = ref.domain.id ? await findDomain(deps.db, ref.domain.id) : ref.domain.name ? await findDomainByName(deps.db, ref.domain.name) : undefined;
    if (!d) throw unauthorized(`Could not find domain: ${ref.domain.id ?? ref.domain.name}.`);
    p = await findProjectByName(deps.db, d.id, ref.name);
  } else throw new KumoError('ERR_VALIDATION', "Invalid input for field 'scope/project': an id or a name is required.");
  if (!p) throw unauthorized(`Could not find project: ${ref.id ?? ref.name}.`);
  return p;
}

// ---- validation ----

interface CacheEntry { revision: number; keyGeneration: number; validated: ValidatedToken }
const CACHE_LIMIT = 10_000;
const caches = new WeakMap<IdentityDeps, Map<string, CacheEntry>>();

function cacheOf(deps: IdentityDeps): Map<string, CacheEntry> {
  let c = caches.get(deps);
  if (!c) caches.set(deps, (c = new Map()));
  return c;
}

export interface ValidateOptions {
  /** Accept a token that expired (GET /v3/auth/tokens?allow_expired=true), within the same window Keystone allows. */
  allowExpired?: boolean;
}

/** Validates a token or throws 404 (the caller decides whether that means 401). */
export async function validateToken(deps: IdentityDeps, token: string, options: ValidateOptions = {}): Promise<ValidatedToken> {
  const now = deps.now();
  const revision = await readRevision(deps.db, IDENTITY_REVISION);
  const cache = cacheOf(deps);
  const keyGeneration = deps.keys.generation();
  const hit = cache.get(token);
  if (hit && hit.revision === revision && hit.keyGeneration === keyGeneration) {
    if (hit.validated.payload.expiresAt > now || (options.allowExpired && hit.validated.payload.expiresAt + ALLOW_EXPIRED_WINDOW_MS > now)) return hit.validated;
    throw notFound('Could not recognize Fernet token');
  }
  const payload = decodeToken(deps.keys.all(), token, now);
  if (!payload) throw notFound('Could not recognize Fernet token');
  if (payload.expiresAt <= now && !(options.allowExpired && payload.expiresAt + ALLOW_EXPIRED_WINDOW_MS > now)) {
    throw notFound('The token has expired.');
  }
  const validated = await validatePayload(deps, token, payload, { revision });
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(token, { revision, keyGeneration, validated });
  return validated;
}

/** Keystone's default `[token] allow_expired_window`: two days. */
export const ALLOW_EXPIRED_WINDOW_MS = 2 * 24 * 3600 * 1000;

/** Everything a token's subject and scope resolve to: shared by every token with the same subject and scope. */
type ScopeData = Omit<ValidatedToken, 'token' | 'payload'> & { scopeDomainIds: string[] };

const scopeCaches = new WeakMap<IdentityDeps, Map<string, { revision: number; data: ScopeData }>>();

/**
 * Builds a token's body from its payload. The part that depends only on who and what scope
 * (user, project, roles, catalog) is cached per revision, so issuing and validating many
 * tokens for one subject reads the store once; revocation is checked per token.
 */
async function validatePayload(deps: IdentityDeps, token: string, payload: TokenPayload, opts: { authenticating?: boolean; revision: number }): Promise<ValidatedToken> {
  const invalid = (why: string) => (opts.authenticating ? unauthorized(why) : notFound(why));
  const scope = payload.scope;
  const key = [payload.userId, scope.type, 'id' in scope ? scope.id : '', payload.trustId ?? '', payload.applicationCredentialId ?? ''].join('|');
  let cache = scopeCaches.get(deps);
  if (!cache) scopeCaches.set(deps, (cache = new Map()));
  let data = cache.get(key)?.revision === opts.revision ? cache.get(key)!.data : undefined;
  if (!data) {
    data = await resolveScope(deps, payload, invalid);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, { revision: opts.revision, data });
  }
  if (!opts.authenticating && (await isRevoked(deps.db, { payload, domainIds: data.scopeDomainIds }))) throw notFound('The token has been revoked.');
  const { scopeDomainIds: _ids, ...rest } = data;
  return { token, payload, ...rest };
}

async function resolveScope(deps: IdentityDeps, payload: TokenPayload, invalid: (why: string) => KumoError): Promise<ScopeData> {
  const db = deps.db;
  const user = await findUser(db, payload.userId);
  if (!user || user.enabled !== 1) throw invalid('The user of the token is disabled or gone.');
  const userDomain = await findDomain(db, user.domain_id);
  if (!userDomain || userDomain.enabled !== 1) throw invalid('The domain of the token user is disabled.');

  let trust: TrustDetail | undefined;
  if (payload.trustId) {
    trust = await findLiveTrust(db, payload.trustId, deps.now());
    if (!trust) throw invalid('The trust of the token is gone or expired.');
    const trustee = await findUser(db, trust.row.trustee_user_id);
    const trustor = await findUser(db, trust.row.trustor_user_id);
    if (!trustee || trustee.enabled !== 1 || !trustor || trustor.enabled !== 1) throw invalid('The trustor or trustee is disabled.');
  }
  let appCred: AppCredDetail | undefined;
  if (payload.applicationCredentialId) {
    appCred = await findAppCred(db, payload.applicationCredentialId);
    if (!appCred) throw invalid('The application credential of the token is gone.');
  }

  let project: ValidatedToken['project'];
  let domain: DomainTable | undefined;
  let roleIds: string[] = [];
  const scope = payload.scope;
  const scopeDomainIds = [user.domain_id];
  if (scope.type === 'project') {
    const p = await findProject(db, scope.id);
    if (!p || p.enabled !== 1) throw invalid(`Project ${scope.id} is disabled or gone.`);
    const pd = await findDomain(db, p.domain_id);
    if (!pd || pd.enabled !== 1) throw invalid('The domain of the project is disabled.');
    project = { ...p, domainName: pd.name };
    scopeDomainIds.push(p.domain_id);
    if (trust) {
      const trustorRoles = new Set(await effectiveRoleIds(db, trust.row.trustor_user_id, scope));
      const wanted = trust.roles.map((r) => r.id);
      if (!wanted.every((id) => trustorRoles.has(id))) throw invalid('The trustor no longer holds the delegated roles.');
      roleIds = [...(await expandImpliedRoles(db, wanted)).keys()];
    } else if (appCred) {
      roleIds = await appCredEffectiveRoleIds(db, appCred);
    } else {
      roleIds = await effectiveRoleIds(db, user.id, scope);
    }
    if (roleIds.length === 0) throw invalid(`User ${user.id} has no access to project ${scope.id}.`);
  } else if (scope.type === 'domain') {
    domain = await findDomain(db, scope.id);
    if (!domain || domain.enabled !== 1) throw invalid(`Domain ${scope.id} is disabled or gone.`);
    scopeDomainIds.push(domain.id);
    roleIds = await effectiveRoleIds(db, user.id, { type: 'domain', id: domain.id });
    if (roleIds.length === 0) throw invalid(`User ${user.id} has no access to domain ${scope.id}.`);
  } else if (scope.type === 'system') {
    roleIds = await effectiveRoleIds(db, user.id, { type: 'system', id: 'all' });
    if (roleIds.length === 0) throw invalid(`User ${user.id} has no access to the system.`);
  }
  const roleRows = roleIds.length ? await db.selectFrom('identity_role').selectAll().where('id', 'in', roleIds).execute() : [];
  // Domain-specific roles only ever act through the global roles they imply.
  const roles = roleRows.filter((r) => !r.domain_id).map(roleRef).sort((a, b) => a.name.localeCompare(b.name));
  if (scope.type !== 'unscoped' && roles.length === 0) throw invalid(`User ${user.id} has no role on the requested scope.`);
  const catalog = scope.type === 'unscoped' ? [] : await buildCatalog(db, project?.id, project ? await allowedEndpointIds(db, project.id) : undefined);
  return { user, userDomain, project, domain, system: scope.type === 'system', roles, trust, applicationCredential: appCred, catalog, scopeDomainIds };
}

/** DELETE /v3/auth/tokens: voids this token and every token re-issued from it. */
export async function revokeToken(deps: IdentityDeps, v: ValidatedToken): Promise<void> {
  await writeTransaction(deps, async (trx) => addRevocation(trx, deps.now(), { audit_id: v.payload.auditIds[0] }));
}

// ---- rendering ----

export function renderTokenBody(v: ValidatedToken, opts: { includeCatalog: boolean }) {
  const p = v.payload;
  const body: Record<string, unknown> = {
    methods: p.methods,
    user: {
      id: v.user.id,
      name: v.user.name,
      domain: { id: v.userDomain.id, name: v.userDomain.name },
      password_expires_at: null,
    },
    audit_ids: p.auditIds,
    expires_at: isoTime(p.expiresAt),
    issued_at: isoTime(p.issuedAt),
  };
  if (v.project) {
    body.project = { id: v.project.id, name: v.project.name, domain: { id: v.project.domain_id, name: v.project.domainName } };
    body.is_domain = false;
  }
  if (v.domain) body.domain = { id: v.domain.id, name: v.domain.name };
  if (v.system) body.system = { all: true };
  if (p.scope.type !== 'unscoped') body.roles = v.roles.map((r) => ({ id: r.id, name: r.name }));
  if (v.trust) {
    body['OS-TRUST:trust'] = {
      id: v.trust.row.id,
      impersonation: v.trust.row.impersonation === 1,
      trustee_user: { id: v.trust.row.trustee_user_id },
      trustor_user: { id: v.trust.row.trustor_user_id },
    };
  }
  if (v.applicationCredential) {
    const ac = v.applicationCredential;
    body.application_credential = {
      id: ac.row.id,
      name: ac.row.name,
      restricted: ac.row.unrestricted !== 1,
      ...(ac.accessRules.length ? { access_rules: ac.accessRules.map((a) => ({ id: a.id, service: a.service, path: a.path, method: a.method })) } : {}),
    };
  }
  if (opts.includeCatalog && p.scope.type !== 'unscoped') body.catalog = v.catalog;
  return { token: body };
}
