import type { FastifyInstance } from 'fastify';
import type { RouteEnv } from './common.js';

export function versionEntry(env: RouteEnv) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${env.base}/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function registerVersionRoutes(app: FastifyInstance, env: RouteEnv): void {
  // keystoneauth discovers without a token; both documents must carry a self link.
  app.get('/', { config: { public: true } }, async (_req, reply) => reply.status(300).send({ versions: { values: [versionEntry(env)] } }));
  app.get('/v3', { config: { public: true } }, async () => ({ version: versionEntry(env) }));
}
