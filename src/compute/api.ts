/**
 * The Nova v2.1 API as a Fastify plugin, mounted under `/compute`: version discovery with
 * microversions up to 2.92, flavors, keypairs, servers (desired state and actions), server
 * groups, quotas and limits, availability zones. The agent's compute controller does the work.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { KumoError } from '../errors.js';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderNovaError } from '../http/errors.js';
import { markComputeChanged } from './context.js';
import type { ComputeDeps } from './context.js';
import { negotiate } from './microversion.js';
import { registerAvailabilityZoneRoutes } from './routes/availability-zones.js';
import { consoleActions, registerConsoleRoutes } from './routes/consoles.js';
import type { ConsoleTokens } from './routes/consoles.js';
import type { ComputeRouteEnv } from './routes/common.js';
import { registerFlavorRoutes } from './routes/flavors.js';
import { registerHypervisorRoutes } from './routes/hypervisors.js';
import { registerImageProxyRoutes } from './routes/images.js';
import { registerInterfaceRoutes } from './routes/interfaces.js';
import { registerVolumeAttachmentRoutes } from './routes/volume-attachments.js';
import { registerKeypairRoutes } from './routes/keypairs.js';
import { registerQuotaRoutes } from './routes/quotas.js';
import { registerSecurityGroupRoutes } from './routes/security-groups.js';
import { registerServerGroupRoutes } from './routes/server-groups.js';
import { registerServerRoutes } from './routes/servers.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `base` is where this plugin is mounted: `{publicUrl}/compute`; `imageBase` the image API's `/v2`. */
export function computeApi(deps: ComputeDeps, auth: AuthHookOptions, base: string, imageBase: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: ComputeRouteEnv = { deps, base, imageBase };
    const consoleTokens: ConsoleTokens = new Map();
    await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
    app.setErrorHandler(makeErrorHandler(renderNovaError, auth.identityUri));
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).type('application/json').send(renderNovaError(new KumoError('ERR_NOT_FOUND', 'The resource could not be found.'), request));
    });
    // Nova names the request id twice; Tempest reads x-compute-request-id to find instance actions.
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-compute-request-id', request.id);
    });
    app.addHook('onRequest', async (request, reply) => negotiate(request, reply));
    registerAuthHook(app, auth);
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) {
        await markComputeChanged(deps);
        deps.changes.notify();
      }
    });
    registerVersionRoutes(app, env);
    registerFlavorRoutes(app, env);
    registerKeypairRoutes(app, env);
    registerServerRoutes(app, env, consoleActions(env, consoleTokens));
    registerConsoleRoutes(app, env, consoleTokens);
    registerServerGroupRoutes(app, env);
    registerQuotaRoutes(app, env);
    registerAvailabilityZoneRoutes(app, env);
    registerHypervisorRoutes(app, env);
    registerInterfaceRoutes(app, env);
    registerVolumeAttachmentRoutes(app, env);
    registerSecurityGroupRoutes(app, env);
    registerImageProxyRoutes(app, env);
  };
}
