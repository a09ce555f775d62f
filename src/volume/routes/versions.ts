/** Version documents: `GET /` → 300 (the legacy cinder CLI), `GET /v3/` → 200 (the SDK negotiates from it). */
import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from '../microversion.js';
import type { VolumeRouteEnv } from './common.js';

export function registerVersionRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const v3 = () => ({
    id: 'v3.0', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: '2016-02-08T12:20:21Z',
    links: [{ rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' }, { rel: 'self', href: `${env.base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  });
  app.get('/', { config: { public: true } }, async (_request, reply) => reply.status(300).send({ versions: [v3()] }));
  app.get('/v3', { config: { public: true } }, async () => ({ versions: [v3()] }));
}
