/** Nova os-availability-zone: one zone, `nova`, with this region's compute hosts. */
import type { FastifyInstance } from 'fastify';
import { adminOnly } from '../context.js';
import { AVAILABILITY_ZONE } from '../servers.js';
import { caller } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerAvailabilityZoneRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  app.get('/v2.1/os-availability-zone', async (request) => {
    caller(request);
    return { availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: env.deps.computeHosts().length > 0 }, hosts: null }] };
  });
  app.get('/v2.1/os-availability-zone/detail', async (request) => {
    if (!caller(request).isAdmin) throw adminOnly('os_compute_api:os-availability-zone:detail');
    const hosts = Object.fromEntries(env.deps.computeHosts().map((h) => [h, { 'nova-compute': { available: true, active: true, updated_at: null } }]));
    return { availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: Object.keys(hosts).length > 0 }, hosts }] };
  });
}
