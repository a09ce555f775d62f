/** Images: create, list, show, JSON-patch update, delete (Glance v2 api-ref "Images"). */
import type { FastifyInstance } from 'fastify';
import { IMPORT_METHODS, imageNotFound } from '../context.js';
import { createImage, deleteImage, getImage, listImages, parseCreateBody, parsePatch, updateImage } from '../images.js';
import type { ListQuery } from '../images.js';
import { caller, imageIdOf, renderImage } from './common.js';
import type { ImageRouteEnv } from './common.js';

export function registerImageRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const { deps } = env;

  app.post('/v2/images', async (request, reply) => {
    const c = caller(request);
    const image = await createImage(deps, c, parseCreateBody(request.body));
    // openstacksdk reads the import methods from this header before it stages (`image create --import`).
    return reply.status(201).header('location', `${env.base}/v2/images/${image.id}`).header('openstack-image-import-methods', IMPORT_METHODS.join(','))
      .send(renderImage(image));
  });

  app.get('/v2/images', async (request) => {
    // The app ignores trailing slashes, but `/v2/images/` is a show with an empty id to Glance: 404.
    if (request.url.split('?')[0].endsWith('/')) throw imageNotFound('');
    const q = (request.query ?? {}) as ListQuery;
    const { images, nextMarker } = await listImages(deps, caller(request), q);
    const body: Record<string, unknown> = { images: images.map(renderImage), first: '/v2/images', schema: '/v2/schemas/images' };
    if (nextMarker) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (k !== 'marker' && v !== undefined) for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
      params.set('marker', nextMarker);
      body.next = `/v2/images?${params.toString()}`;
    }
    return body;
  });

  app.get('/v2/images/:id', async (request) => renderImage(await getImage(deps, caller(request), imageIdOf(request))));

  app.patch('/v2/images/:id', async (request) => {
    const c = caller(request);
    const contentType = String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const changes = parsePatch(contentType, request.body);
    return renderImage(await updateImage(deps, c, imageIdOf(request), changes));
  });

  app.delete('/v2/images/:id', async (request, reply) => {
    await deleteImage(deps, caller(request), imageIdOf(request));
    return reply.status(204).send();
  });
}
