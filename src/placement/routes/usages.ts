import type { FastifyInstance } from 'fastify';
import { usagesOfProject, usagesOfProvider } from '../allocations.js';
import { admit, atLeast, badQuery, queryOf, single, since, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

export function registerUsageRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/resource_providers/:uuid/usages', async (request) => {
    admit(request, 'resource_providers:usages');
    const { usages, generation } = await usagesOfProvider(deps.db, uuidParam(request));
    return { resource_provider_generation: generation, usages };
  });
  // A project's usage (1.9+); from 1.38 grouped by consumer type (`consumer_type=all` sums every type under `all`).
  app.get('/usages', async (request) => {
    since(request, 9);
    admit(request, 'usages');
    const q = queryOf(request);
    const projectId = single(q, 'project_id');
    if (!projectId) throw badQuery(`Invalid query string parameters: 'project_id' is a required property`);
    const { total, byType } = await usagesOfProject(deps.db, projectId, single(q, 'user_id'));
    if (!atLeast(request, 38)) return { usages: total };
    const wanted = single(q, 'consumer_type');
    const consumers = Object.values(byType).reduce((n, t) => n + (t.consumer_count ?? 0), 0);
    const all = { ...total, consumer_count: consumers };
    if (wanted === 'all') return { usages: { all } };
    if (wanted !== undefined) return { usages: byType[wanted] ? { [wanted]: byType[wanted] } : {} };
    return { usages: byType };
  });
}
