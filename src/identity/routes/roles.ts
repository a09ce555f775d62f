import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors.js';
import type { Db } from '../../store/database.js';
import { enforce } from '../policy.js';
import {
  checkRoleGrant, createImpliedRole, createRole, deleteImpliedRole, deleteRole, getImpliedRole, getRole, grantRole, listGrants,
  listImpliedRoles, listRoleAssignments, listRoles, renderRole, revokeRole, updateRole,
} from '../roles.js';
import type { Actor, AssignmentRow, RoleInput, Target } from '../roles.js';
import type { RoleTable } from '../schema.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { RoleCreate, RoleUpdate } from './schemas.js';

const brief = (r: RoleTable, base: string) => ({ id: r.id, name: r.name, ...(r.domain_id ? { domain_id: r.domain_id } : {}), links: { self: `${base}/roles/${r.id}` } });

export function registerRoleRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  app.get('/v3/roles', async (request) => {
    enforce('identity:list_roles', caller(env, request));
    const q = queryOf(request);
    const rows = await listRoles(deps.db, { name: str(q, 'name'), domain_id: str(q, 'domain_id') ?? null });
    return listBody(env, request, 'roles', rows.map((r) => renderRole(r, base)));
  });
  app.post('/v3/roles', { schema: { body: RoleCreate } }, async (request, reply) => {
    enforce('identity:manage_role', caller(env, request));
    const row = await createRole(deps, member<RoleInput>(request.body, 'role'));
    return reply.status(201).send({ role: renderRole(row, base) });
  });
  app.get('/v3/roles/:role_id', async (request) => {
    const { role_id } = request.params as { role_id: string };
    enforce('identity:get_role', caller(env, request));
    return { role: renderRole(await getRole(deps.db, role_id), base) };
  });
  app.patch('/v3/roles/:role_id', { schema: { body: RoleUpdate } }, async (request) => {
    const { role_id } = request.params as { role_id: string };
    enforce('identity:manage_role', caller(env, request));
    return { role: renderRole(await updateRole(deps, role_id, member(request.body, 'role')), base) };
  });
  app.delete('/v3/roles/:role_id', async (request, reply) => {
    const { role_id } = request.params as { role_id: string };
    enforce('identity:manage_role', caller(env, request));
    await deleteRole(deps, role_id);
    return reply.status(204).send();
  });

  // Implied roles
  app.get('/v3/roles/:prior_role_id/implies', async (request) => {
    const { prior_role_id } = request.params as { prior_role_id: string };
    enforce('identity:get_role', caller(env, request));
    const [entry] = await listImpliedRoles(deps.db, prior_role_id);
    return {
      role_inference: { prior_role: brief(entry.prior, base), implies: entry.implies.map((r) => brief(r, base)) },
      links: { self: `${base}/roles/${prior_role_id}/implies` },
    };
  });
  const inference = (prior: RoleTable, implied: RoleTable) => ({
    role_inference: { prior_role: brief(prior, base), implies: brief(implied, base) },
    links: { self: `${base}/roles/${prior.id}/implies/${implied.id}` },
  });
  app.put('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request, reply) => {
    const { prior_role_id, implied_role_id } = request.params as { prior_role_id: string; implied_role_id: string };
    enforce('identity:manage_role', caller(env, request));
    const [prior, implied] = await createImpliedRole(deps, prior_role_id, implied_role_id);
    return reply.status(201).send(inference(prior, implied));
  });
  app.get('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request) => {
    const { prior_role_id, implied_role_id } = request.params as { prior_role_id: string; implied_role_id: string };
    enforce('identity:get_role', caller(env, request));
    const [prior, implied] = await getImpliedRole(deps.db, prior_role_id, implied_role_id);
    return inference(prior, implied);
  });
  app.head('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request, reply) => {
    const { prior_role_id, implied_role_id } = request.params as { prior_role_id: string; implied_role_id: string };
    enforce('identity:get_role', caller(env, request));
    await getImpliedRole(deps.db, prior_role_id, implied_role_id);
    return reply.status(204).send();
  });
  app.delete('/v3/roles/:prior_role_id/implies/:implied_role_id', async (request, reply) => {
    const { prior_role_id, implied_role_id } = request.params as { prior_role_id: string; implied_role_id: string };
    enforce('identity:manage_role', caller(env, request));
    await deleteImpliedRole(deps, prior_role_id, implied_role_id);
    return reply.status(204).send();
  });
  app.get('/v3/role_inferences', async (request) => {
    enforce('identity:list_roles', caller(env, request));
    const all = await listImpliedRoles(deps.db);
    return {
      role_inferences: all.map((e) => ({ prior_role: brief(e.prior, base), implies: e.implies.map((r) => brief(r, base)) })),
      links: { self: `${base}/role_inferences` },
    };
  });

  registerGrantRoutes(app, env);

  app.get('/v3/role_assignments', async (request) => {
    const q = queryOf(request);
    enforce('identity:list_role_assignments', caller(env, request), { domainId: str(q, 'scope.domain.id') });
    const inheritedTo = str(q, 'scope.OS-INHERIT:inherited_to');
    if (inheritedTo !== undefined && inheritedTo !== 'projects') throw badRequest("scope.OS-INHERIT:inherited_to must be 'projects'.");
    const rows = await listRoleAssignments(deps.db, {
      userId: str(q, 'user.id'),
      groupId: str(q, 'group.id'),
      roleId: str(q, 'role.id'),
      projectId: str(q, 'scope.project.id'),
      domainId: str(q, 'scope.domain.id'),
      system: str(q, 'scope.system') !== undefined,
      inheritedToProjects: inheritedTo ? true : undefined,
      effective: q.effective !== undefined && str(q, 'effective') !== 'false',
      includeSubtree: q.include_subtree !== undefined && str(q, 'include_subtree') !== 'false',
    });
    const includeNames = q.include_names !== undefined && !['0', 'false'].includes(str(q, 'include_names') ?? '');
    return listBody(env, request, 'role_assignments', await renderAssignments(deps.db, base, rows, includeNames));
  });
}

