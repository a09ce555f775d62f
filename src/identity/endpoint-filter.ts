/**
 * OS-EP-FILTER: endpoint groups and project associations. A project with any association
 * sees only its associated endpoints in its token's catalog; others see every endpoint.
 * @module
 */
import { badRequest, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import type { EndpointGroupTable, EndpointTable } from './schema.js';
import { parseJsonObject, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { getEndpoint } from './catalog.js';
import { getProject } from './projects.js';

const FILTER_KEYS = ['interface', 'service_id', 'region_id'] as const;

export interface EndpointGroupInput {
  name: string;
  description?: string | null;
  filters: Record<string, unknown>;
}

export function renderEndpointGroup(row: EndpointGroupTable, base: string) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    filters: parseJsonObject(row.filters),
    links: { self: `${base}/OS-EP-FILTER/endpoint_groups/${row.id}` },
  };
}

function checkFilters(filters: Record<string, unknown>): void {
  const keys = Object.keys(filters);
  if (keys.length === 0) throw badRequest("Invalid input for field 'filters': at least one filter is required.");
  for (const k of keys) {
    if (!(FILTER_KEYS as readonly string[]).includes(k)) throw badRequest(`Invalid input for field 'filters': '${k}' is not one of ${FILTER_KEYS.join(', ')}.`);
    if (typeof filters[k] !== 'string') throw badRequest(`Invalid input for field 'filters/${k}': must be a string.`);
  }
}

export async function getEndpointGroup(db: Db, id: string): Promise<EndpointGroupTable> {
  const row = await db.selectFrom('identity_endpoint_group').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(`Could not find endpoint group: ${id}.`);
  return row;
}

export async function listEndpointGroups(db: Db, f: { name?: string }): Promise<EndpointGroupTable[]> {
  let q = db.selectFrom('identity_endpoint_group').selectAll();
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  return q.orderBy('name').execute();
}

export async function createEndpointGroup(deps: IdentityDeps, input: EndpointGroupInput): Promise<EndpointGroupTable> {
  checkFilters(input.filters);
  const row: EndpointGroupTable = { id: deps.newId(), name: input.name, description: input.description ?? null, filters: JSON.stringify(input.filters) };
  await writeTransaction(deps, (trx) => trx.insertInto('identity_endpoint_group').values(row).execute());
  return row;
}

export async function updateEndpointGroup(deps: IdentityDeps, id: string, patch: Partial<EndpointGroupInput>): Promise<EndpointGroupTable> {
  if (patch.filters !== undefined) checkFilters(patch.filters);
  return writeTransaction(deps, async (trx) => {
    const row = await getEndpointGroup(trx, id);
    const next: EndpointGroupTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description === undefined ? row.description : patch.description,
      filters: patch.filters ? JSON.stringify(patch.filters) : row.filters,
    };
    await trx.updateTable('identity_endpoint_group').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteEndpointGroup(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getEndpointGroup(trx, id);
    await trx.deleteFrom('identity_project_endpoint_group').where('endpoint_group_id', '=', id).execute();
    await trx.deleteFrom('identity_endpoint_group').where('id', '=', id).execute();
  });
}

export function endpointMatches(group: EndpointGroupTable, e: EndpointTable): boolean {
  const f = parseJsonObject(group.filters);
  return FILTER_KEYS.every((k) => f[k] === undefined || f[k] === e[k]);
}

export async function endpointsInGroup(db: Db, id: string): Promise<EndpointTable[]> {
  const group = await getEndpointGroup(db, id);
  return (await db.selectFrom('identity_endpoint').selectAll().execute()).filter((e) => endpointMatches(group, e));
}

export async function associateGroupWithProject(deps: IdentityDeps, groupId: string, projectId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getEndpointGroup(trx, groupId);
    await getProject(trx, projectId);
    await trx.insertInto('identity_project_endpoint_group').values({ endpoint_group_id: groupId, project_id: projectId })
      .onConflict((oc) => oc.columns(['endpoint_group_id', 'project_id']).doNothing()).execute();
  });
}

