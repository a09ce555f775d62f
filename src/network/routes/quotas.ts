import type { FastifyInstance } from 'fastify';
import { badInput } from '../context.js';
import { DEFAULT_QUOTAS, listQuotas, resetQuota, showQuota, showQuotaDetails, updateQuota } from '../quotas.js';
import { caller } from './common.js';
import type { NetworkRouteEnv } from './common.js';

export function registerQuotaRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  type P = { project: string };
  // openstacksdk and the neutron client both append `.json` to quota paths.
  const paths = (p: string) => [p, `${p}.json`];
  for (const path of paths('/v2.0/quotas')) app.get(path, async (request) => ({ quotas: await listQuotas(deps.db, caller(env, request)) }));
  for (const path of paths('/v2.0/quotas/:project')) {
    app.get(path, async (request) => ({ quota: await showQuota(deps.db, caller(env, request), (request.params as P).project) }));
    app.put(path, async (request) => {
      const quota = (request.body as { quota?: unknown } | undefined)?.quota;
      if (!quota || typeof quota !== 'object' || Array.isArray(quota)) throw badInput("Resource body required: 'quota'.");
      return { quota: await updateQuota(deps, caller(env, request), (request.params as P).project, quota as Record<string, unknown>) };
    });
    app.delete(path, async (request, reply) => {
      await resetQuota(deps, caller(env, request), (request.params as P).project);
      return reply.status(204).send();
    });
  }
  for (const path of paths('/v2.0/quotas/:project/default')) {
    app.get(path, async (request) => {
      caller(env, request);
      return { quota: { ...DEFAULT_QUOTAS } };
    });
  }
  for (const path of paths('/v2.0/quotas/:project/details')) {
    app.get(path, async (request) => ({ quota: await showQuotaDetails(deps.db, caller(env, request), (request.params as P).project) }));
  }
}
