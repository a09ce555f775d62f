/**
 * Nova's image proxy: `/images` (list, detail, show, delete) until 2.35 and the image metadata
 * proxy `/images/{id}/metadata` until 2.38; from those microversions on they are 404, as in Nova.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KumoError } from '../../errors.js';
import {
  deleteImageMetadataItem, deleteProxiedImage, imageDetail, imageMetadata, imageMetadataItem, imageSummary, listProxiedImages,
  setImageMetadata, setImageMetadataItem, showProxiedImage,
} from '../image-proxy.js';
import type { ImageProxyLinks } from '../image-proxy.js';
import { minorOf } from '../microversion.js';
import { caller, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

const IMAGES_UNTIL = 35;
const METADATA_UNTIL = 38;

function available(request: FastifyRequest, until: number): void {
  if (minorOf(request) > until) throw new KumoError('ERR_NOT_FOUND', 'The resource could not be found.');
}

export function registerImageProxyRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const links: ImageProxyLinks = { base: env.base, imageRoot: env.imageBase.replace(/\/v2$/, '') };
  const id = (request: FastifyRequest) => param(request, 'id');

  const list = (detail: boolean) => async (request: FastifyRequest) => {
    available(request, IMAGES_UNTIL);
    const { images, nextMarker } = await listProxiedImages(deps, caller(request), query(request));
    const body: Record<string, unknown> = { images: images.map((i) => (detail ? imageDetail(links, i) : imageSummary(links, i))) };
    if (nextMarker) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query(request))) if (k !== 'marker' && v !== undefined) for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
      params.set('marker', nextMarker);
      body.images_links = [{ rel: 'next', href: `${env.base}/v2.1/images${detail ? '/detail' : ''}?${params.toString()}` }];
    }
    return body;
  };
  app.get('/v2.1/images', list(false));
  app.get('/v2.1/images/detail', list(true));
  app.get('/v2.1/images/:id', async (request) => {
    available(request, IMAGES_UNTIL);
    return { image: imageDetail(links, await showProxiedImage(deps, caller(request), id(request))) };
  });
  app.delete('/v2.1/images/:id', async (request, reply) => {
    available(request, IMAGES_UNTIL);
    await deleteProxiedImage(deps, caller(request), id(request));
    return reply.status(204).send();
  });

  app.get('/v2.1/images/:id/metadata', async (request) => {
    available(request, METADATA_UNTIL);
    return { metadata: await imageMetadata(deps, caller(request), id(request)) };
  });
  app.put('/v2.1/images/:id/metadata', async (request) => {
    available(request, METADATA_UNTIL);
    return { metadata: await setImageMetadata(deps, caller(request), id(request), request.body, true) };
  });
  app.post('/v2.1/images/:id/metadata', async (request) => {
    available(request, METADATA_UNTIL);
    return { metadata: await setImageMetadata(deps, caller(request), id(request), request.body, false) };
  });
  app.get('/v2.1/images/:id/metadata/:key', async (request) => {
    available(request, METADATA_UNTIL);
    const key = param(request, 'key');
    return { meta: { [key]: await imageMetadataItem(deps, caller(request), id(request), key) } };
  });
  app.put('/v2.1/images/:id/metadata/:key', async (request) => {
    available(request, METADATA_UNTIL);
    const key = param(request, 'key');
    return { meta: { [key]: await setImageMetadataItem(deps, caller(request), id(request), key, request.body) } };
  });
  app.delete('/v2.1/images/:id/metadata/:key', async (request, reply) => {
    available(request, METADATA_UNTIL);
    await deleteImageMetadataItem(deps, caller(request), id(request), param(request, 'key'));
    return reply.status(204).send();
  });
}
