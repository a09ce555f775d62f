import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { EndpointTable, RegionTable, ServiceTable } from './schema.js';
import { fromBool, parseJsonObject, splitExtra, toBool, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';

// ---- regions ----

export interface RegionInput {
  id?: string;
  description?: string;
  parent_region_id?: string | null;
  [extra: string]: unknown;
}

export function renderRegion(row: RegionTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    description: row.description,
    parent_region_id: row.parent_region_id,
    links: { self: `${base}/regions/${row.id}` },
  };
}

export async function getRegion(db: Db, id: string): Promise<RegionTable> {
  const row = await db.selectFrom('identity_region').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find region: ${id}.`);
  return row;
}

export async function listRegions(db: Db, f: { parent_region_id?: string }): Promise<RegionTable[]> {
  let q = db.selectFrom('identity_region').selectAll();
  if (f.parent_region_id !== undefined) q = q.where('parent_region_id', '=', f.parent_region_id);
  return q.orderBy('id').execute();
}

async function checkParent(db: Db, id: string, parentId: string | null | undefined): Promise<void> {
  if (!parentId) return;
  if (parentId === id) throw badRequest(`Circular reference found: region ${id} cannot be its own parent.`);
  let cursor: string | null = parentId;
  const seen = new Set<string>();
  while (cursor) {
    if (cursor === id) throw badRequest(`Circular reference found in the region tree at ${parentId}.`);
    if (seen.has(cursor)) break;
    seen.add(cursor);
    const region: RegionTable | undefined = await db.selectFrom('identity_region').selectAll().where('id', '=', cursor).executeTakeFirst();
    if (!region) throw notFound(`Could not find region: ${cursor}.`);
    cursor = region.parent_region_id;
  }
}

export async function createRegion(deps: IdentityDeps, input: RegionInput): Promise<RegionTable> {
  return writeTransaction(deps, async (trx) => {
    const id = input.id ?? deps.newId();
    if (await trx.selectFrom('identity_region').select('id').where('id', '=', id).executeTakeFirst()) {
      throw conflict(`Conflict occurred attempting to store region - Duplicate ID, ${id}.`);
    }
    await checkParent(trx, id, input.parent_region_id);
    const row: RegionTable = {
      id,
      description: input.description ?? '',
      parent_region_id: input.parent_region_id ?? null,
      extra: JSON.stringify(splitExtra(input, ['id', 'description', 'parent_region_id', 'links'])),
    };
    await trx.insertInto('identity_region').values(row).execute();
    return row;
  });
}

export async function updateRegion(deps: IdentityDeps, id: string, patch: RegionInput): Promise<RegionTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getRegion(trx, id);
    if (patch.id !== undefined && patch.id !== id) throw badRequest('Update of `id` is not allowed.');
    if (patch.parent_region_id !== undefined) await checkParent(trx, id, patch.parent_region_id);
    const next: RegionTable = {
      ...row,
      description: patch.description ?? row.description,
      parent_region_id: patch.parent_region_id === undefined ? row.parent_region_id : patch.parent_region_id,
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, ['id', 'description', 'parent_region_id', 'links']) }),
    };
    await trx.updateTable('identity_region').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteRegion(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getRegion(trx, id);
    if (await trx.selectFrom('identity_region').select('id').where('parent_region_id', '=', id).executeTakeFirst()) {
      throw forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    }
    if (await trx.selectFrom('identity_endpoint').select('id').where('region_id', '=', id).executeTakeFirst()) {
      throw forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    }
    await trx.deleteFrom('identity_region').where('id', '=', id).execute();
  });
}

// ---- services ----

export interface ServiceInput {
  type: string;
  name?: string;
  description?: string;
  enabled?: boolean;
  [extra: string]: unknown;
}

export function renderService(row: ServiceTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    type: row.type,
    enabled: toBool(row.enabled),
    links: { self: `${base}/services/${row.id}` },
  };
}

export async function getService(db: Db, id: string): Promise<ServiceTable> {
  const row = await db.selectFrom('identity_service').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find service: ${id}.`);
  return row;
}

