/** Image tags (Glance v2 api-ref "Image tags"). */
import type { FastifyInstance } from 'fastify';
import { setImageTag } from '../images.js';
import { caller, imageIdOf } from './common.js';
import type { ImageRouteEnv } from './common.js';

export function registerTagRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const tagOf = (params: unknown) => (params as { tag: string }).tag;
  app.put('/v2/images/:id/tags/:tag', async (request, reply) => {
    await setImageTag(env.deps, caller(request), imageIdOf(request), tagOf(request.params), true);
    return reply.status(204).send();
  });
  app.delete('/v2/images/:id/tags/:tag', async (request, reply) => {
    await setImageTag(env.deps, caller(request), imageIdOf(request), tagOf(request.params), false);
    return reply.status(204).send();
  });
}
