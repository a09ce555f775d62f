/**
 * The Keystone v3 API as a Fastify plugin, mounted under `/identity`.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderKeystoneError } from '../http/errors.js';
import type { IdentityDeps } from './context.js';
import { registerAppCredRoutes } from './routes/app-credentials.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerCatalogRoutes } from './routes/catalog.js';
import type { RouteEnv } from './routes/common.js';
import { registerCredentialRoutes } from './routes/credentials.js';
import { registerDomainConfigRoutes, registerDomainRoutes } from './routes/domains.js';
import { registerEndpointFilterRoutes } from './routes/endpoint-filter.js';
import { registerProjectRoutes } from './routes/projects.js';
import { registerRoleRoutes } from './routes/roles.js';
import { registerTrustRoutes } from './routes/trusts.js';
import { registerUserRoutes } from './routes/users.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `auth.identityUri` is where this plugin is mounted: `{publicUrl}/identity`. */
export function identityApi(deps: IdentityDeps, auth: AuthHookOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: RouteEnv = { deps, base: `${auth.identityUri}/v3` };
    app.setErrorHandler(makeErrorHandler(renderKeystoneError, auth.identityUri));
    registerAuthHook(app, auth);
    registerVersionRoutes(app, env);
    registerAuthRoutes(app, env);
    registerDomainConfigRoutes(app, env);
    registerDomainRoutes(app, env);
    registerProjectRoutes(app, env);
    registerUserRoutes(app, env);
    registerRoleRoutes(app, env);
    registerCatalogRoutes(app, env);
    registerEndpointFilterRoutes(app, env);
    registerAppCredRoutes(app, env);
    registerTrustRoutes(app, env);
    registerCredentialRoutes(app, env);
  };
}
