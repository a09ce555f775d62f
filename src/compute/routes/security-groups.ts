/**
 * Nova's os-security-groups proxy (to Neutron, deprecated at 2.36 but what OSC 6.0's
 * `server add security group` looks groups up with at 2.1), and a server's groups.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { novaSecurityGroups, workloadGroupNames } from '../../network/workload-ports.js';
import { novaError } from '../context.js';
import { minorOf } from '../microversion.js';
import { getServer, portsOf } from '../servers.js';
import { caller, param } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerSecurityGroupRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const proxyOnly = (request: FastifyRequest) => {
    if (minorOf(request) >= 36) throw novaError('ERR_NOT_FOUND', 'The resource could not be found.');
  };
  app.get('/v2.1/os-security-groups', async (request) => {
    proxyOnly(request);
    return { security_groups: await novaSecurityGroups(deps.network, caller(request)) };
  });
  app.get('/v2.1/os-security-groups/:id', async (request) => {
    proxyOnly(request);
    const found = (await novaSecurityGroups(deps.network, caller(request))).find((g) => g.id === param(request, 'id'));
    if (!found) throw novaError('ERR_NOT_FOUND', `Security group ${param(request, 'id')} not found.`);
    return { security_group: found };
  });
  app.get('/v2.1/servers/:id/os-security-groups', async (request) => {
    const c = caller(request);
    const row = await getServer(deps.db, c, param(request, 'id'));
    const names = new Set(await workloadGroupNames(deps.network, portsOf(row).map((p) => p.id)));
    return { security_groups: (await novaSecurityGroups(deps.network, c)).filter((g) => names.has(g.name)) };
  });
}