function grantPath(base: string, actor: Actor, target: Target, roleId: string, inherited: boolean): string {
  const actorPart = `${actor.type}s/${actor.id}`;
  if (target.type === 'system') return `${base}/system/${actorPart}/roles/${roleId}`;
  if (inherited) return `${base}/OS-INHERIT/${target.type}s/${target.id}/${actorPart}/roles/${roleId}/inherited_to_projects`;
  return `${base}/${target.type}s/${target.id}/${actorPart}/roles/${roleId}`;
}

async function renderAssignments(db: Db, base: string, rows: AssignmentRow[], includeNames: boolean) {
  const names = includeNames ? await nameTables(db) : undefined;
  return rows.map((r) => {
    const src = r.source ?? r;
    const links: Record<string, string> = { assignment: grantPath(base, src.actor, src.target, src.roleId, src.inherited) };
    if (r.viaGroupId) links.membership = `${base}/groups/${r.viaGroupId}/users/${r.actor.id}`;
    if (r.viaPriorRoleId) links.prior_role = `${base}/roles/${r.viaPriorRoleId}`;
    const scope: Record<string, unknown> = r.target.type === 'system'
      ? { system: { all: true } }
      : { [r.target.type]: { id: r.target.id, ...(names ? names.target(r.target) : {}) } };
    if (r.inherited) scope['OS-INHERIT:inherited_to'] = 'projects';
    return {
      role: { id: r.roleId, ...(names ? names.role(r.roleId) : {}) },
      [r.actor.type]: { id: r.actor.id, ...(names ? names.actor(r.actor) : {}) },
      scope,
      links,
    };
  });
}

