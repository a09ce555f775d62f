import type { FastifyInstance } from 'fastify';
import {
  createEndpoint, createRegion, createService, deleteEndpoint, deleteRegion, deleteService, getEndpoint, getRegion, getService,
  listEndpoints, listRegions, listServices, renderEndpoint, renderRegion, renderService, updateEndpoint, updateRegion, updateService,
} from '../catalog.js';
import type { EndpointInput, RegionInput, ServiceInput } from '../catalog.js';
import { enforce } from '../policy.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { EndpointCreate, EndpointUpdate, RegionCreate, RegionUpdate, ServiceCreate, ServiceUpdate } from './schemas.js';

export function registerCatalogRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  // Regions
  app.get('/v3/regions', async (request) => {
    enforce('identity:get_region', caller(env, request));
    const rows = await listRegions(deps.db, { parent_region_id: str(queryOf(request), 'parent_region_id') });
    return listBody(env, request, 'regions', rows.map((r) => renderRegion(r, base)));
  });
  app.post('/v3/regions', { schema: { body: RegionCreate } }, async (request, reply) => {
    enforce('identity:manage_region', caller(env, request));
    const row = await createRegion(deps, member<RegionInput>(request.body, 'region'));
    return reply.status(201).send({ region: renderRegion(row, base) });
  });
  app.put('/v3/regions/:region_id', { schema: { body: RegionCreate } }, async (request, reply) => {
    const { region_id } = request.params as { region_id: string };
    enforce('identity:manage_region', caller(env, request));
    const input = member<RegionInput>(request.body, 'region');
    const row = await createRegion(deps, { ...input, id: region_id });
    return reply.status(201).send({ region: renderRegion(row, base) });
  });
  app.get('/v3/regions/:region_id', async (request) => {
    const { region_id } = request.params as { region_id: string };
    enforce('identity:get_region', caller(env, request));
    return { region: renderRegion(await getRegion(deps.db, region_id), base) };
  });
  app.patch('/v3/regions/:region_id', { schema: { body: RegionUpdate } }, async (request) => {
    const { region_id } = request.params as { region_id: string };
    enforce('identity:manage_region', caller(env, request));
    return { region: renderRegion(await updateRegion(deps, region_id, member(request.body, 'region')), base) };
  });
  app.delete('/v3/regions/:region_id', async (request, reply) => {
    const { region_id } = request.params as { region_id: string };
    enforce('identity:manage_region', caller(env, request));
    await deleteRegion(deps, region_id);
    return reply.status(204).send();
  });

  // Services
  app.get('/v3/services', async (request) => {
    enforce('identity:get_service', caller(env, request));
    const q = queryOf(request);
    const rows = await listServices(deps.db, { type: str(q, 'type'), name: str(q, 'name') });
    return listBody(env, request, 'services', rows.map((r) => renderService(r, base)));
  });
  app.post('/v3/services', { schema: { body: ServiceCreate } }, async (request, reply) => {
    enforce('identity:manage_service', caller(env, request));
    const row = await createService(deps, member<ServiceInput>(request.body, 'service'));
    return reply.status(201).send({ service: renderService(row, base) });
  });
  app.get('/v3/services/:service_id', async (request) => {
    const { service_id } = request.params as { service_id: string };
    enforce('identity:get_service', caller(env, request));
    return { service: renderService(await getService(deps.db, service_id), base) };
  });
  app.patch('/v3/services/:service_id', { schema: { body: ServiceUpdate } }, async (request) => {
    const { service_id } = request.params as { service_id: string };
    enforce('identity:manage_service', caller(env, request));
    return { service: renderService(await updateService(deps, service_id, member(request.body, 'service')), base) };
  });
  app.delete('/v3/services/:service_id', async (request, reply) => {
    const { service_id } = request.params as { service_id: string };
    enforce('identity:manage_service', caller(env, request));
    await deleteService(deps, service_id);
    return reply.status(204).send();
  });

  // Endpoints
  app.get('/v3/endpoints', async (request) => {
    enforce('identity:get_endpoint', caller(env, request));
    const q = queryOf(request);
    const rows = await listEndpoints(deps.db, { service_id: str(q, 'service_id'), interface: str(q, 'interface'), region_id: str(q, 'region_id') });
    return listBody(env, request, 'endpoints', rows.map((r) => renderEndpoint(r, base)));
  });
  app.post('/v3/endpoints', { schema: { body: EndpointCreate } }, async (request, reply) => {
    enforce('identity:manage_endpoint', caller(env, request));
    const row = await createEndpoint(deps, member<EndpointInput>(request.body, 'endpoint'));
    return reply.status(201).send({ endpoint: renderEndpoint(row, base) });
  });
  app.get('/v3/endpoints/:endpoint_id', async (request) => {
    const { endpoint_id } = request.params as { endpoint_id: string };
    enforce('identity:get_endpoint', caller(env, request));
    return { endpoint: renderEndpoint(await getEndpoint(deps.db, endpoint_id), base) };
  });
  app.patch('/v3/endpoints/:endpoint_id', { schema: { body: EndpointUpdate } }, async (request) => {
    const { endpoint_id } = request.params as { endpoint_id: string };
    enforce('identity:manage_endpoint', caller(env, request));
    return { endpoint: renderEndpoint(await updateEndpoint(deps, endpoint_id, member(request.body, 'endpoint')), base) };
  });
  app.delete('/v3/endpoints/:endpoint_id', async (request, reply) => {
    const { endpoint_id } = request.params as { endpoint_id: string };
    enforce('identity:manage_endpoint', caller(env, request));
    await deleteEndpoint(deps, endpoint_id);
    return reply.status(204).send();
  });
}
