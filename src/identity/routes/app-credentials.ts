import type { FastifyInstance } from 'fastify';
import { forbidden } from '../../errors.js';
import {
  createAppCred, deleteAccessRule, deleteAppCred, getAccessRule, getAppCred, listAccessRules, listAppCreds, renderAccessRule, renderAppCred,
} from '../app-credentials.js';
import type { AppCredInput } from '../app-credentials.js';
import { enforce } from '../policy.js';
import { getUser } from '../users.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { AppCredCreate } from './schemas.js';

export function registerAppCredRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  const prefix = '/v3/users/:user_id/application_credentials';
  app.get(prefix, async (request) => {
    const { user_id } = request.params as { user_id: string };
    enforce('identity:get_application_credential', caller(env, request), { userId: user_id });
    await getUser(deps.db, user_id);
    const rows = await listAppCreds(deps.db, user_id, str(queryOf(request), 'name'));
    return listBody(env, request, 'application_credentials', rows.map((r) => renderAppCred(r, base)));
  });
  app.post(prefix, { schema: { body: AppCredCreate } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    const c = caller(env, request);
    enforce('identity:create_application_credential', c, { userId: user_id });
    if (!c.project) throw forbidden('An application credential can only be created with a project-scoped token.');
    const { detail, secret } = await createAppCred(deps, {
      userId: user_id,
      projectId: c.project.id,
      roleIds: c.roles.map((r) => r.id),
      viaAppCred: !!c.applicationCredential,
      unrestrictedAppCred: c.applicationCredential?.row.unrestricted === 1,
      viaTrust: !!c.trust,
    }, member<AppCredInput>(request.body, 'application_credential'));
    return reply.status(201).send({ application_credential: renderAppCred(detail, base, secret) });
  });
  app.get(`${prefix}/:id`, async (request) => {
    const { user_id, id } = request.params as { user_id: string; id: string };
    enforce('identity:get_application_credential', caller(env, request), { userId: user_id });
    return { application_credential: renderAppCred(await getAppCred(deps.db, user_id, id), base) };
  });
  app.delete(`${prefix}/:id`, async (request, reply) => {
    const { user_id, id } = request.params as { user_id: string; id: string };
    const c = caller(env, request);
    enforce('identity:delete_application_credential', c, { userId: user_id });
    if (c.applicationCredential && c.applicationCredential.row.unrestricted !== 1) {
      throw forbidden('A restricted application credential cannot delete application credentials.');
    }
    await deleteAppCred(deps, user_id, id);
    return reply.status(204).send();
  });

  app.get('/v3/users/:user_id/access_rules', async (request) => {
    const { user_id } = request.params as { user_id: string };
    enforce('identity:get_access_rule', caller(env, request), { userId: user_id });
    const rows = await listAccessRules(deps.db, user_id);
    return listBody(env, request, 'access_rules', rows.map((r) => renderAccessRule(r, base)));
  });
  app.get('/v3/users/:user_id/access_rules/:id', async (request) => {
    const { user_id, id } = request.params as { user_id: string; id: string };
    enforce('identity:get_access_rule', caller(env, request), { userId: user_id });
    return { access_rule: renderAccessRule(await getAccessRule(deps.db, user_id, id), base) };
  });
  app.delete('/v3/users/:user_id/access_rules/:id', async (request, reply) => {
    const { user_id, id } = request.params as { user_id: string; id: string };
    enforce('identity:delete_access_rule', caller(env, request), { userId: user_id });
    await deleteAccessRule(deps, user_id, id);
    return reply.status(204).send();
  });
}
