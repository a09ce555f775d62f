import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import { createFloatingIp, deleteFloatingIp, getFloatingIp, renderFloatingIp, updateFloatingIp, visibleFloatingIps } from '../floating-ips.js';
import type { FloatingIpInput } from '../floating-ips.js';
import { caller, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const ATTRS = ['floating_network_id', 'floating_ip_address', 'subnet_id', 'port_id', 'fixed_ip_address', 'description', 'tenant_id', 'project_id', 'dns_name', 'dns_domain', 'qos_policy_id'] as const;

const NullableString = Type.Union([Type.String(), Type.Null()]);
const FloatingIpBody = Type.Object({
  floatingip: Type.Object({
    floating_network_id: Type.Optional(Type.String()),
    floating_ip_address: Type.Optional(Type.String()),
    subnet_id: Type.Optional(Type.String()),
    port_id: Type.Optional(NullableString),
    fixed_ip_address: Type.Optional(NullableString),
    description: Type.Optional(Type.String({ maxLength: 255 })),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

export function registerFloatingIpRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;
  app.get('/v2.0/floatingips', async (request) => {
    const c = caller(env, request);
    const { items, links } = applyListQuery((await visibleFloatingIps(deps.db, c)).map(renderFloatingIp), queryOf(request), selfUrl(env, request));
    return { floatingips: items, ...(links.length ? { floatingips_links: links } : {}) };
  });
  app.post('/v2.0/floatingips', { schema: { body: FloatingIpBody } }, async (request, reply) => {
    const row = await createFloatingIp(deps, caller(env, request), resourceBody<FloatingIpInput>(request.body, 'floatingip', ATTRS));
    return reply.status(201).send({ floatingip: renderFloatingIp(row) });
  });
  app.get('/v2.0/floatingips/:id', async (request) => ({
    floatingip: project(renderFloatingIp(await getFloatingIp(deps.db, caller(env, request), idOf(request))), queryOf(request)),
  }));
  app.put('/v2.0/floatingips/:id', { schema: { body: FloatingIpBody } }, async (request) => ({
    floatingip: renderFloatingIp(await updateFloatingIp(deps, caller(env, request), idOf(request), resourceBody<FloatingIpInput>(request.body, 'floatingip', ATTRS))),
  }));
  app.delete('/v2.0/floatingips/:id', async (request, reply) => {
    await deleteFloatingIp(deps, caller(env, request), idOf(request));
    return reply.status(204).send();
  });
}