export async function listServices(db: Db, f: { type?: string; name?: string }): Promise<ServiceTable[]> {
  let q = db.selectFrom('identity_service').selectAll();
  if (f.type !== undefined) q = q.where('type', '=', f.type);
  const rows = await q.orderBy('type').execute();
  return f.name === undefined ? rows : rows.filter((r) => parseJsonObject(r.extra).name === f.name);
}

export async function createService(deps: IdentityDeps, input: ServiceInput): Promise<ServiceTable> {
  const row: ServiceTable = {
    id: typeof input.id === 'string' && input.id ? input.id : deps.newId(),
    type: input.type,
    enabled: fromBool(input.enabled),
    extra: JSON.stringify(splitExtra(input, ['id', 'type', 'enabled', 'links'])),
  };
  await writeTransaction(deps, async (trx) => {
    await trx.insertInto('identity_service').values(row).execute();
  });
  return row;
}

export async function updateService(deps: IdentityDeps, id: string, patch: Partial<ServiceInput>): Promise<ServiceTable> {
  return writeTransaction(deps, async (trx) => {
    const row = await getService(trx, id);
    const next: ServiceTable = {
      ...row,
      type: patch.type ?? row.type,
      enabled: patch.enabled === undefined ? row.enabled : fromBool(patch.enabled),
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, ['id', 'type', 'enabled', 'links']) }),
    };
    await trx.updateTable('identity_service').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteService(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getService(trx, id);
    await trx.deleteFrom('identity_endpoint').where('service_id', '=', id).execute();
    await trx.deleteFrom('identity_service').where('id', '=', id).execute();
  });
}

// ---- endpoints ----

export const INTERFACES = ['public', 'internal', 'admin'] as const;

export interface EndpointInput {
  service_id: string;
  interface: string;
  url: string;
  region_id?: string | null;
  region?: string | null;
  enabled?: boolean;
  [extra: string]: unknown;
}

const ENDPOINT_KNOWN = ['id', 'service_id', 'interface', 'url', 'region_id', 'region', 'enabled', 'links'];

export function renderEndpoint(row: EndpointTable, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    interface: row.interface,
    region_id: row.region_id,
    region: row.region_id,
    service_id: row.service_id,
    url: row.url,
    enabled: toBool(row.enabled),
    links: { self: `${base}/endpoints/${row.id}` },
  };
}

