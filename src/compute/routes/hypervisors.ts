/** Nova os-hypervisors and os-services (admin): the compute hosts, what they offer, what runs there. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { adminOnly, novaError } from '../context.js';
import { computeNodeId } from '../hosts.js';
import { agentLastSeen } from '../../volume/hosts.js';
import { minorOf } from '../microversion.js';
import { providerCapacity } from '../../placement/scheduling.js';
import type { FlavorRecord } from '../flavors.js';
import { caller, param } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerHypervisorRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const admin = (request: FastifyRequest, rule: string) => {
    if (!caller(request).isAdmin) throw adminOnly(rule);
  };

  async function detail(host: string, minor: number) {
    const info = deps.hosts ? await deps.hosts.info(host) : undefined;
    const servers = await deps.db.selectFrom('compute_instance').select(['flavor', 'task_state']).where('host', '=', host).execute();
    // The disk the host registered in placement (statfs of its VM directory) and what servers' claims take of it.
    const disk = (await providerCapacity(deps.placement, computeNodeId(host))).DISK_GB ?? { total: 0, used: 0 };
    const used = servers.reduce((a, s) => {
      const f = JSON.parse(s.flavor) as FlavorRecord;
      return { vcpus: a.vcpus + f.vcpus, ram: a.ram + f.ram, disk: a.disk + f.disk };
    }, { vcpus: 0, ram: 0, disk: 0 });
    const id = minor >= 53 ? computeNodeId(host) : 1;
    const out: Record<string, unknown> = {
      id, hypervisor_hostname: host, state: info ? 'up' : 'down', status: 'enabled',
      hypervisor_type: info?.accel === 'kvm' ? 'KVM' : 'QEMU',
      hypervisor_version: info ? Number(info.qemuVersion.split('.').map((p) => p.padStart(3, '0')).join('')) : 0,
      // The address other hosts reach this one at (its VXLAN endpoint).
      host_ip: deps.config.agent.vxlanLocalIp,
      service: { host, id: minor >= 53 ? computeNodeId(`service:${host}`) : 1, disabled_reason: null },
      // The accelerator per hypervisor: KVM only when a probe guest actually booted with it.
      cpu_info: JSON.stringify({ arch: 'x86_64', accel: info?.accel ?? null, accel_reason: info?.accelReason ?? null }),
    };
    if (minor < 88) {
      const memory = info?.memoryMb ?? 0;
      Object.assign(out, {
        vcpus: info?.cpus ?? 0, memory_mb: memory, local_gb: disk.total, vcpus_used: used.vcpus, memory_mb_used: used.ram, local_gb_used: used.disk,
        free_ram_mb: memory - used.ram, free_disk_gb: disk.total - used.disk, disk_available_least: disk.total - disk.used,
        // Nova's count of instances with a task in progress (building, rebooting, ...).
        current_workload: servers.filter((x) => x.task_state !== null).length, running_vms: servers.length,
      });
    }
    return out;
  }
  const hosts = () => deps.computeHosts();
  const find = (id: string) => {
    const host = hosts().find((h) => h === id || computeNodeId(h) === id || id === '1');
    if (!host) throw novaError('ERR_NOT_FOUND', `Hypervisor with ID ${id} could not be found.`);
    return host;
  };

  app.get('/v2.1/os-hypervisors', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:list');
    const minor = minorOf(request);
    return { hypervisors: hosts().map((h) => ({ id: minor >= 53 ? computeNodeId(h) : 1, hypervisor_hostname: h, state: deps.hosts ? 'up' : 'down', status: 'enabled' })) };
  });
  app.get('/v2.1/os-hypervisors/detail', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:list-detail');
    return { hypervisors: await Promise.all(hosts().map((h) => detail(h, minorOf(request)))) };
  });
  app.get('/v2.1/os-hypervisors/statistics', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:statistics');
    const all = await Promise.all(hosts().map((h) => detail(h, 87)));
    const sum = (k: string) => all.reduce((a, h) => a + Number(h[k] ?? 0), 0);
    return { hypervisor_statistics: { count: all.length, ...Object.fromEntries(['vcpus', 'memory_mb', 'local_gb', 'vcpus_used', 'memory_mb_used', 'local_gb_used', 'free_ram_mb', 'free_disk_gb', 'current_workload', 'running_vms', 'disk_available_least'].map((k) => [k, sum(k)])) } };
  });
  app.get('/v2.1/os-hypervisors/:id', async (request) => {
    admin(request, 'os_compute_api:os-hypervisors:show');
    return { hypervisor: await detail(find(param(request, 'id')), minorOf(request)) };
  });

  app.get('/v2.1/os-services', async (request) => {
    admin(request, 'os_compute_api:os-services:list');
    const minor = minorOf(request);
    const time = (ms: number) => new Date(ms).toISOString().replace('Z', '');
    const entry = (binary: string, host: string, up: boolean, updatedAt: string | null) => ({
      id: minor >= 53 ? computeNodeId(`${binary}:${host}`) : 1, binary, host, zone: binary === 'nova-compute' ? 'nova' : 'internal',
      status: 'enabled', state: up ? 'up' : 'down', updated_at: updatedAt, disabled_reason: null, ...(minor >= 11 ? { forced_down: false } : {}),
    });
    const control = deps.config.agent.host;
    const now = time(deps.now());
    // A compute host's last report is its agent's heartbeat; null (as Nova's for a service that never reported) when it has none.
    const seen = await agentLastSeen(deps.volume, hosts());
    return {
      services: [
        // The scheduler and conductor run inside the API process: up, and current, whenever this answers.
        entry('nova-scheduler', control, true, now), entry('nova-conductor', control, true, now),
        ...hosts().map((h) => entry('nova-compute', h, deps.hosts !== undefined, seen.has(h) ? time(seen.get(h)!) : null)),
      ],
    };
  });
}
