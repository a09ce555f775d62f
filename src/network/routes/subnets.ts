import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import { createSubnet, deleteSubnet, getSubnet, renderSubnet, updateSubnet, visibleSubnets } from '../subnets.js';
import type { SubnetInput } from '../subnets.js';
import { caller, createAllOrNone, createBodies, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const ATTRS = [
  'network_id', 'name', 'description', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers', 'host_routes',
  'ipv6_ra_mode', 'ipv6_address_mode', 'tenant_id', 'project_id', 'service_types', 'subnetpool_id', 'segment_id', 'use_default_subnetpool',
] as const;

const SubnetBody = Type.Object({
  subnet: Type.Object({
    network_id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 255 })),
    ip_version: Type.Optional(Type.Integer()),
    cidr: Type.Optional(Type.String()),
    gateway_ip: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    enable_dhcp: Type.Optional(Type.Boolean()),
    allocation_pools: Type.Optional(Type.Array(Type.Object({ start: Type.String(), end: Type.String() }))),
    dns_nameservers: Type.Optional(Type.Array(Type.String())),
    host_routes: Type.Optional(Type.Array(Type.Object({ destination: Type.String(), nexthop: Type.String() }))),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

export function registerSubnetRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  app.get('/v2.0/subnets', async (request) => {
    const c = caller(env, request);
    const { items, links } = applyListQuery((await visibleSubnets(deps.db, c)).map(renderSubnet), queryOf(request), selfUrl(env, request));
    return { subnets: items, ...(links.length ? { subnets_links: links } : {}) };
  });
  app.post('/v2.0/subnets', async (request, reply) => {
    const c = caller(env, request);
    const { inputs, bulk } = createBodies<SubnetInput>(request.body, 'subnet', 'subnets', SubnetBody, ATTRS);
    const rows = await createAllOrNone(inputs, (input) => createSubnet(deps, c, input), (row) => deleteSubnet(deps, c, row.id));
    return reply.status(201).send(bulk ? { subnets: rows.map(renderSubnet) } : { subnet: renderSubnet(rows[0]) });
  });
  app.get('/v2.0/subnets/:id', async (request) => {
    const row = await getSubnet(deps.db, caller(env, request), (request.params as { id: string }).id);
    return { subnet: project(renderSubnet(row), queryOf(request)) };
  });
  app.put('/v2.0/subnets/:id', { schema: { body: SubnetBody } }, async (request) => {
    const row = await updateSubnet(deps, caller(env, request), (request.params as { id: string }).id, resourceBody<SubnetInput>(request.body, 'subnet', ATTRS));
    return { subnet: renderSubnet(row) };
  });
  app.delete('/v2.0/subnets/:id', async (request, reply) => {
    await deleteSubnet(deps, caller(env, request), (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
