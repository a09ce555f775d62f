/**
 * Resource providers: a tree of things with inventory (a compute host, later an Ironic node),
 * each with a generation every change moves, and the aggregates they belong to.
 * @module
 */
import type { Db } from '../store/database.js';
import { isUniqueViolation } from '../store/database.js';
import { CODES, concurrentUpdate, invalid, isoTime, placementError, providerNotFound } from './context.js';
import type { PlacementDeps } from './context.js';
import { providersWithRoom } from './capacity.js';
import type { ResourceProviderTable } from './schema.js';

export type ProviderRow = ResourceProviderTable;

export async function findProvider(db: Db, uuid: string): Promise<ProviderRow | undefined> {
  return db.selectFrom('placement_resource_provider').selectAll().where('uuid', '=', uuid).executeTakeFirst();
}

export async function getProvider(db: Db, uuid: string): Promise<ProviderRow> {
  const row = await findProvider(db, uuid);
  if (!row) throw providerNotFound(uuid);
  return row;
}

/**
 * The compare-and-swap every write to a provider goes through: the generation moves from the
 * one read (or the one the client sent, `expected`) to the next, or nothing is written and the
 * caller gets 409 placement.concurrent_update. Two writers that read the same generation
 * cannot both succeed, on either dialect: on PostgreSQL the second UPDATE waits for the first
 * to commit and then matches no row.
 */
export async function bumpProviderGeneration(trx: Db, provider: ProviderRow, expected: number | undefined, now: number): Promise<number> {
  const generationMoved = () => concurrentUpdate(`resource provider generation conflict: Resource provider's generation already changed. Please update the generation and try again.`);
  if (expected !== undefined && expected !== provider.generation) throw generationMoved();
  const res = await trx.updateTable('placement_resource_provider')
    .set({ generation: provider.generation + 1, updated_at: isoTime(now) })
    .where('uuid', '=', provider.uuid).where('generation', '=', provider.generation)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw generationMoved();
  return provider.generation + 1;
}

export interface ProviderFilter {
  name?: string;
  uuid?: string;
  /** Each entry: the provider is in at least one of these aggregates. */
  memberOf?: string[][];
  /** The provider is in none of these aggregates. */
  notMemberOf?: string[];
  /** Providers in the same tree as this one. */
  inTree?: string;
  /** Providers with room for all of these. */
  resources?: Record<string, number>;
  requiredTraits?: string[];
  forbiddenTraits?: string[];
  /** Each entry: the provider has at least one of these traits (1.39's `required=in:`). */
  anyTraits?: string[][];
}

export async function listProviders(db: Db, filter: ProviderFilter = {}): Promise<ProviderRow[]> {
  let q = db.selectFrom('placement_resource_provider').selectAll().orderBy('name');
  if (filter.name !== undefined) q = q.where('name', '=', filter.name);
  if (filter.uuid !== undefined) q = q.where('uuid', '=', filter.uuid);
  if (filter.inTree !== undefined) {
    const anchor = await findProvider(db, filter.inTree);
    if (!anchor) return [];
    q = q.where('root_provider_uuid', '=', anchor.root_provider_uuid);
  }
  for (const anyOf of filter.memberOf ?? []) {
    q = q.where('uuid', 'in', db.selectFrom('placement_provider_aggregate').select('provider_uuid').where('aggregate_uuid', 'in', anyOf));
  }
  if (filter.notMemberOf?.length) {
    q = q.where('uuid', 'not in', db.selectFrom('placement_provider_aggregate').select('provider_uuid').where('aggregate_uuid', 'in', filter.notMemberOf));
  }
  for (const trait of filter.requiredTraits ?? []) {
    q = q.where('uuid', 'in', db.selectFrom('placement_provider_trait').select('provider_uuid').where('trait', '=', trait));
  }
  for (const anyOf of filter.anyTraits ?? []) {
    q = q.where('uuid', 'in', db.selectFrom('placement_provider_trait').select('provider_uuid').where('trait', 'in', anyOf));
  }
  if (filter.forbiddenTraits?.length) {
    q = q.where('uuid', 'not in', db.selectFrom('placement_provider_trait').select('provider_uuid').where('trait', 'in', filter.forbiddenTraits));
  }
  let rows = await q.execute();
  if (filter.resources && Object.keys(filter.resources).length) {
    const room = await providersWithRoom(db, filter.resources, rows.map((r) => r.uuid));
    rows = rows.filter((r) => room.has(r.uuid));
  }
  return rows;
}

const duplicateName = (name: string) => placementError('ERR_CONFLICT', `Conflicting resource provider name: ${name} already exists.`, CODES.DUPLICATE_NAME);

export interface ProviderInput {
  name: string;
  uuid?: string;
  parentProviderUuid?: string | null;
}

