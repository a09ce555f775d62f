import type { FastifyInstance } from 'fastify';
import { invalid } from '../context.js';
import { DEFAULT_CONTAINER_QUOTAS, deleteContainerQuota, showContainerQuota, updateContainerQuota } from '../quotas.js';
import { boolParam, caller, query } from './common.js';
import type { ContainerRouteEnv } from './common.js';

export function registerQuotaRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;
  type P = { project: string };
  app.get('/v1/quotas/:project', async (request) =>
    showContainerQuota(deps.db, caller(request), (request.params as P).project, boolParam('usages', query(request).usages, false)));
  app.get('/v1/quotas/:project/defaults', async (request) => {
    caller(request);
    return { ...DEFAULT_CONTAINER_QUOTAS };
  });
  app.put('/v1/quotas/:project', async (request) => {
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The body must be an object of quota limits.');
    return updateContainerQuota(deps.db, caller(request), (request.params as P).project, body as Record<string, unknown>);
  });
  app.delete('/v1/quotas/:project', async (request, reply) => {
    await deleteContainerQuota(deps.db, caller(request), (request.params as P).project);
    return reply.status(204).send();
  });
}
