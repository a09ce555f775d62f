/** Nova os-quota-sets and limits. */
import type { FastifyInstance } from 'fastify';
import { invalid } from '../context.js';
import { minorOf } from '../microversion.js';
import { absoluteLimits, DEFAULT_COMPUTE_QUOTAS, deleteComputeQuota, showComputeQuota, updateComputeQuota } from '../quotas.js';
import { caller, lastValue, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

/**
 * Quota keys by microversion: the injected files left the API at 2.57; the network proxies
 * (fixed_ips, floating_ips, security_groups, security_group_rules) are in every quota set before
 * 2.36, as Nova shows them (Tempest's quota tests require them). Neutron enforces those, so
 * they show unlimited here, as the network limits of `GET /limits` do.
 */
const NETWORK_PROXIES = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
const dropped = (minor: number, q: Record<string, unknown>, detail = false) => {
  const out = { ...q };
  if (minor < 36) for (const k of NETWORK_PROXIES) out[k] = detail ? { limit: -1, in_use: 0, reserved: 0 } : -1;
  if (minor >= 57) for (const k of ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes']) delete out[k];
  return out;
};

export function registerQuotaRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  app.get('/v2.1/limits', async (request) => {
    const c = caller(request);
    const projectId = lastValue(query(request).tenant_id);
    if (projectId && projectId !== c.projectId && !c.isAdmin) throw invalid('Only admins can see the limits of another project.');
    const limits: Record<string, unknown> = await absoluteLimits(deps, projectId ?? c.projectId);
    const minor = minorOf(request);
    if (minor >= 36) for (const k of ['maxSecurityGroupRules', 'maxSecurityGroups', 'maxTotalFloatingIps', 'totalFloatingIpsUsed', 'totalSecurityGroupsUsed']) delete limits[k];
    if (minor >= 57) for (const k of ['maxPersonality', 'maxPersonalitySize']) delete limits[k];
    return { limits: { rate: [], absolute: limits } };
  });
  app.get('/v2.1/os-quota-sets/:project/defaults', async (request) => ({ quota_set: dropped(minorOf(request), { id: param(request, 'project'), ...DEFAULT_COMPUTE_QUOTAS }) }));
  app.get('/v2.1/os-quota-sets/:project', async (request) => ({ quota_set: dropped(minorOf(request), await showComputeQuota(deps, caller(request), param(request, 'project'), false)) }));
  app.get('/v2.1/os-quota-sets/:project/detail', async (request) => ({ quota_set: dropped(minorOf(request), await showComputeQuota(deps, caller(request), param(request, 'project'), true), true) }));
  app.put('/v2.1/os-quota-sets/:project', async (request) => {
    const body = (request.body as { quota_set?: unknown } | undefined)?.quota_set;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid("Invalid input for field/attribute quota_set. 'quota_set' is a required property");
    const updated = await updateComputeQuota(deps, caller(request), param(request, 'project'), body as Record<string, unknown>);
    return { quota_set: dropped(minorOf(request), updated) };
  });
  app.delete('/v2.1/os-quota-sets/:project', async (request, reply) => {
    await deleteComputeQuota(deps, caller(request), param(request, 'project'));
    return reply.status(202).send();
  });
}