async function nameTables(db: Db) {
  const domains = new Map((await db.selectFrom('identity_domain').select(['id', 'name']).execute()).map((d) => [d.id, d.name]));
  const projects = new Map((await db.selectFrom('identity_project').select(['id', 'name', 'domain_id']).execute()).map((p) => [p.id, p]));
  const users = new Map((await db.selectFrom('identity_user').select(['id', 'name', 'domain_id']).execute()).map((u) => [u.id, u]));
  const groups = new Map((await db.selectFrom('identity_group').select(['id', 'name', 'domain_id']).execute()).map((g) => [g.id, g]));
  const roles = new Map((await db.selectFrom('identity_role').select(['id', 'name', 'domain_id']).execute()).map((r) => [r.id, r]));
  const dom = (id: string) => ({ id, name: domains.get(id) ?? '' });
  return {
    role: (id: string) => {
      const r = roles.get(id);
      return r ? { name: r.name, ...(r.domain_id ? { domain: dom(r.domain_id) } : {}) } : {};
    },
    actor: (a: Actor) => {
      const x = a.type === 'user' ? users.get(a.id) : groups.get(a.id);
      return x ? { name: x.name, domain: dom(x.domain_id) } : {};
    },
    target: (t: Target) => {
      if (t.type === 'domain') return { name: domains.get(t.id) ?? '' };
      const p = projects.get(t.id);
      return p ? { name: p.name, domain: dom(p.domain_id) } : {};
    },
  };
}

type GrantParams = { target_id?: string; actor_id: string; role_id?: string };

function registerGrantRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  const variants: { prefix: string; target: Target['type']; actor: Actor['type']; inherited: boolean }[] = [];
  for (const actor of ['user', 'group'] as const) {
    for (const target of ['project', 'domain'] as const) {
      variants.push({ prefix: `/v3/${target}s/:target_id/${actor}s/:actor_id/roles`, target, actor, inherited: false });
      variants.push({ prefix: `/v3/OS-INHERIT/${target}s/:target_id/${actor}s/:actor_id/roles`, target, actor, inherited: true });
    }
    variants.push({ prefix: `/v3/system/${actor}s/:actor_id/roles`, target: 'system', actor, inherited: false });
  }
  for (const v of variants) {
    const suffix = v.inherited ? '/inherited_to_projects' : '';
    const parse = (request: FastifyRequest) => {
      const p = request.params as GrantParams;
      return { actor: { type: v.actor, id: p.actor_id } as Actor, target: { type: v.target, id: p.target_id ?? 'all' } as Target, roleId: p.role_id! };
    };
    app.get(`${v.prefix}${suffix}`, async (request) => {
      enforce('identity:list_role_assignments', caller(env, request));
      const { actor, target } = parse(request);
      const roles = await listGrants(deps.db, actor, target, v.inherited);
      return listBody(env, request, 'roles', roles.map((r) => renderRole(r, base)));
    });
    app.put(`${v.prefix}/:role_id${suffix}`, async (request, reply) => {
      enforce('identity:manage_grants', caller(env, request));
      const { actor, target, roleId } = parse(request);
      await grantRole(deps, actor, target, roleId, v.inherited);
      return reply.status(204).send();
    });
    const check = async (request: FastifyRequest, reply: FastifyReply) => {
      enforce('identity:list_role_assignments', caller(env, request));
      const { actor, target, roleId } = parse(request);
      await checkRoleGrant(deps.db, actor, target, roleId, v.inherited);
      return reply.status(204).send();
    };
    app.head(`${v.prefix}/:role_id${suffix}`, check);
    app.get(`${v.prefix}/:role_id${suffix}`, check);
    app.delete(`${v.prefix}/:role_id${suffix}`, async (request, reply) => {
      enforce('identity:manage_grants', caller(env, request));
      const { actor, target, roleId } = parse(request);
      await revokeRole(deps, actor, target, roleId, v.inherited);
      return reply.status(204).send();
    });
  }
}
