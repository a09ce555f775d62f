import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { placementError } from '../context.js';
import { getProvider } from '../providers.js';
import { createTrait, deleteTrait, listTraits, providerTraits, setProviderTraits, traitExists } from '../traits.js';
import type { TraitFilter } from '../traits.js';
import { admit, badQuery, queryOf, single, since, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

const ProviderTraitsBody = Type.Object({
  traits: Type.Array(Type.String({ pattern: '^[A-Z0-9_]+$', maxLength: 255 })),
  resource_provider_generation: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
const nameParam = (request: FastifyRequest) => (request.params as { name: string }).name;

/** Traits (1.6+): the catalog of traits, and each provider's set. */
export function registerTraitRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/traits', async (request) => {
    since(request, 6);
    admit(request, 'traits:list');
    const q = queryOf(request);
    const filter: TraitFilter = {};
    const name = single(q, 'name');
    if (name !== undefined) {
      if (name.startsWith('in:')) filter.names = name.slice(3).split(',').map((s) => s.trim());
      else if (name.startsWith('startswith:')) filter.prefix = name.slice('startswith:'.length);
      else throw badQuery(`Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "${name}"`);
    }
    const associated = single(q, 'associated');
    if (associated !== undefined) {
      if (!['true', 'false'].includes(associated.toLowerCase())) throw badQuery(`The query parameter "associated" only accepts "true" or "false".`);
      filter.associated = associated.toLowerCase() === 'true';
    }
    return { traits: await listTraits(deps.db, filter) };
  });
  app.get('/traits/:name', async (request, reply) => {
    since(request, 6);
    admit(request, 'traits:show');
    const name = nameParam(request);
    if (!(await traitExists(deps.db, name))) throw placementError('ERR_NOT_FOUND', `No such trait(s): ${name}`);
    return reply.status(204).send();
  });
  app.put('/traits/:name', async (request, reply) => {
    since(request, 6);
    admit(request, 'traits:update');
    const name = nameParam(request);
    const { created } = await createTrait(deps, name);
    reply.header('Location', `${env.base}/traits/${name}`);
    return reply.status(created ? 201 : 204).send();
  });
  app.delete('/traits/:name', async (request, reply) => {
    since(request, 6);
    admit(request, 'traits:delete');
    await deleteTrait(deps, nameParam(request));
    return reply.status(204).send();
  });

  app.get('/resource_providers/:uuid/traits', async (request) => {
    since(request, 6);
    admit(request, 'resource_providers:traits:list');
    const provider = await getProvider(deps.db, uuidParam(request));
    return { traits: await providerTraits(deps.db, provider.uuid), resource_provider_generation: provider.generation };
  });
  app.put('/resource_providers/:uuid/traits', { schema: { body: ProviderTraitsBody } }, async (request) => {
    since(request, 6);
    admit(request, 'resource_providers:traits:update');
    const body = request.body as { traits: string[]; resource_provider_generation: number };
    const { traits, generation } = await setProviderTraits(deps, uuidParam(request), body.traits, body.resource_provider_generation);
    return { traits, resource_provider_generation: generation };
  });
  app.delete('/resource_providers/:uuid/traits', async (request, reply) => {
    since(request, 6);
    admit(request, 'resource_providers:traits:delete');
    await setProviderTraits(deps, uuidParam(request), [], undefined);
    return reply.status(204).send();
  });
}
