/** Availability zones, os-services (admin: the scheduler and every volume host with its heartbeat), get_pools, extensions. */
import type { FastifyInstance } from 'fastify';
import { cinderTime, policyDenied } from '../context.js';
import { isAlive, volumeServices } from '../hosts.js';
import { minorOf } from '../microversion.js';
import { caller, query, route } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerServiceRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  route(app, 'GET', '/os-availability-zone', async (request) => {
    caller(request);
    const live = (await volumeServices(deps.db)).some((s) => isAlive(deps, s) && !s.disabled);
    return { availabilityZoneInfo: [{ zoneName: deps.config.volume.availabilityZone, zoneState: { available: live } }] };
  });
  route(app, 'GET', '/os-services', async (request) => {
    const c = caller(request);
    if (!c.isAdmin) throw policyDenied('volume_extension:services:index');
    const q = query(request);
    const rows = await volumeServices(deps.db);
    const zone = deps.config.volume.availabilityZone;
    const now = cinderTime(deps.now());
    const services = [
      // The scheduler runs inside every API process: it is up whenever this answers.
      { binary: 'cinder-scheduler', host: deps.config.agent.host, zone, status: 'enabled', state: 'up', updated_at: now, disabled_reason: null },
      ...rows.map((s) => ({
        binary: 'cinder-volume', host: `${s.host}@kumo`, zone: s.availability_zone, status: s.disabled ? 'disabled' : 'enabled',
        state: isAlive(deps, s) ? 'up' : 'down', updated_at: cinderTime(Number(s.heartbeat_at)), disabled_reason: s.disabled_reason,
      })),
    ].map((s) => (minorOf(request) >= 7 ? { ...s, cluster: null } : s));
    const binary = Array.isArray(q.binary) ? q.binary.at(-1) : q.binary;
    const host = Array.isArray(q.host) ? q.host.at(-1) : q.host;
    return { services: services.filter((s) => (!binary || s.binary === binary) && (!host || s.host === host || s.host.startsWith(`${host}@`))) };
  });
  route(app, 'GET', '/scheduler-stats/get_pools', async (request) => {
    const c = caller(request);
    if (!c.isAdmin) throw policyDenied('scheduler_extension:scheduler_stats:get_pools');
    const detail = String(query(request).detail ?? '').toLowerCase() === 'true';
    const rows = (await volumeServices(deps.db)).filter((s) => isAlive(deps, s));
    return {
      pools: rows.map((s) => ({
        name: `${s.host}@kumo#kumo`,
        ...(detail ? {
          capabilities: {
            volume_backend_name: 'kumo', vendor_name: 'Kumo', driver_version: '1.0', storage_protocol: 'local', thin_provisioning_support: true, multiattach: true,
            total_capacity_gb: Math.floor(Number(s.total_bytes) / 1024 ** 3), free_capacity_gb: Math.floor(Number(s.free_bytes) / 1024 ** 3), reserved_percentage: 0,
            timestamp: cinderTime(Number(s.heartbeat_at)),
          },
        } : {}),
      })),
    };
  });
  route(app, 'GET', '/extensions', async (request) => {
    caller(request);
    return { extensions: [] };
  });
}
