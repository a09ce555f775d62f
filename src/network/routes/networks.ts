import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import { createNetwork, deleteNetwork, getNetwork, renderNetwork, subnetIdsByNetwork, updateNetwork, visibleNetworks } from '../networks.js';
import type { NetworkInput } from '../networks.js';
import { caller, createAllOrNone, createBodies, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const ATTRS = [
  'name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'provider:network_type',
  'provider:physical_network', 'provider:segmentation_id', 'tenant_id', 'project_id', 'availability_zone_hints', 'dns_domain', 'qos_policy_id', 'is_default',
] as const;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NetworkBody = Type.Object({
  network: Type.Object({
    name: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 255 })),
    admin_state_up: Type.Optional(Type.Boolean()),
    shared: Type.Optional(Type.Boolean()),
    'router:external': Type.Optional(Type.Boolean()),
    mtu: Type.Optional(Type.Integer()),
    port_security_enabled: Type.Optional(Type.Boolean()),
    'provider:network_type': Type.Optional(Type.String()),
    'provider:physical_network': Type.Optional(Nullable(Type.String())),
    'provider:segmentation_id': Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    tenant_id: Type.Optional(Type.String()),
    project_id: Type.Optional(Type.String()),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

export function registerNetworkRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  const render = async (rows: Awaited<ReturnType<typeof visibleNetworks>>, c: ReturnType<typeof caller>) => {
    const subnets = await subnetIdsByNetwork(deps.db, rows.map((r) => r.id));
    return rows.map((r) => renderNetwork(r, subnets.get(r.id) ?? [], c));
  };
  app.get('/v2.0/networks', async (request) => {
    const c = caller(env, request);
    const { items, links } = applyListQuery(await render(await visibleNetworks(deps.db, c), c), queryOf(request), selfUrl(env, request));
    return { networks: items, ...(links.length ? { networks_links: links } : {}) };
  });
  app.post('/v2.0/networks', async (request, reply) => {
    const c = caller(env, request);
    const { inputs, bulk } = createBodies<NetworkInput>(request.body, 'network', 'networks', NetworkBody, ATTRS);
    const rows = await createAllOrNone(inputs, (input) => createNetwork(deps, c, input), (row) => deleteNetwork(deps, c, row.id));
    const rendered = await render(rows, c);
    return reply.status(201).send(bulk ? { networks: rendered } : { network: rendered[0] });
  });
  app.get('/v2.0/networks/:id', async (request) => {
    const c = caller(env, request);
    const row = await getNetwork(deps.db, c, (request.params as { id: string }).id);
    return { network: project((await render([row], c))[0], queryOf(request)) };
  });
  app.put('/v2.0/networks/:id', { schema: { body: NetworkBody } }, async (request) => {
    const c = caller(env, request);
    const row = await updateNetwork(deps, c, (request.params as { id: string }).id, resourceBody<NetworkInput>(request.body, 'network', ATTRS));
    return { network: (await render([row], c))[0] };
  });
  app.delete('/v2.0/networks/:id', async (request, reply) => {
    await deleteNetwork(deps, caller(env, request), (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
