/** Nova flavors: flavors, flavor-manage, os-flavor-extra-specs, os-flavor-access. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid, novaLinks } from '../context.js';
import {
  changeFlavorAccess, createFlavor, deleteExtraSpec, deleteFlavor, extraSpecsOf, flavorAccess, flavorNotFound, getFlavor, listFlavors, setExtraSpecs, updateFlavorDescription,
} from '../flavors.js';
import type { FlavorListQuery, FlavorRow } from '../flavors.js';
import { minorOf } from '../microversion.js';
import { bodyObject, caller, lastValue, optionalInt, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerFlavorRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const links = (id: string) => novaLinks(env.base, null, 'flavors', id);

  async function render(request: FastifyRequest, rows: FlavorRow[], detail: boolean): Promise<Record<string, unknown>[]> {
    const minor = minorOf(request);
    const specs = detail && minor >= 61 ? await extraSpecsOf(deps, rows.map((r) => r.flavorid)) : undefined;
    return rows.map((r) => {
      const summary: Record<string, unknown> = { id: r.flavorid, name: r.name, links: links(r.flavorid) };
      if (minor >= 55) summary.description = r.description;
      if (!detail) return summary;
      return {
        ...summary,
        ram: r.memory_mb, vcpus: r.vcpus, disk: r.root_gb,
        'OS-FLV-EXT-DATA:ephemeral': r.ephemeral_gb,
        'OS-FLV-DISABLED:disabled': r.disabled === 1,
        // Before 2.75 Nova shows no swap as an empty string.
        swap: r.swap_mb === 0 && minor < 75 ? '' : r.swap_mb,
        rxtx_factor: r.rxtx_factor,
        'os-flavor-access:is_public': r.is_public === 1,
        ...(specs ? { extra_specs: specs.get(r.flavorid) ?? {} } : {}),
      };
    });
  }

  function listQuery(request: FastifyRequest): FlavorListQuery {
    const q = query(request);
    const pub = (lastValue(q.is_public) ?? 'true').toLowerCase();
    // OSC sends the literal string `None` for "both".
    const isPublic = ['none'].includes(pub) ? 'none' : ['true', 't', '1', 'yes', 'y', 'on'].includes(pub) ? 'true' : ['false', 'f', '0', 'no', 'n', 'off'].includes(pub) ? 'false' : undefined;
    if (!isPublic) throw invalid(`Invalid is_public filter [${pub}]`);
    const sortDir = (lastValue(q.sort_dir) ?? 'asc').toLowerCase();
    if (sortDir !== 'asc' && sortDir !== 'desc') throw invalid(`Invalid input for query parameters sort_dir. Value: ${sortDir}. '${sortDir}' is not one of ['asc', 'desc']`);
    return {
      isPublic, minRam: optionalInt('minRam', q.minRam), minDisk: optionalInt('minDisk', q.minDisk),
      sortKey: lastValue(q.sort_key) ?? 'flavorid', sortDir, limit: optionalInt('limit', q.limit), marker: lastValue(q.marker),
    };
  }

  app.get('/v2.1/flavors', async (request) => ({ flavors: await render(request, await listFlavors(deps, caller(request), listQuery(request)), false) }));
  app.get('/v2.1/flavors/detail', async (request) => ({ flavors: await render(request, await listFlavors(deps, caller(request), listQuery(request)), true) }));
  app.get('/v2.1/flavors/:id', async (request) => ({ flavor: (await render(request, [await getFlavor(deps, caller(request), param(request, 'id'))], true))[0] }));
  app.post('/v2.1/flavors', async (request) => {
    const row = await createFlavor(deps, caller(request), bodyObject(request.body, 'flavor'), minorOf(request));
    return { flavor: (await render(request, [row], true))[0] };
  });
  app.put('/v2.1/flavors/:id', async (request) => {
    if (minorOf(request) < 55) throw invalid('Flavor update requires microversion 2.55 or later.');
    const body = bodyObject(request.body, 'flavor');
    if (Object.keys(body).some((k) => k !== 'description') || !('description' in body)) throw invalid("Invalid input for field/attribute flavor. Only 'description' can be updated");
    return { flavor: (await render(request, [await updateFlavorDescription(deps, caller(request), param(request, 'id'), body.description)], true))[0] };
  });
  app.delete('/v2.1/flavors/:id', async (request, reply) => {
    await deleteFlavor(deps, caller(request), param(request, 'id'));
    return reply.status(202).send();
  });

  app.get('/v2.1/flavors/:id/os-extra_specs', async (request) => {
    const id = param(request, 'id');
    await getFlavor(deps, caller(request), id);
    return { extra_specs: (await extraSpecsOf(deps, [id])).get(id) ?? {} };
  });
  app.post('/v2.1/flavors/:id/os-extra_specs', async (request) => {
    const specs = (request.body as Record<string, unknown> | undefined)?.extra_specs;
    return { extra_specs: await setExtraSpecs(deps, caller(request), param(request, 'id'), specs) };
  });
  app.get('/v2.1/flavors/:id/os-extra_specs/:key', async (request) => {
    const id = param(request, 'id');
    const key = param(request, 'key');
    await getFlavor(deps, caller(request), id);
    const specs = (await extraSpecsOf(deps, [id])).get(id) ?? {};
    if (!(key in specs)) throw flavorNotFound(`${id} has no extra specs with key ${key}`);
    return { [key]: specs[key] };
  });
  app.put('/v2.1/flavors/:id/os-extra_specs/:key', async (request) => {
    const key = param(request, 'key');
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (Object.keys(body).length !== 1 || !(key in body)) throw invalid('Request body and URI mismatch');
    return setExtraSpecs(deps, caller(request), param(request, 'id'), body);
  });
  app.delete('/v2.1/flavors/:id/os-extra_specs/:key', async (request) => {
    await deleteExtraSpec(deps, caller(request), param(request, 'id'), param(request, 'key'));
    return '';
  });

  const accessBody = (id: string, projects: string[]) => ({ flavor_access: projects.map((p) => ({ flavor_id: id, tenant_id: p })) });
  app.get('/v2.1/flavors/:id/os-flavor-access', async (request) => {
    const id = param(request, 'id');
    return accessBody(id, await flavorAccess(deps, caller(request), id));
  });
  app.post('/v2.1/flavors/:id/action', async (request) => {
    const id = param(request, 'id');
    const body = (request.body ?? {}) as Record<string, { tenant?: unknown } | undefined>;
    const action = Object.keys(body)[0];
    if (action !== 'addTenantAccess' && action !== 'removeTenantAccess') throw invalid(`There is no such action: ${action ?? ''}`);
    return accessBody(id, await changeFlavorAccess(deps, caller(request), id, body[action]?.tenant, action === 'addTenantAccess'));
  });
}
