import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { assertValid } from '../../http/validation.js';
import { canonicalUuid } from '../context.js';
import { getProvider, providerAggregates, setProviderAggregates } from '../providers.js';
import { admit, atLeast, since, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

const Aggregates = Type.Array(Type.String(), { uniqueItems: true });
const Body119 = Type.Object({ aggregates: Aggregates, resource_provider_generation: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

/** A provider's aggregates (1.1+); from 1.19 the body and answer carry the provider generation. */
export function registerAggregateRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/resource_providers/:uuid/aggregates', async (request) => {
    since(request, 1);
    admit(request, 'resource_providers:aggregates:list');
    const provider = await getProvider(deps.db, uuidParam(request));
    const aggregates = await providerAggregates(deps.db, provider.uuid);
    return atLeast(request, 19) ? { aggregates, resource_provider_generation: provider.generation } : { aggregates };
  });
  app.put('/resource_providers/:uuid/aggregates', async (request) => {
    since(request, 1);
    admit(request, 'resource_providers:aggregates:update');
    const withGeneration = atLeast(request, 19);
    // Before 1.19 the body is the bare list.
    assertValid(withGeneration ? Body119 : Aggregates, request.body);
    const body = request.body as string[] | { aggregates: string[]; resource_provider_generation: number };
    const list = (Array.isArray(body) ? body : body.aggregates).map((a) => canonicalUuid(a, 'aggregates'));
    const { aggregates, generation } = await setProviderAggregates(deps, uuidParam(request), list, Array.isArray(body) ? undefined : body.resource_provider_generation);
    return withGeneration ? { aggregates, resource_provider_generation: generation } : { aggregates };
  });
}
