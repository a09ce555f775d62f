/** Version discovery: the documents clients read to find `/v2` under the image endpoint. */
import type { FastifyInstance } from 'fastify';
import type { ImageRouteEnv } from './common.js';

/** The API versions Glance Zed (2022.2) lists; they all share the one v2 endpoint. */
const CURRENT = 16;

export function registerVersionRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const versions = () => ({
    versions: Array.from({ length: CURRENT + 1 }, (_, i) => CURRENT - i).map((minor) => ({
      id: `v2.${minor}`, status: minor === CURRENT ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href: `${env.base}/v2/` }],
    })),
  });
  // Glance answers its root with 300 Multiple Choices; the legacy client asks /versions and expects 200.
  app.get('/', { config: { public: true } }, async (_request, reply) => reply.status(300).send(versions()));
  app.get('/versions', { config: { public: true } }, async () => versions());
}
