/** Deactivate and reactivate (Glance v2 api-ref "Images": image actions). */
import type { FastifyInstance } from 'fastify';
import { setImageActive } from '../images.js';
import { caller, imageIdOf } from './common.js';
import type { ImageRouteEnv } from './common.js';

export function registerActionRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  app.post('/v2/images/:id/actions/deactivate', async (request, reply) => {
    await setImageActive(env.deps, caller(request), imageIdOf(request), false);
    return reply.status(204).send();
  });
  app.post('/v2/images/:id/actions/reactivate', async (request, reply) => {
    await setImageActive(env.deps, caller(request), imageIdOf(request), true);
    return reply.status(204).send();
  });
}
