/**
 * Idempotent bootstrap, run at every start: the Default domain, the admin and service
 * projects, the admin/member/reader roles (admin implies member implies reader), the admin
 * user, the region, and a catalog entry per enabled service pointing at this server.
 * @module
 */
import type { IdentityDeps } from './context.js';
import { createEndpoint, createRegion, createService, listEndpoints, listServices, updateEndpoint } from './catalog.js';
import { DEFAULT_DOMAIN_ID, createDomain, findDomain } from './domains.js';
import { createProject, findProjectByName } from './projects.js';
import { createImpliedRole, createRole, findRoleByName, grantRole } from './roles.js';
import { pruneRevocations } from './revocation.js';
import { ALLOW_EXPIRED_WINDOW_MS } from './tokens.js';
import { createUser, findUserByName } from './users.js';

export interface CatalogService {
  type: string;
  name: string;
  description: string;
  /** Full URL; `$(project_id)s` is substituted per token. */
  url: string;
}

export interface BootstrapInput {
  adminPassword: string;
  /** The admin password's hash, when the caller started computing it early (first start). */
  adminPasswordHash?: Promise<string>;
  region: string;
  services: readonly CatalogService[];
}

export interface BootstrapResult {
  adminUserId: string;
  adminProjectId: string;
  created: boolean;
}

export async function bootstrapIdentity(deps: IdentityDeps, input: BootstrapInput): Promise<BootstrapResult> {
  const db = deps.db;
  let created = false;
  if (!(await findDomain(db, DEFAULT_DOMAIN_ID))) {
    await createDomain(deps, { id: DEFAULT_DOMAIN_ID, name: 'Default', description: 'The default domain' });
    created = true;
  }
  const roleIds: Record<string, string> = {};
  for (const name of ['admin', 'member', 'reader', 'service']) {
    roleIds[name] = (await findRoleByName(db, name))?.id ?? (await createRole(deps, { name })).id;
  }
  // Restarts find everything in place: only read, write nothing.
  const rules = await db.selectFrom('identity_implied_role').selectAll().execute();
  for (const [prior, implied] of [[roleIds.admin, roleIds.member], [roleIds.member, roleIds.reader]]) {
    if (!rules.some((r) => r.prior_role_id === prior && r.implied_role_id === implied)) await createImpliedRole(deps, prior, implied);
  }
  const projectIds: Record<string, string> = {};
  for (const name of ['admin', 'service']) {
    projectIds[name] = (await findProjectByName(db, DEFAULT_DOMAIN_ID, name))?.id
      ?? (await createProject(deps, { name, domain_id: DEFAULT_DOMAIN_ID, description: `Bootstrap project for the ${name}` })).id;
  }
  let admin = await findUserByName(db, DEFAULT_DOMAIN_ID, 'admin');
  if (!admin) admin = await createUser(deps, { name: 'admin', domain_id: DEFAULT_DOMAIN_ID, password: input.adminPassword }, input.adminPasswordHash);
  const grants = await db.selectFrom('identity_assignment').selectAll().where('actor_id', '=', admin.id).where('role_id', '=', roleIds.admin).execute();
  for (const target of [{ type: 'project', id: projectIds.admin }, { type: 'system', id: 'all' }, { type: 'domain', id: DEFAULT_DOMAIN_ID }] as const) {
    if (!grants.some((g) => g.target_type === target.type && g.target_id === target.id && g.inherited === 0)) {
      await grantRole(deps, { type: 'user', id: admin.id }, target, roleIds.admin);
    }
  }

  if (!(await db.selectFrom('identity_region').select('id').where('id', '=', input.region).executeTakeFirst())) {
    await createRegion(deps, { id: input.region, description: '' });
  }
  for (const svc of input.services) {
    const service = (await listServices(db, { type: svc.type }))[0] ?? (await createService(deps, { type: svc.type, name: svc.name, description: svc.description }));
    const endpoints = await listEndpoints(db, { service_id: service.id });
    for (const iface of ['public', 'internal', 'admin']) {
      const existing = endpoints.find((e) => e.interface === iface && e.region_id === input.region);
      if (!existing) await createEndpoint(deps, { service_id: service.id, interface: iface, url: svc.url, region_id: input.region });
      // The listen address may change between starts: keep the catalog pointing at this server.
      else if (existing.url !== svc.url) await updateEndpoint(deps, existing.id, { url: svc.url });
    }
  }
  // A revocation event matters only while a token it voids could still be presented
  // (its lifetime plus the allow_expired window).
  await pruneRevocations(db, deps.now() - deps.config.identity.tokenExpirationSeconds * 1000 - ALLOW_EXPIRED_WINDOW_MS);
  return { adminUserId: admin.id, adminProjectId: projectIds.admin, created };
}