export async function checkGroupProject(db: Db, groupId: string, projectId: string): Promise<void> {
  await getEndpointGroup(db, groupId);
  await getProject(db, projectId);
  const row = await db.selectFrom('identity_project_endpoint_group').select('project_id')
    .where('endpoint_group_id', '=', groupId).where('project_id', '=', projectId).executeTakeFirst();
  if (!row) throw notFound(`Could not find endpoint group ${groupId} associated with project ${projectId}.`);
}

export async function dissociateGroupFromProject(deps: IdentityDeps, groupId: string, projectId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await checkGroupProject(trx, groupId, projectId);
    await trx.deleteFrom('identity_project_endpoint_group').where('endpoint_group_id', '=', groupId).where('project_id', '=', projectId).execute();
  });
}

export async function projectIdsOfGroup(db: Db, groupId: string): Promise<string[]> {
  await getEndpointGroup(db, groupId);
  return (await db.selectFrom('identity_project_endpoint_group').select('project_id').where('endpoint_group_id', '=', groupId).execute()).map((r) => r.project_id);
}

export async function groupsOfProject(db: Db, projectId: string): Promise<EndpointGroupTable[]> {
  await getProject(db, projectId);
  return db.selectFrom('identity_endpoint_group').innerJoin('identity_project_endpoint_group', 'identity_project_endpoint_group.endpoint_group_id', 'identity_endpoint_group.id')
    .selectAll('identity_endpoint_group').where('identity_project_endpoint_group.project_id', '=', projectId).execute();
}

export async function associateEndpointWithProject(deps: IdentityDeps, projectId: string, endpointId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getProject(trx, projectId);
    await getEndpoint(trx, endpointId);
    await trx.insertInto('identity_project_endpoint').values({ endpoint_id: endpointId, project_id: projectId })
      .onConflict((oc) => oc.columns(['endpoint_id', 'project_id']).doNothing()).execute();
  });
}

export async function checkEndpointProject(db: Db, projectId: string, endpointId: string): Promise<void> {
  await getProject(db, projectId);
  await getEndpoint(db, endpointId);
  const row = await db.selectFrom('identity_project_endpoint').select('project_id').where('endpoint_id', '=', endpointId).where('project_id', '=', projectId).executeTakeFirst();
  if (!row) throw notFound(`Could not find endpoint ${endpointId} associated with project ${projectId}.`);
}

export async function dissociateEndpointFromProject(deps: IdentityDeps, projectId: string, endpointId: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await checkEndpointProject(trx, projectId, endpointId);
    await trx.deleteFrom('identity_project_endpoint').where('endpoint_id', '=', endpointId).where('project_id', '=', projectId).execute();
  });
}

export async function projectIdsOfEndpoint(db: Db, endpointId: string): Promise<string[]> {
  await getEndpoint(db, endpointId);
  return (await db.selectFrom('identity_project_endpoint').select('project_id').where('endpoint_id', '=', endpointId).execute()).map((r) => r.project_id);
}

/** The endpoint ids a project is restricted to, or undefined when it has no association (sees all). */
export async function allowedEndpointIds(db: Db, projectId: string): Promise<Set<string> | undefined> {
  const direct = await db.selectFrom('identity_project_endpoint').select('endpoint_id').where('project_id', '=', projectId).execute();
  const groups = await db.selectFrom('identity_endpoint_group').innerJoin('identity_project_endpoint_group', 'identity_project_endpoint_group.endpoint_group_id', 'identity_endpoint_group.id')
    .selectAll('identity_endpoint_group').where('identity_project_endpoint_group.project_id', '=', projectId).execute();
  if (direct.length === 0 && groups.length === 0) return undefined;
  const ids = new Set(direct.map((d) => d.endpoint_id));
  if (groups.length) {
    for (const e of await db.selectFrom('identity_endpoint').selectAll().execute()) if (groups.some((g) => endpointMatches(g, e))) ids.add(e.id);
  }
  return ids;
}
