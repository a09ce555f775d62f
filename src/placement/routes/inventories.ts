import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { placementError } from '../context.js';
import { getInventories, MAX_INT, setInventories } from '../inventories.js';
import type { InventoryInput } from '../inventories.js';
import { admit, atLeast, since, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

const Int = (minimum: number) => Type.Integer({ minimum, maximum: MAX_INT });
const inventoryFields = {
  reserved: Type.Optional(Int(0)), min_unit: Type.Optional(Int(1)), max_unit: Type.Optional(Int(1)), step_size: Type.Optional(Int(1)),
  allocation_ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3.40282e38 })),
};
const Inventory = Type.Object({ total: Int(1), ...inventoryFields }, { additionalProperties: false });
const Generation = Type.Integer({ minimum: 0 });
const PutAllBody = Type.Object({
  resource_provider_generation: Generation,
  inventories: Type.Record(Type.String({ pattern: '^[A-Z0-9_]+$' }), Inventory),
}, { additionalProperties: false });
const PutOneBody = Type.Object({ resource_provider_generation: Generation, total: Int(1), ...inventoryFields }, { additionalProperties: false });
const PostBody = Type.Object({ resource_class: Type.String({ pattern: '^[A-Z0-9_]+$' }), total: Int(1), ...inventoryFields }, { additionalProperties: false });

const classParam = (request: FastifyRequest) => (request.params as { rc: string }).rc;

export function registerInventoryRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  const reservedMayEqualTotal = (request: FastifyRequest) => atLeast(request, 26);
  const one = async (uuid: string, rc: string) => {
    const { inventories, generation } = await getInventories(deps.db, uuid);
    const inv = inventories[rc];
    if (!inv) throw placementError('ERR_NOT_FOUND', `No inventory of class ${rc} for ${uuid}`);
    return { ...inv, resource_provider_generation: generation };
  };
  const inputOf = (body: Record<string, unknown>): InventoryInput => {
    const { resource_provider_generation: _g, resource_class: _rc, ...inv } = body;
    return inv as unknown as InventoryInput;
  };

  app.get('/resource_providers/:uuid/inventories', async (request) => {
    admit(request, 'resource_providers:inventories:list');
    const { inventories, generation } = await getInventories(deps.db, uuidParam(request));
    return { inventories, resource_provider_generation: generation };
  });
  app.put('/resource_providers/:uuid/inventories', { schema: { body: PutAllBody } }, async (request) => {
    admit(request, 'resource_providers:inventories:update_all');
    const body = request.body as { resource_provider_generation: number; inventories: Record<string, InventoryInput> };
    const uuid = uuidParam(request);
    await setInventories(deps, uuid, body.inventories, { generation: body.resource_provider_generation, allowReservedEqualTotal: reservedMayEqualTotal(request) });
    const { inventories, generation } = await getInventories(deps.db, uuid);
    return { inventories, resource_provider_generation: generation };
  });
  app.delete('/resource_providers/:uuid/inventories', async (request, reply) => {
    since(request, 5);
    admit(request, 'resource_providers:inventories:delete_all');
    await setInventories(deps, uuidParam(request), {});
    return reply.status(204).send();
  });
  app.post('/resource_providers/:uuid/inventories', { schema: { body: PostBody } }, async (request, reply) => {
    admit(request, 'resource_providers:inventories:create');
    const body = request.body as { resource_class: string } & Record<string, unknown>;
    const uuid = uuidParam(request);
    const { inventories } = await getInventories(deps.db, uuid);
    if (inventories[body.resource_class]) throw placementError('ERR_CONFLICT', `Update conflict: Inventory for ${body.resource_class} already exists on resource provider ${uuid}.`);
    await setInventories(deps, uuid, { [body.resource_class]: inputOf(body) }, { only: [body.resource_class], allowReservedEqualTotal: reservedMayEqualTotal(request) });
    reply.header('Location', `${env.base}/resource_providers/${uuid}/inventories/${body.resource_class}`);
    return reply.status(201).send(await one(uuid, body.resource_class));
  });
  app.get('/resource_providers/:uuid/inventories/:rc', async (request) => {
    admit(request, 'resource_providers:inventories:show');
    return one(uuidParam(request), classParam(request));
  });
  app.put('/resource_providers/:uuid/inventories/:rc', { schema: { body: PutOneBody } }, async (request) => {
    admit(request, 'resource_providers:inventories:update');
    const body = request.body as { resource_provider_generation: number } & Record<string, unknown>;
    const uuid = uuidParam(request);
    const rc = classParam(request);
    await setInventories(deps, uuid, { [rc]: inputOf(body) }, { only: [rc], generation: body.resource_provider_generation, allowReservedEqualTotal: reservedMayEqualTotal(request) });
    return one(uuid, rc);
  });
  app.delete('/resource_providers/:uuid/inventories/:rc', async (request, reply) => {
    admit(request, 'resource_providers:inventories:delete');
    const uuid = uuidParam(request);
    const rc = classParam(request);
    await one(uuid, rc);
    await setInventories(deps, uuid, {}, { only: [rc] });
    return reply.status(204).send();
  });
}
