/**
 * Allocations: what each consumer (a server, a container) holds on which providers. Every
 * write is one transaction that checks capacity against current usage and then moves each
 * touched provider's generation by compare-and-swap; when another writer moved it first, the
 * whole write is retried on fresh data, so two claims for a provider's last capacity cannot
 * both succeed, and the loser gets a 409 that says why.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { isUniqueViolation } from '../store/database.js';
import { KumoError } from '../errors.js';
import { CODES, concurrentUpdate, isoTime, placementError } from './context.js';
import type { PlacementDeps } from './context.js';
import { inventoriesByProvider, misfit, usageByProvider } from './capacity.js';
import { bumpProviderGeneration, getProvider } from './providers.js';
import type { ProviderRow } from './providers.js';
import { assertResourceClassesExist } from './resource-classes.js';

/** provider uuid → resource class → amount. */
export type AllocationMap = Record<string, Record<string, number>>;

export interface ConsumerAllocations {
  consumerId: string;
  projectId: string;
  userId: string;
  /**
   * The consumer generation the caller saw (1.28): null for a consumer it believes new. Undefined
   * skips the check (older microversions and Kumo's own services, which own their consumers).
   */
  consumerGeneration?: number | null;
  /** 1.38's consumer type (INSTANCE, MIGRATION, ...); `unknown` when not given. */
  consumerType?: string;
  /** The consumer's complete allocations after the write; empty removes them all. */
  allocations: AllocationMap;
}

/** How often a write is redone after losing a provider-generation race before it gives up with 409. */
const GENERATION_RETRIES = 20;

class ProviderRaceLost extends Error {}

/**
 * Replaces the allocations of each consumer in `writes`, all or nothing (PUT /allocations/{c}
 * and POST /allocations). Capacity, min/max/step and consumer generations are checked in the
 * transaction; a provider changed concurrently makes the whole write start over.
 */
