/**
 * The app factory: one Fastify instance serving every enabled API under its path prefix
 * (`/identity`, later `/compute`, `/network`, ...). Separate from `listen` so tests use inject().
 * @module
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { KumoConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/database.js';
import { identityApi } from '../identity/api.js';
import type { IdentityDeps } from '../identity/context.js';
import { validateToken } from '../identity/tokens.js';
import { networkApi } from '../network/api.js';
import type { NetworkDeps } from '../network/context.js';
import { containerApi } from '../container/api.js';
import type { ContainerDeps } from '../container/context.js';
import { computeApi } from '../compute/api.js';
import type { ComputeDeps } from '../compute/context.js';
import { placementApi } from '../placement/api.js';
import type { PlacementDeps } from '../placement/context.js';
import { imageApi } from '../image/api.js';
import type { ImageDeps } from '../image/context.js';
import { volumeApi } from '../volume/api.js';
import type { VolumeDeps } from '../volume/context.js';
import { makeErrorHandler, renderKeystoneError } from './errors.js';
import { lazyValidatorCompiler } from './validation.js';
import { parseJsonBody } from './json-body.js';

export interface AppDeps {
  config: KumoConfig;
  db: Db;
  logger: Logger;
  identity: IdentityDeps;
  network: NetworkDeps;
  container: ContainerDeps;
  compute: ComputeDeps;
  placement: PlacementDeps;
  image: ImageDeps;
  volume: VolumeDeps;
}

/** Every service Kumo serves, by path prefix; the catalog and bootstrap read this too. */
export const SERVICE_PREFIXES = { identity: '/identity', network: '/network', container: '/container', compute: '/compute', placement: '/placement', image: '/image', volume: '/volume' } as const;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // Per-request access lines would dominate the log at bench rates; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    requestIdHeader: 'x-openstack-request-id',
    genReqId: () => `req-${crypto.randomUUID()}`,
    // maxParamLength: Glance tags (path segments) may be 255 characters.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
    // HEAD routes are declared explicitly where the API has them (they often answer 204).
    exposeHeadRoutes: false,
  });

  // Clients send `Content-Type: application/json` with no body (e.g. Zun execute) and
  // malformed JSON must be a 400 in the API's own error shape, so JSON is parsed here.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'string' }, parseJsonBody);
  // Raw bodies (zunclient sends this type even on bodiless DELETEs; image uploads later) stay a
  // stream for the route to consume: nothing is buffered here.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.setValidatorCompiler(lazyValidatorCompiler);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
  });

  const identityUri = `${deps.config.publicUrl}${SERVICE_PREFIXES.identity}`;
  app.setErrorHandler(makeErrorHandler(renderKeystoneError, identityUri));
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).type('application/json').send({ error: { code: 404, title: 'Not Found', message: `The resource could not be found: ${request.url}` } });
  });

  app.get('/', async () => ({
    name: 'kumo',
    services: Object.entries(SERVICE_PREFIXES).map(([type, prefix]) => ({ type, url: `${deps.config.publicUrl}${prefix}` })),
  }));

  // Every service authenticates through identity's exported validateToken, with the same hook.
  const auth = { validate: (token: string) => validateToken(deps.identity, token), identityUri };
  await app.register(identityApi(deps.identity, auth), { prefix: SERVICE_PREFIXES.identity });
  await app.register(networkApi(deps.network, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.network}`), { prefix: SERVICE_PREFIXES.network });
  await app.register(containerApi(deps.container, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.container}`), { prefix: SERVICE_PREFIXES.container });
  await app.register(computeApi(deps.compute, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.compute}`, `${deps.config.publicUrl}/image/v2`), { prefix: SERVICE_PREFIXES.compute });
  await app.register(placementApi(deps.placement, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.placement}`), { prefix: SERVICE_PREFIXES.placement });
  await app.register(imageApi(deps.image, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.image}`), { prefix: SERVICE_PREFIXES.image });
  await app.register(volumeApi(deps.volume, auth, `${deps.config.publicUrl}${SERVICE_PREFIXES.volume}`), { prefix: SERVICE_PREFIXES.volume });
  return app;
}
