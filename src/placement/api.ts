/**
 * The Placement API as a Fastify plugin, mounted under `/placement`: resource providers with
 * inventories, traits and aggregates, resource classes, allocations and usages, and allocation
 * candidates, with microversions 1.0–1.39. Admin only, as placement's default policy.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, placementErrorRenderer } from '../http/errors.js';
import { KumoError } from '../errors.js';
import type { PlacementDeps } from './context.js';
import { MAX_VERSION, MIN_VERSION, negotiateVersion } from './microversion.js';
import type { PlacementRouteEnv } from './routes/common.js';
import { registerAggregateRoutes } from './routes/aggregates.js';
import { registerAllocationCandidateRoutes } from './routes/allocation-candidates.js';
import { registerAllocationRoutes } from './routes/allocations.js';
import { registerInventoryRoutes } from './routes/inventories.js';
import { registerResourceClassRoutes } from './routes/resource-classes.js';
import { registerResourceProviderRoutes } from './routes/resource-providers.js';
import { registerTraitRoutes } from './routes/traits.js';
import { registerUsageRoutes } from './routes/usages.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `base` is where this plugin is mounted: `{publicUrl}/placement`. */
export function placementApi(deps: PlacementDeps, auth: AuthHookOptions, base: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: PlacementRouteEnv = { deps, base, linkRoot: new URL(base).pathname.replace(/\/$/, '') };
    const render = placementErrorRenderer({ min: MIN_VERSION, max: MAX_VERSION });
    app.decorateRequest('placementMinor', 0);
    app.setErrorHandler(makeErrorHandler(render, auth.identityUri));
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).type('application/json').send(render(new KumoError('ERR_NOT_FOUND', `The resource could not be found: ${request.url}`), request));
    });
    // Before auth: a client negotiating from a 406 must get the version range whatever its token.
    app.addHook('onRequest', async (request, reply) => negotiateVersion(request, reply));
    registerAuthHook(app, auth);
    registerVersionRoutes(app, env);
    registerResourceProviderRoutes(app, env);
    registerInventoryRoutes(app, env);
    registerResourceClassRoutes(app, env);
    registerTraitRoutes(app, env);
    registerAggregateRoutes(app, env);
    registerAllocationRoutes(app, env);
    registerUsageRoutes(app, env);
    registerAllocationCandidateRoutes(app, env);
  };
}
