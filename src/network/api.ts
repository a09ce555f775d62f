/**
 * The Neutron v2.0 API as a Fastify plugin, mounted under `/network`: networks, subnets,
 * ports with IPAM, security groups, routers, floating IPs, quotas and tags. The data plane is
 * driven by the agent (src/agent) from the state these routes write.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderNeutronError } from '../http/errors.js';
import type { NetworkDeps } from './context.js';
import type { NetworkRouteEnv } from './routes/common.js';
import { registerFloatingIpRoutes } from './routes/floating-ips.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { registerPortRoutes } from './routes/ports.js';
import { registerQuotaRoutes } from './routes/quotas.js';
import { registerRouterRoutes } from './routes/routers.js';
import { registerSecurityGroupRoutes } from './routes/security-groups.js';
import { registerSubnetRoutes } from './routes/subnets.js';
import { registerTagRoutes } from './routes/tags.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `base` is where this plugin is mounted: `{publicUrl}/network`. */
export function networkApi(deps: NetworkDeps, auth: AuthHookOptions, base: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: NetworkRouteEnv = { deps, base };
    app.setErrorHandler(makeErrorHandler(renderNeutronError, auth.identityUri));
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).type('application/json').send({ NeutronError: { type: 'HTTPNotFound', message: `The resource could not be found: ${request.url}`, detail: '' } });
    });
    registerAuthHook(app, auth);
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) deps.changes.notify();
    });
    registerVersionRoutes(app, env);
    registerNetworkRoutes(app, env);
    registerSubnetRoutes(app, env);
    registerPortRoutes(app, env);
    registerSecurityGroupRoutes(app, env);
    registerRouterRoutes(app, env);
    registerFloatingIpRoutes(app, env);
    registerQuotaRoutes(app, env);
    registerTagRoutes(app, env);
  };
}