export async function replaceAllocations(deps: PlacementDeps, writes: ConsumerAllocations[]): Promise<void> {
  const classes = writes.flatMap((w) => Object.values(w.allocations).flatMap((r) => Object.keys(r)));
  await assertResourceClassesExist(deps.db, classes);
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.db.transaction().execute((trx) => writeOnce(trx, deps, writes));
      return;
    } catch (err) {
      if (!(err instanceof ProviderRaceLost)) {
        if (isUniqueViolation(err)) throw concurrentUpdate('consumer generation conflict: another process created this consumer at the same time. Please retry.');
        throw err;
      }
      if (attempt >= GENERATION_RETRIES) {
        throw concurrentUpdate(`Failed to update allocations: another process changed resource provider ${err.message} at the same time. Please retry.`);
      }
      deps.logger.debug({ provider: err.message, attempt }, 'allocation write lost a provider generation race; retrying');
      // A little jitter spreads the retries of many writers racing for one provider.
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

async function writeOnce(trx: Db, deps: PlacementDeps, writes: ConsumerAllocations[]): Promise<void> {
  const now = isoTime(deps.now());
  const consumerIds = writes.map((w) => w.consumerId);
  const old = await trx.selectFrom('placement_allocation').select(['provider_uuid']).where('consumer_uuid', 'in', consumerIds).execute();
  const wantedProviders = [...new Set(writes.flatMap((w) => Object.keys(w.allocations)))].sort();
  const touched = [...new Set([...wantedProviders, ...old.map((r) => r.provider_uuid)])].sort();

  // Generations first: a usage read after a concurrent commit then fails the swap instead of being trusted.
  const providers = new Map<string, ProviderRow>();
  for (const uuid of touched) {
    const row = await trx.selectFrom('placement_resource_provider').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    if (!row) {
      if (wantedProviders.includes(uuid)) throw placementError('ERR_VALIDATION', `Allocation for resource provider '${uuid}' that does not exist.`, CODES.PROVIDER_NOT_FOUND);
      continue;
    }
    providers.set(uuid, row);
  }

  await checkConsumers(trx, writes, now);

  const inventories = await inventoriesByProvider(trx, wantedProviders);
  const otherUsage = await usageExcluding(trx, wantedProviders, consumerIds);
  const asked = new Map<string, Map<string, number>>();
  for (const w of writes) {
    for (const [rp, resources] of Object.entries(w.allocations)) {
      for (const [rc, amount] of Object.entries(resources)) {
        const inv = inventories.get(rp)?.get(rc);
        if (!inv) throw placementError('ERR_CONFLICT', `Unable to allocate inventory: Inventory for '${rc}' on resource provider '${rp}' invalid.`);
        const byClass = asked.get(rp) ?? new Map<string, number>();
        asked.set(rp, byClass);
        const before = (otherUsage.get(rp)?.get(rc) ?? 0) + (byClass.get(rc) ?? 0);
        const why = misfit(inv, before, amount);
        if (why === 'constraints') {
          throw placementError('ERR_VALIDATION', `Unable to allocate inventory: Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would violate inventory constraints.`);
        }
        if (why === 'capacity') {
          throw placementError('ERR_CONFLICT', `Unable to allocate inventory: Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would exceed the capacity.`);
        }
        byClass.set(rc, (byClass.get(rc) ?? 0) + amount);
      }
    }
  }

  await trx.deleteFrom('placement_allocation').where('consumer_uuid', 'in', consumerIds).execute();
  const rows = writes.flatMap((w) => Object.entries(w.allocations).flatMap(([rp, resources]) =>
    Object.entries(resources).map(([rc, used]) => ({ consumer_uuid: w.consumerId, provider_uuid: rp, resource_class: rc, used }))));
  if (rows.length) await trx.insertInto('placement_allocation').values(rows).execute();
  const emptied = writes.filter((w) => !Object.values(w.allocations).some((r) => Object.keys(r).length)).map((w) => w.consumerId);
  if (emptied.length) await trx.deleteFrom('placement_consumer').where('uuid', 'in', emptied).execute();

  for (const provider of providers.values()) {
    try {
      await bumpProviderGeneration(trx, provider, undefined, deps.now());
    } catch (err) {
      if (err instanceof KumoError && err.kind === CODES.CONCURRENT_UPDATE) throw new ProviderRaceLost(provider.uuid);
      throw err;
    }
  }
}

/** Checks each consumer's generation (when given) and writes its row: a new one is at generation 1 after its first write (as in placement); an existing one moves by compare-and-swap. */
async function checkConsumers(trx: Db, writes: ConsumerAllocations[], now: string): Promise<void> {
  for (const w of writes) {
    const row = await trx.selectFrom('placement_consumer').selectAll().where('uuid', '=', w.consumerId).executeTakeFirst();
    const type = w.consumerType ?? row?.consumer_type ?? 'unknown';
    if (!row) {
      if (w.consumerGeneration !== undefined && w.consumerGeneration !== null) {
        throw concurrentUpdate(`consumer generation conflict - expected null but got ${w.consumerGeneration}`);
      }
      await trx.insertInto('placement_consumer').values({
        uuid: w.consumerId, project_id: w.projectId, user_id: w.userId, generation: 1, consumer_type: type, created_at: now, updated_at: now,
      }).execute();
      continue;
    }
    if (w.consumerGeneration !== undefined && w.consumerGeneration !== row.generation) {
      throw concurrentUpdate(`consumer generation conflict - expected ${w.consumerGeneration === null ? 'null' : w.consumerGeneration} but got ${row.generation}`);
    }
    const res = await trx.updateTable('placement_consumer')
      .set({ generation: row.generation + 1, project_id: w.projectId, user_id: w.userId, consumer_type: type, updated_at: now })
      .where('uuid', '=', w.consumerId).where('generation', '=', row.generation)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw concurrentUpdate('consumer generation conflict: another process changed this consumer at the same time. Please retry.');
  }
}

async function usageExcluding(trx: Db, providerUuids: string[], consumerIds: string[]): Promise<Map<string, Map<string, number>>> {
  if (!providerUuids.length) return new Map();
  const rows = await trx.selectFrom('placement_allocation')
    .select(['provider_uuid', 'resource_class', sql<number>`sum(used)`.as('used')])
    .where('provider_uuid', 'in', providerUuids).where('consumer_uuid', 'not in', consumerIds)
    .groupBy(['provider_uuid', 'resource_class']).execute();
  const out = new Map<string, Map<string, number>>();
  for (const r of rows) {
    if (!out.has(r.provider_uuid)) out.set(r.provider_uuid, new Map());
    out.get(r.provider_uuid)!.set(r.resource_class, Number(r.used));
  }
  return out;
}

export interface ConsumerView {
  /** provider uuid → its generation and the consumer's resources there. */
  allocations: Record<string, { generation: number; resources: Record<string, number> }>;
  projectId?: string;
  userId?: string;
  generation?: number;
  consumerType?: string;
}

/** A consumer's allocations; a consumer with none is `{allocations: {}}` (not an error, as in placement). */
export async function consumerAllocations(db: Db, consumerId: string): Promise<ConsumerView> {
  const rows = await db.selectFrom('placement_allocation')
    .innerJoin('placement_resource_provider as rp', 'rp.uuid', 'placement_allocation.provider_uuid')
    .select(['provider_uuid', 'resource_class', 'used', 'rp.generation'])
    .where('consumer_uuid', '=', consumerId).orderBy('provider_uuid').orderBy('resource_class').execute();
  if (!rows.length) return { allocations: {} };
  const consumer = await db.selectFrom('placement_consumer').selectAll().where('uuid', '=', consumerId).executeTakeFirst();
  const allocations: ConsumerView['allocations'] = {};
  for (const r of rows) {
    allocations[r.provider_uuid] ??= { generation: r.generation, resources: {} };
    allocations[r.provider_uuid].resources[r.resource_class] = r.used;
  }
  return { allocations, projectId: consumer?.project_id, userId: consumer?.user_id, generation: consumer?.generation, consumerType: consumer?.consumer_type };
}

/** Removes every allocation of a consumer (and the consumer); false when it had none. */
export async function deleteConsumerAllocations(deps: PlacementDeps, consumerId: string): Promise<boolean> {
  const view = await consumerAllocations(deps.db, consumerId);
  if (!Object.keys(view.allocations).length) return false;
  await replaceAllocations(deps, [{ consumerId, projectId: view.projectId ?? '', userId: view.userId ?? '', allocations: {} }]);
  return true;
}

/** consumer → class → amount, of one provider, and its generation. */
export async function providerAllocations(db: Db, providerUuid: string): Promise<{ allocations: Record<string, Record<string, number>>; generation: number }> {
  const provider = await getProvider(db, providerUuid);
  const rows = await db.selectFrom('placement_allocation').select(['consumer_uuid', 'resource_class', 'used'])
    .where('provider_uuid', '=', providerUuid).orderBy('consumer_uuid').orderBy('resource_class').execute();
  const allocations: Record<string, Record<string, number>> = {};
  for (const r of rows) (allocations[r.consumer_uuid] ??= {})[r.resource_class] = r.used;
  return { allocations, generation: provider.generation };
}

/** What a provider has allocated of each class it has inventory of (0 for none), and its generation. */
export async function usagesOfProvider(db: Db, providerUuid: string): Promise<{ usages: Record<string, number>; generation: number }> {
  const provider = await getProvider(db, providerUuid);
  const classes = (await inventoriesByProvider(db, [providerUuid])).get(providerUuid) ?? new Map();
  const used = (await usageByProvider(db, [providerUuid])).get(providerUuid) ?? new Map<string, number>();
  const usages: Record<string, number> = {};
  for (const rc of [...new Set([...classes.keys(), ...used.keys()])].sort()) usages[rc] = used.get(rc) ?? 0;
  return { usages, generation: provider.generation };
}

/** A project's (and optionally one user's) usage: by class, and by consumer type with a consumer count (1.38). */
export async function usagesOfProject(db: Db, projectId: string, userId?: string): Promise<{ total: Record<string, number>; byType: Record<string, Record<string, number>> }> {
  let q = db.selectFrom('placement_allocation')
    .innerJoin('placement_consumer as c', 'c.uuid', 'placement_allocation.consumer_uuid')
    .select(['c.uuid', 'c.consumer_type', 'resource_class', 'used'])
    .where('c.project_id', '=', projectId);
  if (userId !== undefined) q = q.where('c.user_id', '=', userId);
  const total: Record<string, number> = {};
  const byType: Record<string, Record<string, number>> = {};
  const consumers = new Map<string, Set<string>>();
  for (const r of await q.execute()) {
    total[r.resource_class] = (total[r.resource_class] ?? 0) + r.used;
    const t = (byType[r.consumer_type] ??= {});
    t[r.resource_class] = (t[r.resource_class] ?? 0) + r.used;
    if (!consumers.has(r.consumer_type)) consumers.set(r.consumer_type, new Set());
    consumers.get(r.consumer_type)!.add(r.uuid);
  }
  for (const [type, set] of consumers) byType[type].consumer_count = set.size;
  return { total, byType };
}
