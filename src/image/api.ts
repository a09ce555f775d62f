/**
 * The Glance v2 API as a Fastify plugin, mounted under `/image`: version discovery, images with
 * JSON-patch updates, streamed data upload and download, members, tags, schemas, glance-direct
 * import and deactivation. Image data lives on the control plane's filesystem.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { KumoError } from '../errors.js';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderGlanceError } from '../http/errors.js';
import { parseJsonBody } from '../http/json-body.js';
import type { ImageDeps } from './context.js';
import { PATCH_CONTENT_TYPES } from './images.js';
import { registerActionRoutes } from './routes/actions.js';
import type { ImageRouteEnv } from './routes/common.js';
import { registerImageDataRoutes } from './routes/image-data.js';
import { registerImageRoutes } from './routes/images.js';
import { registerImportRoutes } from './routes/import.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerSchemaRoutes } from './routes/schemas.js';
import { registerTagRoutes } from './routes/tags.js';
import { registerVersionRoutes } from './routes/versions.js';

/** `base` is where this plugin is mounted: `{publicUrl}/image`. */
export function imageApi(deps: ImageDeps, auth: AuthHookOptions, base: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: ImageRouteEnv = { deps, base };
    const handleError = makeErrorHandler(renderGlanceError, auth.identityUri);
    app.setErrorHandler(handleError);
    app.setNotFoundHandler((request, reply) => handleError(new KumoError('ERR_NOT_FOUND', `The resource could not be found: ${request.url}`), request, reply));
    // Image PATCH bodies are JSON under Glance's own media types.
    app.addContentTypeParser(PATCH_CONTENT_TYPES, { parseAs: 'string' }, parseJsonBody);
    registerAuthHook(app, auth);
    registerVersionRoutes(app, env);
    registerImageRoutes(app, env);
    registerImageDataRoutes(app, env);
    registerImportRoutes(app, env);
    registerMemberRoutes(app, env);
    registerTagRoutes(app, env);
    registerSchemaRoutes(app);
    registerActionRoutes(app, env);
  };
}
