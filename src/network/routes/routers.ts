import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import {
  addRouterInterface, createRouter, deleteRouter, gatewayIpsByRouter, getRouter, removeRouterInterface, renderRouter, updateRouter, visibleRouters,
} from '../routers.js';
import type { InterfaceInfo, RouterInput } from '../routers.js';
import type { RouterTable } from '../schema.js';
import { caller, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const ATTRS = ['name', 'description', 'admin_state_up', 'external_gateway_info', 'tenant_id', 'project_id', 'availability_zone_hints'] as const;

const GatewayInfo = Type.Union([
  Type.Null(),
  Type.Object({
    network_id: Type.Optional(Type.String()),
    enable_snat: Type.Optional(Type.Boolean()),
    external_fixed_ips: Type.Optional(Type.Array(Type.Object({ subnet_id: Type.Optional(Type.String()), ip_address: Type.Optional(Type.String()) }))),
  }, { additionalProperties: true }),
]);

const RouterBody = Type.Object({
  router: Type.Object({
    name: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 255 })),
    admin_state_up: Type.Optional(Type.Boolean()),
    external_gateway_info: Type.Optional(GatewayInfo),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

const InterfaceBody = Type.Object({ subnet_id: Type.Optional(Type.String()), port_id: Type.Optional(Type.String()) }, { additionalProperties: true });

export function registerRouterRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  const render = async (rows: RouterTable[]) => {
    const gw = await gatewayIpsByRouter(deps.db, rows);
    return rows.map((r) => renderRouter(r, gw.get(r.id) ?? []));
  };
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;
  app.get('/v2.0/routers', async (request) => {
    const c = caller(env, request);
    const { items, links } = applyListQuery(await render(await visibleRouters(deps.db, c)), queryOf(request), selfUrl(env, request));
    return { routers: items, ...(links.length ? { routers_links: links } : {}) };
  });
  app.post('/v2.0/routers', { schema: { body: RouterBody } }, async (request, reply) => {
    const row = await createRouter(deps, caller(env, request), resourceBody<RouterInput>(request.body, 'router', ATTRS));
    return reply.status(201).send({ router: (await render([row]))[0] });
  });
  app.get('/v2.0/routers/:id', async (request) => {
    const row = await getRouter(deps.db, caller(env, request), idOf(request));
    return { router: project((await render([row]))[0], queryOf(request)) };
  });
  app.put('/v2.0/routers/:id', { schema: { body: RouterBody } }, async (request) => {
    const row = await updateRouter(deps, caller(env, request), idOf(request), resourceBody<RouterInput>(request.body, 'router', ATTRS));
    return { router: (await render([row]))[0] };
  });
  app.delete('/v2.0/routers/:id', async (request, reply) => {
    await deleteRouter(deps, caller(env, request), idOf(request));
    return reply.status(204).send();
  });
  app.put('/v2.0/routers/:id/add_router_interface', { schema: { body: InterfaceBody } }, async (request) =>
    addRouterInterface(deps, caller(env, request), idOf(request), request.body as InterfaceInfo));
  app.put('/v2.0/routers/:id/remove_router_interface', { schema: { body: InterfaceBody } }, async (request) =>
    removeRouterInterface(deps, caller(env, request), idOf(request), request.body as InterfaceInfo));
}
