/** Image data: upload and download (Glance v2 api-ref "Image data"), streamed both ways. */
import type { FastifyInstance } from 'fastify';
import { openImageData, uploadImageData } from '../image-data.js';
import type { ByteRange } from '../image-data.js';
import { bodyStream, caller, declaredLength, imageIdOf } from './common.js';
import type { ImageRouteEnv } from './common.js';

/** A single `bytes=` range within `size`; anything else (several ranges, out of bounds) is ignored and the whole file sent. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '') || size === 0) return undefined;
  const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end && start < size ? { start, end } : undefined;
}

export function registerImageDataRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const { deps } = env;

  app.put('/v2/images/:id/file', async (request, reply) => {
    await uploadImageData(deps, caller(request), imageIdOf(request), bodyStream(request), declaredLength(request));
    return reply.status(204).send();
  });

  app.get('/v2/images/:id/file', async (request, reply) => {
    const range = request.headers.range;
    const opened = await openImageData(deps, caller(request), imageIdOf(request), (size) => parseRange(range, size));
    // Glance: an image without data answers 204.
    if (!opened) return reply.status(204).send();
    const { image, stream, size, range: served } = opened;
    reply.type('application/octet-stream');
    if (served) {
      reply.status(206).header('content-range', `bytes ${served.start}-${served.end}/${size}`).header('content-length', served.end - served.start + 1);
    } else {
      reply.header('content-length', size);
      if (image.checksum) reply.header('content-md5', image.checksum);
    }
    return reply.send(stream);
  });
}
