import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import { assertValid } from '../../http/validation.js';
import { canonicalUuid, placementError } from '../context.js';
import { consumerAllocations, deleteConsumerAllocations, providerAllocations, replaceAllocations } from '../allocations.js';
import type { AllocationMap, ConsumerAllocations } from '../allocations.js';
import { MAX_INT } from '../inventories.js';
import { admit, atLeast, consumerUuid, since, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

/** Placement's stand-in project and user for consumers written before 1.8 made them required. */
const INCOMPLETE_CONSUMER = '00000000-0000-0000-0000-000000000000';

const Resources = Type.Record(Type.String({ pattern: '^[A-Z0-9_]+$' }), Type.Integer({ minimum: 1, maximum: MAX_INT }), { minProperties: 1 });
const ListForm = Type.Array(Type.Object({ resource_provider: Type.Object({ uuid: Type.String() }), resources: Resources }), { minItems: 1 });
const DictForm = Type.Record(Type.String(), Type.Object({ resources: Resources, generation: Type.Optional(Type.Unknown()) }, { additionalProperties: false }));
const Id = Type.String({ minLength: 1, maxLength: 255 });
const ConsumerType = Type.String({ pattern: '^[A-Z0-9_]+$', maxLength: 255 });

/** The body schema of one consumer's allocations at a microversion. */
function consumerSchema(minor: number): TSchema {
  const idsRequired = minor >= 8;
  const ids = { project_id: idsRequired ? Id : Type.Optional(Id), user_id: idsRequired ? Id : Type.Optional(Id) };
  if (minor < 12) return Type.Object({ allocations: ListForm, ...ids }, { additionalProperties: false });
  return Type.Object({
    allocations: DictForm, ...ids,
    ...(minor >= 28 ? { consumer_generation: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]) } : {}),
    ...(minor >= 38 ? { consumer_type: ConsumerType } : {}),
  }, { additionalProperties: false });
}

interface ConsumerBody {
  allocations: { resource_provider: { uuid: string }; resources: Record<string, number> }[] | Record<string, { resources: Record<string, number> }>;
  project_id?: string;
  user_id?: string;
  consumer_generation?: number | null;
  consumer_type?: string;
}

function toWrite(consumerId: string, body: ConsumerBody, minor: number): ConsumerAllocations {
  const allocations: AllocationMap = {};
  const entries = Array.isArray(body.allocations)
    ? body.allocations.map((a) => [a.resource_provider.uuid, a.resources] as const)
    : Object.entries(body.allocations).map(([rp, a]) => [rp, a.resources] as const);
  for (const [rp, resources] of entries) {
    const uuid = canonicalUuid(rp, 'resource_provider');
    allocations[uuid] = { ...(allocations[uuid] ?? {}), ...resources };
  }
  return {
    consumerId, projectId: body.project_id ?? INCOMPLETE_CONSUMER, userId: body.user_id ?? INCOMPLETE_CONSUMER,
    consumerGeneration: minor >= 28 ? body.consumer_generation : undefined, consumerType: minor >= 38 ? body.consumer_type : undefined,
    allocations,
  };
}

const consumerParam = (request: FastifyRequest) => consumerUuid((request.params as { consumer: string }).consumer);

export function registerAllocationRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/allocations/:consumer', async (request) => {
    admit(request, 'allocations:list');
    const view = await consumerAllocations(deps.db, consumerParam(request));
    if (!Object.keys(view.allocations).length) return { allocations: {} };
    return {
      allocations: view.allocations,
      ...(atLeast(request, 12) ? { project_id: view.projectId, user_id: view.userId } : {}),
      ...(atLeast(request, 28) ? { consumer_generation: view.generation } : {}),
      ...(atLeast(request, 38) ? { consumer_type: view.consumerType } : {}),
    };
  });
  app.put('/allocations/:consumer', async (request, reply) => {
    admit(request, 'allocations:update');
    const consumer = consumerParam(request);
    assertValid(consumerSchema(request.placementMinor), request.body);
    const body = request.body as ConsumerBody;
    if (!atLeast(request, 28) && !Object.keys(body.allocations).length) throw placementError('ERR_VALIDATION', `Allocations must not be empty before microversion 1.28.`);
    await replaceAllocations(deps, [toWrite(consumer, body, request.placementMinor)]);
    return reply.status(204).send();
  });
  app.post('/allocations', async (request, reply) => {
    since(request, 13);
    admit(request, 'allocations:manage');
    const body = request.body;
    assertValid(Type.Record(Type.String(), consumerSchema(request.placementMinor), { minProperties: 1 }), body);
    const writes = Object.entries(body as Record<string, ConsumerBody>).map(([c, b]) => toWrite(consumerUuid(c), b, request.placementMinor));
    await replaceAllocations(deps, writes);
    return reply.status(204).send();
  });
  app.delete('/allocations/:consumer', async (request, reply) => {
    admit(request, 'allocations:delete');
    const consumer = consumerParam(request);
    if (!(await deleteConsumerAllocations(deps, consumer))) throw placementError('ERR_NOT_FOUND', `No allocations for consumer '${consumer}'`);
    return reply.status(204).send();
  });
  app.get('/resource_providers/:uuid/allocations', async (request) => {
    admit(request, 'resource_providers:allocations:list');
    const { allocations, generation } = await providerAllocations(deps.db, uuidParam(request));
    return {
      allocations: Object.fromEntries(Object.entries(allocations).map(([c, resources]) => [c, { resources }])),
      resource_provider_generation: generation,
    };
  });
}
