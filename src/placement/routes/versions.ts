import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from '../microversion.js';
import type { PlacementRouteEnv } from './common.js';

/** The root document (no token needed; osc-placement sends one and negotiates from it). */
export function registerVersionRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  app.get('/', { config: { public: true } }, async () => ({
    versions: [{ id: 'v1.0', status: 'CURRENT', min_version: MIN_VERSION, max_version: MAX_VERSION, links: [{ rel: 'self', href: `${env.base}/` }] }],
  }));
}
