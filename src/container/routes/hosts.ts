import { createHash } from 'node:crypto';
import { arch, cpus, freemem, release, totalmem, type as osType } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { AVAILABILITY_ZONE, zunError, zunLinks } from '../context.js';
import { caller } from './common.js';
import type { ContainerRouteEnv } from './common.js';

const hostUuid = (name: string) => {
  const h = createHash('sha256').update(`zun-host\0${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** Zun's compute hosts (admin): in all-in-one mode, the one this process runs its agent on. */
export function registerHostRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;
  // Every host is in the one zone (Zun's default name) until hosts can be grouped.
  app.get('/v1/availability_zones', async (request) => {
    caller(request);
    return { availability_zones: [{ availability_zone: AVAILABILITY_ZONE }] };
  });
  const describe = async (name: string) => {
    const used = await deps.db.selectFrom('container_container')
      .select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(sum(cpu), 0)`.as('cpu'), sql<number>`coalesce(sum(memory_mib), 0)`.as('mem')])
      .where('host', '=', name).where('desired', '!=', 'deleted').executeTakeFirst();
    const uuid = hostUuid(name);
    return {
      uuid, hostname: name, mem_total: Math.round(totalmem() / 1048576), mem_used: Math.round((totalmem() - freemem()) / 1048576),
      mem_free: Math.round(freemem() / 1048576), mem_available: Math.round(freemem() / 1048576),
      total_containers: Number(used?.n ?? 0), cpus: cpus().length, cpu_used: Number(used?.cpu ?? 0), architecture: arch() === 'x64' ? 'x86_64' : arch(),
      os_type: osType().toLowerCase(), os: osType(), kernel_version: release(), labels: {}, disk_total: 0, disk_used: 0, disk_quota_supported: false,
      runtimes: [deps.config.agent.containerRuntime], enable_cpu_pinning: false,
      links: zunLinks(env.base, 'hosts', uuid),
    };
  };
  const known = () => deps.hosts?.hosts ?? [];
  const admin = (request: Parameters<typeof caller>[0]) => {
    if (!caller(request).isAdmin) throw zunError('ERR_FORBIDDEN', "Policy doesn't allow host:get_all to be performed.");
  };
  app.get('/v1/hosts', async (request) => {
    admin(request);
    return { hosts: await Promise.all(known().map(describe)), next: null };
  });
  app.get('/v1/hosts/:id', async (request) => {
    admin(request);
    const { id } = request.params as { id: string };
    const name = known().find((h) => h === id || hostUuid(h) === id);
    if (!name) throw zunError('ERR_NOT_FOUND', `ComputeNode ${id} could not be found.`);
    return describe(name);
  });
}