export async function getEndpoint(db: Db, id: string): Promise<EndpointTable> {
  const row = await db.selectFrom('identity_endpoint').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find endpoint: ${id}.`);
  return row;
}

export async function listEndpoints(db: Db, f: { service_id?: string; interface?: string; region_id?: string }): Promise<EndpointTable[]> {
  let q = db.selectFrom('identity_endpoint').selectAll();
  if (f.service_id !== undefined) q = q.where('service_id', '=', f.service_id);
  if (f.interface !== undefined) q = q.where('interface', '=', f.interface);
  if (f.region_id !== undefined) q = q.where('region_id', '=', f.region_id);
  return q.execute();
}

function checkInterface(value: string): void {
  if (!(INTERFACES as readonly string[]).includes(value)) {
    throw badRequest(`Invalid input for field 'interface': '${value}' is not one of ${INTERFACES.join(', ')}.`);
  }
}

function checkUrl(value: string): void {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/\S+$/.test(value)) throw badRequest(`Invalid input for field 'url': '${value}' is not a valid URL.`);
}

/**
 * An explicit `region_id` must exist (400 otherwise); the legacy `region` field alone creates
 * the region when it is missing, as Keystone does.
 */
async function ensureRegion(trx: Db, input: Partial<EndpointInput>, regionId: string | null | undefined): Promise<void> {
  if (!regionId) return;
  const exists = await trx.selectFrom('identity_region').select('id').where('id', '=', regionId).executeTakeFirst();
  if (exists) return;
  if (input.region_id !== undefined && input.region_id !== null) throw badRequest(`Could not find region: ${regionId}.`);
  await trx.insertInto('identity_region').values({ id: regionId, description: '', parent_region_id: null, extra: '{}' }).execute();
}

export async function createEndpoint(deps: IdentityDeps, input: EndpointInput): Promise<EndpointTable> {
  checkInterface(input.interface);
  checkUrl(input.url);
  const regionId = input.region_id ?? input.region ?? null;
  return writeTransaction(deps, async (trx) => {
    const service = await trx.selectFrom('identity_service').select('id').where('id', '=', input.service_id).executeTakeFirst();
    if (!service) throw badRequest(`Could not find service: ${input.service_id}.`);
    await ensureRegion(trx, input, regionId);
    const row: EndpointTable = {
      id: typeof input.id === 'string' && input.id ? input.id : deps.newId(),
      service_id: input.service_id,
      interface: input.interface,
      url: input.url,
      region_id: regionId,
      enabled: fromBool(input.enabled),
      extra: JSON.stringify(splitExtra(input, ENDPOINT_KNOWN)),
    };
    await trx.insertInto('identity_endpoint').values(row).execute();
    return row;
  });
}

export async function updateEndpoint(deps: IdentityDeps, id: string, patch: Partial<EndpointInput>): Promise<EndpointTable> {
  if (patch.interface !== undefined) checkInterface(patch.interface);
  if (patch.url !== undefined) checkUrl(patch.url);
  return writeTransaction(deps, async (trx) => {
    const row = await getEndpoint(trx, id);
    if (patch.service_id !== undefined) {
      const service = await trx.selectFrom('identity_service').select('id').where('id', '=', patch.service_id).executeTakeFirst();
      if (!service) throw badRequest(`Could not find service: ${patch.service_id}.`);
    }
    const regionPatch = patch.region_id !== undefined ? patch.region_id : patch.region;
    await ensureRegion(trx, patch, regionPatch);
    const next: EndpointTable = {
      ...row,
      service_id: patch.service_id ?? row.service_id,
      interface: patch.interface ?? row.interface,
      url: patch.url ?? row.url,
      region_id: regionPatch === undefined ? row.region_id : regionPatch,
      enabled: patch.enabled === undefined ? row.enabled : fromBool(patch.enabled),
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, ENDPOINT_KNOWN) }),
    };
    await trx.updateTable('identity_endpoint').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteEndpoint(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getEndpoint(trx, id);
    await trx.deleteFrom('identity_project_endpoint').where('endpoint_id', '=', id).execute();
    await trx.deleteFrom('identity_endpoint').where('id', '=', id).execute();
  });
}

export interface CatalogEntry {
  id: string;
  type: string;
  name: string;
  endpoints: { id: string; interface: string; region_id: string | null; region: string | null; url: string }[];
}

/** The service catalog: enabled services with their enabled endpoints. `$(project_id)s` is substituted. */
export async function buildCatalog(db: Db, projectId: string | undefined, allowedEndpointIds?: Set<string>): Promise<CatalogEntry[]> {
  const services = await db.selectFrom('identity_service').selectAll().where('enabled', '=', 1).execute();
  const endpoints = await db.selectFrom('identity_endpoint').selectAll().where('enabled', '=', 1).execute();
  return services.map((s) => ({
    id: s.id,
    type: s.type,
    name: String(parseJsonObject(s.extra).name ?? ''),
    endpoints: endpoints
      .filter((e) => e.service_id === s.id && (!allowedEndpointIds || allowedEndpointIds.has(e.id)))
      .filter((e) => projectId || !/\$\(project_id\)s|%\(project_id\)s/.test(e.url))
      .map((e) => ({
        id: e.id,
        interface: e.interface,
        region_id: e.region_id,
        region: e.region_id,
        url: projectId ? e.url.replace(/\$\(project_id\)s|%\(project_id\)s/g, projectId) : e.url,
      })),
  }));
}
