import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from '../microversion.js';
import type { ContainerRouteEnv } from './common.js';

/** zunclient needs 200 here (not 300), `status: "CURRENT"` exactly, and both bounds. */
export function registerVersionRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const v1 = () => ({ id: 'v1', status: 'CURRENT', min_version: MIN_VERSION, max_version: MAX_VERSION, links: [{ rel: 'self', href: `${env.base}/v1/` }] });
  app.get('/', { config: { public: true } }, async () => ({
    versions: [v1()], default_version: v1(), name: 'OpenStack Zun API', description: 'Zun is an OpenStack project which aims to provide container management.',
  }));
  app.get('/v1', { config: { public: true } }, async () => ({
    id: 'v1', media_types: [{ base: 'application/json', type: 'application/vnd.openstack.zun.v1+json' }], links: [{ rel: 'self', href: `${env.base}/v1/` }],
    containers: [{ rel: 'self', href: `${env.base}/v1/containers/` }],
  }));
}
