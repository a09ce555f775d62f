import type { FastifyInstance } from 'fastify';
import { KumoError } from '../../errors.js';
import { listDomains } from '../domains.js';
import { enforce } from '../policy.js';
import { listProjects, renderProject } from '../projects.js';
import { effectiveRoleIds, listRoleAssignments } from '../roles.js';
import { authenticate, renderTokenBody, revokeToken, validateToken } from '../tokens.js';
import type { AuthRequest, ValidatedToken } from '../tokens.js';
import { renderDomain } from '../domains.js';
import { bool, caller, listBody, queryOf } from './common.js';
import type { RouteEnv } from './common.js';
import { AuthCreate } from './schemas.js';

async function subjectOf(env: RouteEnv, headers: Record<string, unknown>, allowExpired: boolean): Promise<ValidatedToken> {
  const subject = headers['x-subject-token'];
  if (typeof subject !== 'string' || !subject) throw new KumoError('ERR_NOT_FOUND', 'Could not find token: X-Subject-Token is missing.');
  return validateToken(env.deps, subject, { allowExpired }).catch((err) => {
    throw err instanceof KumoError && err.status < 500 ? new KumoError('ERR_NOT_FOUND', `Could not find token: ${subject.slice(0, 12)}...`) : err;
  });
}

/** Projects and domains the caller's user can scope a token to. */
async function scopeTargets(env: RouteEnv, userId: string) {
  const rows = await listRoleAssignments(env.deps.db, { userId, effective: true });
  const projectIds = [...new Set(rows.filter((r) => r.target.type === 'project').map((r) => r.target.id))];
  const domainIds = [...new Set(rows.filter((r) => r.target.type === 'domain').map((r) => r.target.id))];
  const projects = (await listProjects(env.deps.db, { ids: projectIds, enabled: true }));
  const domains = await listDomains(env.deps.db, { ids: domainIds, enabled: true });
  return { projects, domains };
}

export function registerAuthRoutes(app: FastifyInstance, env: RouteEnv): void {
  app.post('/v3/auth/tokens', { schema: { body: AuthCreate }, config: { public: true } }, async (request, reply) => {
    const body = request.body as { auth: AuthRequest };
    const issued = await authenticate(env.deps, body.auth);
    const nocatalog = queryOf(request).nocatalog !== undefined;
    reply.header('X-Subject-Token', issued.token);
    return reply.status(201).send(renderTokenBody(issued.validated, { includeCatalog: !nocatalog }));
  });

  app.get('/v3/auth/tokens', async (request, reply) => {
    const c = caller(env, request);
    const q = queryOf(request);
    const subject = await subjectOf(env, request.headers, bool(q, 'allow_expired') === true);
    enforce('identity:validate_token', c, { userId: subject.user.id });
    reply.header('X-Subject-Token', subject.token);
    return renderTokenBody(subject, { includeCatalog: q.nocatalog === undefined });
  });

  app.head('/v3/auth/tokens', async (request, reply) => {
    const c = caller(env, request);
    const subject = await subjectOf(env, request.headers, bool(queryOf(request), 'allow_expired') === true);
    enforce('identity:validate_token', c, { userId: subject.user.id });
    reply.header('X-Subject-Token', subject.token);
    return reply.status(200).send();
  });

  app.delete('/v3/auth/tokens', async (request, reply) => {
    const c = caller(env, request);
    const subject = await subjectOf(env, request.headers, false);
    enforce('identity:revoke_token', c, { userId: subject.user.id });
    await revokeToken(env.deps, subject);
    return reply.status(204).send();
  });

  app.get('/v3/auth/catalog', async (request) => {
    const c = caller(env, request);
    if (c.payload.scope.type === 'unscoped') throw new KumoError('ERR_FORBIDDEN', 'A scoped token is required to retrieve the catalog.');
    return { catalog: c.catalog, links: { self: `${env.base}/auth/catalog`, previous: null, next: null } };
  });

  app.get('/v3/auth/projects', async (request) => {
    const c = caller(env, request);
    const { projects } = await scopeTargets(env, c.user.id);
    return listBody(env, request, 'projects', projects.map((p) => renderProject(p, env.base)));
  });

  app.get('/v3/auth/domains', async (request) => {
    const c = caller(env, request);
    const { domains } = await scopeTargets(env, c.user.id);
    return listBody(env, request, 'domains', domains.map((d) => renderDomain(d, env.base)));
  });

  app.get('/v3/auth/system', async (request) => {
    const c = caller(env, request);
    const roles = await effectiveRoleIds(env.deps.db, c.user.id, { type: 'system', id: 'all' });
    return { system: roles.length ? [{ all: true }] : [], links: { self: `${env.base}/auth/system`, previous: null, next: null } };
  });
}
