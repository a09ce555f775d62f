/**
 * The Zun v1 API as a Fastify plugin, mounted under `/container`: version discovery with
 * microversions up to 1.40, containers (desired state, actions, live operations on the host)
 * and quotas. The agent's container controller does the work on the host.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderZunError } from '../http/errors.js';
import { KumoError } from '../errors.js';
import type { ContainerDeps } from './context.js';
import { requestedMinor, setVersionHeaders } from './microversion.js';
import type { ContainerRouteEnv } from './routes/common.js';
import { registerCapsuleRoutes } from './routes/capsules.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerExecRoutes } from './routes/exec.js';
import { createExecSessions } from './exec-sessions.js';
import { registerHostRoutes } from './routes/hosts.js';
import { registerImageRoutes } from './routes/images.js';
import { registerQuotaRoutes } from './routes/quotas.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `base` is where this plugin is mounted: `{publicUrl}/container`. */
export function containerApi(deps: ContainerDeps, auth: AuthHookOptions, base: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: ContainerRouteEnv = { deps, base, execs: createExecSessions() };
    // Interactive exec's websocket (zunclient asks for the `binary` subprotocol; ws takes the first offered).
    await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });
    app.addHook('onClose', async () => env.execs.closeAll());
    app.setErrorHandler(makeErrorHandler(renderZunError, auth.identityUri));
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).type('application/json').send(renderZunError(new KumoError('ERR_NOT_FOUND', `The resource could not be found: ${request.url}`), request));
    });
    app.addHook('onRequest', async (request, reply) => {
      setVersionHeaders(request, reply);
      requestedMinor(request);
    });
    registerAuthHook(app, auth);
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) deps.changes.notify();
    });
    registerVersionRoutes(app, env);
    registerContainerRoutes(app, env);
    registerCapsuleRoutes(app, env);
    registerExecRoutes(app, env);
    registerImageRoutes(app, env);
    registerHostRoutes(app, env);
    registerQuotaRoutes(app, env);
  };
}
