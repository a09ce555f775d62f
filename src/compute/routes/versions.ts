import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from '../microversion.js';
import type { ComputeRouteEnv } from './common.js';

/**
 * The SDK negotiates from `GET /v2.1` (no token): without `version`/`min_version` and a self link
 * it sends no microversion at all.
 */
export function registerVersionRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const v21 = () => ({
    id: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${env.base}/v2.1/` }, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  });
  app.get('/', { config: { public: true } }, async () => ({ versions: [{ ...v21(), links: [{ rel: 'self', href: `${env.base}/v2.1/` }] }] }));
  app.get('/v2.1', { config: { public: true } }, async () => ({ version: v21() }));
}
