import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import { createPort, deletePort, fixedIpsByPort, getPort, renderPort, updatePort, visiblePorts } from '../ports.js';
import type { FixedIp, PortInput } from '../ports.js';
import { badInput } from '../context.js';
import type { PortTable } from '../schema.js';
import type { Caller } from '../context.js';
import { caller, createAllOrNone, createBodies, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const ATTRS = [
  'network_id', 'name', 'description', 'admin_state_up', 'mac_address', 'fixed_ips', 'device_id', 'device_owner', 'binding:host_id',
  'binding:vnic_type', 'binding:profile', 'port_security_enabled', 'allowed_address_pairs', 'security_groups', 'tenant_id', 'project_id',
  'extra_dhcp_opts', 'dns_name', 'qos_policy_id',
] as const;

const PortBody = Type.Object({
  port: Type.Object({
    network_id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 255 })),
    admin_state_up: Type.Optional(Type.Boolean()),
    mac_address: Type.Optional(Type.String()),
    fixed_ips: Type.Optional(Type.Array(Type.Object({ subnet_id: Type.Optional(Type.String()), ip_address: Type.Optional(Type.String()) }))),
    device_id: Type.Optional(Type.String({ maxLength: 255 })),
    device_owner: Type.Optional(Type.String({ maxLength: 255 })),
    'binding:host_id': Type.Optional(Type.String({ maxLength: 255 })),
    port_security_enabled: Type.Optional(Type.Boolean()),
    allowed_address_pairs: Type.Optional(Type.Array(Type.Object({ ip_address: Type.String(), mac_address: Type.Optional(Type.String()) }))),
    security_groups: Type.Optional(Type.Array(Type.String())),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

/**
 * Neutron's `fixed_ips=ip_address=X` / `fixed_ips=subnet_id=Y` filter (repeatable): a port
 * matches when one of its addresses has one of the asked values for every key given.
 */
function matchesFixedIps(fixedIps: FixedIp[], filter: string | string[] | undefined): boolean {
  if (filter === undefined) return true;
  const wanted = new Map<string, string[]>();
  for (const item of Array.isArray(filter) ? filter : [filter]) {
    const at = item.indexOf('=');
    const key = at < 0 ? '' : item.slice(0, at);
    if (key !== 'ip_address' && key !== 'subnet_id') throw badInput(`fixed_ips filters are ip_address=ADDRESS or subnet_id=ID, got '${item}'.`);
    wanted.set(key, [...(wanted.get(key) ?? []), item.slice(at + 1)]);
  }
  return fixedIps.some((f) => [...wanted].every(([key, vals]) => vals.includes(f[key as keyof FixedIp])));
}

export function registerPortRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  const render = async (rows: PortTable[], c: Caller) => {
    const ips = await fixedIpsByPort(deps.db, rows.map((r) => r.id));
    return rows.map((r) => renderPort(r, ips.get(r.id) ?? [], c));
  };
  app.get('/v2.0/ports', async (request) => {
    const c = caller(env, request);
    const { fixed_ips: fixedIpFilter, ...rest } = queryOf(request);
    const rendered = (await render(await visiblePorts(deps.db, c), c)).filter((p) => matchesFixedIps(p.fixed_ips, fixedIpFilter));
    const { items, links } = applyListQuery(rendered, rest, selfUrl(env, request));
    return { ports: items, ...(links.length ? { ports_links: links } : {}) };
  });
  app.post('/v2.0/ports', async (request, reply) => {
    const c = caller(env, request);
    const { inputs, bulk } = createBodies<PortInput>(request.body, 'port', 'ports', PortBody, ATTRS);
    const created = await createAllOrNone(inputs, (input) => createPort(deps, c, input), ({ port }) => deletePort(deps, c, port.id));
    const rendered = created.map(({ port, fixedIps }) => renderPort(port, fixedIps, c));
    return reply.status(201).send(bulk ? { ports: rendered } : { port: rendered[0] });
  });
  app.get('/v2.0/ports/:id', async (request) => {
    const c = caller(env, request);
    const row = await getPort(deps.db, c, (request.params as { id: string }).id);
    return { port: project((await render([row], c))[0], queryOf(request)) };
  });
  app.put('/v2.0/ports/:id', { schema: { body: PortBody } }, async (request) => {
    const c = caller(env, request);
    const { port, fixedIps } = await updatePort(deps, c, (request.params as { id: string }).id, resourceBody<PortInput>(request.body, 'port', ATTRS));
    return { port: renderPort(port, fixedIps, c) };
  });
  app.delete('/v2.0/ports/:id', async (request, reply) => {
    await deletePort(deps, caller(env, request), (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
