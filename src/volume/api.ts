/**
 * The Cinder v3 API as a Fastify plugin, mounted under `/volume`: version discovery with
 * microversions up to 3.70, volumes and their actions, snapshots, volume types, attachments,
 * quotas and limits, availability zones and services. Every route answers under
 * `/v3/{project_id}/…` and `/v3/…`. The volume controller on each host does the work.
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { KumoError } from '../errors.js';
import { registerAuthHook } from '../http/auth.js';
import type { AuthHookOptions } from '../http/auth.js';
import { makeErrorHandler, renderCinderError } from '../http/errors.js';
import { markVolumeChanged } from './context.js';
import type { VolumeDeps } from './context.js';
import { negotiate } from './microversion.js';
import { registerAttachmentRoutes } from './routes/attachments.js';
import type { VolumeRouteEnv } from './routes/common.js';
import { registerQuotaRoutes } from './routes/quotas.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerSnapshotRoutes } from './routes/snapshots.js';
import { registerVersionRoutes } from './routes/versions.js';
import { registerVolumeTypeRoutes } from './routes/volume-types.js';
import { registerVolumeRoutes } from './routes/volumes.js';

/** `base` is where this plugin is mounted: `{publicUrl}/volume`. */
export function volumeApi(deps: VolumeDeps, auth: AuthHookOptions, base: string): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const env: VolumeRouteEnv = { deps, base };
    app.setErrorHandler(makeErrorHandler(renderCinderError, auth.identityUri));
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).type('application/json').send(renderCinderError(new KumoError('ERR_NOT_FOUND', 'The resource could not be found.'), request));
    });
    app.addHook('onRequest', async (request, reply) => negotiate(request, reply));
    registerAuthHook(app, auth);
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) await markVolumeChanged(deps);
    });
    registerVersionRoutes(app, env);
    registerVolumeRoutes(app, env);
    registerSnapshotRoutes(app, env);
    registerVolumeTypeRoutes(app, env);
    registerAttachmentRoutes(app, env);
    registerQuotaRoutes(app, env);
    registerServiceRoutes(app, env);
  };
}