export async function createProvider(deps: PlacementDeps, input: ProviderInput): Promise<ProviderRow> {
  const uuid = input.uuid ?? deps.newId();
  const at = isoTime(deps.now());
  try {
    return await deps.db.transaction().execute(async (trx) => {
      if (await findProvider(trx, uuid)) throw placementError('ERR_CONFLICT', `Conflicting resource provider uuid: ${uuid} already exists.`, CODES.DUPLICATE_NAME);
      if (await trx.selectFrom('placement_resource_provider').select('uuid').where('name', '=', input.name).executeTakeFirst()) throw duplicateName(input.name);
      let root = uuid;
      if (input.parentProviderUuid) {
        const parent = await findProvider(trx, input.parentProviderUuid);
        if (!parent) throw invalid(`parent provider UUID does not exist.`);
        root = parent.root_provider_uuid;
      }
      const row: ProviderRow = { uuid, name: input.name, generation: 0, parent_provider_uuid: input.parentProviderUuid ?? null, root_provider_uuid: root, created_at: at, updated_at: at };
      await trx.insertInto('placement_resource_provider').values(row).execute();
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicateName(input.name);
    throw err;
  }
}

/**
 * Renames a provider and (from 1.14) sets its parent. Before 1.37 an existing parent cannot
 * change; from 1.37 a provider can move to another parent (not into its own subtree) or become a root.
 */
export async function updateProvider(deps: PlacementDeps, uuid: string, input: { name: string; parentProviderUuid?: string | null }, allowReparent: boolean): Promise<ProviderRow> {
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const row = await getProvider(trx, uuid);
      const clash = await trx.selectFrom('placement_resource_provider').select('uuid').where('name', '=', input.name).where('uuid', '!=', uuid).executeTakeFirst();
      if (clash) throw duplicateName(input.name);
      let parent = row.parent_provider_uuid;
      let root = row.root_provider_uuid;
      if (input.parentProviderUuid !== undefined && input.parentProviderUuid !== row.parent_provider_uuid) {
        if (row.parent_provider_uuid !== null && !allowReparent) throw invalid('re-parenting a provider is not currently allowed.');
        if (input.parentProviderUuid === null) {
          if (!allowReparent) throw invalid('un-parenting a provider is not currently allowed.');
          parent = null;
          root = uuid;
        } else {
          const p = await findProvider(trx, input.parentProviderUuid);
          if (!p) throw invalid('parent provider UUID does not exist.');
          if (await isInSubtree(trx, p.uuid, uuid)) throw invalid('creating loop in the provider tree is not allowed.');
          parent = p.uuid;
          root = p.root_provider_uuid;
        }
      }
      const generation = await bumpProviderGeneration(trx, row, undefined, deps.now());
      const updated = { ...row, name: input.name, parent_provider_uuid: parent, root_provider_uuid: root, generation, updated_at: isoTime(deps.now()) };
      await trx.updateTable('placement_resource_provider').set({ name: updated.name, parent_provider_uuid: parent, root_provider_uuid: root }).where('uuid', '=', uuid).execute();
      if (root !== row.root_provider_uuid) await setSubtreeRoot(trx, uuid, root);
      return updated;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicateName(input.name);
    throw err;
  }
}

async function childrenOf(db: Db, uuids: string[]): Promise<string[]> {
  if (!uuids.length) return [];
  return (await db.selectFrom('placement_resource_provider').select('uuid').where('parent_provider_uuid', 'in', uuids).execute()).map((r) => r.uuid);
}

/** Whether `candidate` is `top` or one of its descendants. */
async function isInSubtree(db: Db, candidate: string, top: string): Promise<boolean> {
  for (let level = [top]; level.length; level = await childrenOf(db, level)) if (level.includes(candidate)) return true;
  return false;
}

async function setSubtreeRoot(db: Db, top: string, root: string): Promise<void> {
  for (let level = await childrenOf(db, [top]); level.length; level = await childrenOf(db, level)) {
    await db.updateTable('placement_resource_provider').set({ root_provider_uuid: root }).where('uuid', 'in', level).execute();
  }
}

/** Deletes a provider with its inventory, traits and aggregates; 409 while it has allocations or children. */
export async function deleteProvider(deps: PlacementDeps, uuid: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await getProvider(trx, uuid);
    if (await trx.selectFrom('placement_allocation').select('consumer_uuid').where('provider_uuid', '=', uuid).executeTakeFirst()) {
      throw placementError('ERR_CONFLICT', `Unable to delete resource provider ${uuid}: Resource provider has allocations.`, CODES.PROVIDER_IN_USE);
    }
    if ((await childrenOf(trx, [uuid])).length) {
      throw placementError('ERR_CONFLICT', `Unable to delete parent resource provider ${uuid}: It has child resource providers.`, CODES.PROVIDER_CANNOT_DELETE_PARENT);
    }
    await trx.deleteFrom('placement_resource_provider').where('uuid', '=', uuid).execute();
  });
}

export async function providerAggregates(db: Db, uuid: string): Promise<string[]> {
  const rows = await db.selectFrom('placement_provider_aggregate').select('aggregate_uuid').where('provider_uuid', '=', uuid).orderBy('aggregate_uuid').execute();
  return rows.map((r) => r.aggregate_uuid);
}

/** Replaces a provider's aggregates; `generation` as for traits (undefined: before 1.19, no check). */
export async function setProviderAggregates(deps: PlacementDeps, uuid: string, aggregates: string[], generation: number | undefined): Promise<{ aggregates: string[]; generation: number }> {
  return deps.db.transaction().execute(async (trx) => {
    const provider = await getProvider(trx, uuid);
    const next = await bumpProviderGeneration(trx, provider, generation, deps.now());
    await trx.deleteFrom('placement_provider_aggregate').where('provider_uuid', '=', uuid).execute();
    const unique = [...new Set(aggregates)].sort();
    if (unique.length) await trx.insertInto('placement_provider_aggregate').values(unique.map((aggregate_uuid) => ({ provider_uuid: uuid, aggregate_uuid }))).execute();
    return { aggregates: unique, generation: next };
  });
}
