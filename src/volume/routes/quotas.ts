/** os-quota-sets (show with usage, defaults, update and delete for admins) and limits. */
import type { FastifyInstance } from 'fastify';
import { absoluteLimits, defaultQuotaSet, deleteQuotaSet, showQuotaSet, updateQuotaSet } from '../quotas.js';
import { bodyObject, caller, param, query, route } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerQuotaRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  route(app, 'GET', '/os-quota-sets/:target', async (request) => {
    const usage = String(query(request).usage ?? '').toLowerCase();
    return { quota_set: await showQuotaSet(deps, caller(request), param(request, 'target'), usage === 'true' || usage === '1') };
  });
  route(app, 'GET', '/os-quota-sets/:target/defaults', async (request) => {
    caller(request);
    return { quota_set: await defaultQuotaSet(deps, param(request, 'target')) };
  });
  route(app, 'PUT', '/os-quota-sets/:target', async (request) => ({
    quota_set: await updateQuotaSet(deps, caller(request), param(request, 'target'), bodyObject(request.body, 'quota_set')),
  }));
  route(app, 'DELETE', '/os-quota-sets/:target', async (request, reply) => {
    await deleteQuotaSet(deps, caller(request), param(request, 'target'));
    return reply.status(200).send();
  });
  route(app, 'GET', '/limits', async (request) => ({ limits: await absoluteLimits(deps, caller(request).projectId) }));
}
