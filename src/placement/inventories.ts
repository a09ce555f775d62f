/**
 * A provider's inventories, one per resource class, written with the provider's generation.
 * Removing a class with allocations against it is refused (409 placement.inventory.inuse).
 * @module
 */
import type { Db } from '../store/database.js';
import { CODES, invalid, placementError } from './context.js';
import type { PlacementDeps } from './context.js';
import { capacityOf, inventoriesByProvider, usageByProvider } from './capacity.js';
import type { InventoryRecord } from './capacity.js';
import { bumpProviderGeneration, getProvider } from './providers.js';
import { assertResourceClassesExist } from './resource-classes.js';

/** The largest value placement stores (a signed 32-bit integer). */
export const MAX_INT = 2147483647;

/** What a caller gives for one class; placement's defaults fill the rest. */
export interface InventoryInput {
  total: number;
  reserved?: number;
  min_unit?: number;
  max_unit?: number;
  step_size?: number;
  allocation_ratio?: number;
}

/** Placement's defaults, and the checks its schema makes beyond types (reserved vs total, min vs max). */
export function completeInventory(rc: string, input: InventoryInput, allowReservedEqualTotal: boolean): InventoryRecord {
  const inv: InventoryRecord = {
    total: input.total, reserved: input.reserved ?? 0, min_unit: input.min_unit ?? 1, max_unit: input.max_unit ?? MAX_INT,
    step_size: input.step_size ?? 1, allocation_ratio: input.allocation_ratio ?? 1.0,
  };
  for (const k of ['total', 'reserved', 'min_unit', 'max_unit', 'step_size'] as const) {
    const min = k === 'reserved' ? 0 : 1;
    if (!Number.isInteger(inv[k]) || inv[k] < min || inv[k] > MAX_INT) throw invalid(`Bad inventory ${rc}: '${k}' must be an integer from ${min} to ${MAX_INT}, not ${inv[k]}.`);
  }
  if (!(inv.allocation_ratio > 0) || inv.allocation_ratio > 3.40282e38) throw invalid(`Bad inventory ${rc}: 'allocation_ratio' must be a positive number.`);
  if (inv.reserved > inv.total || (inv.reserved === inv.total && !allowReservedEqualTotal)) {
    throw invalid(`Unable to update inventory for resource provider: Invalid inventory for '${rc}'. The reserved value is greater than or equal to total.`);
  }
  if (inv.min_unit > inv.max_unit) throw invalid(`Bad inventory ${rc}: min_unit (${inv.min_unit}) must not be greater than max_unit (${inv.max_unit}).`);
  return inv;
}

export async function getInventories(db: Db, providerUuid: string): Promise<{ inventories: Record<string, InventoryRecord>; generation: number }> {
  const provider = await getProvider(db, providerUuid);
  const invs = (await inventoriesByProvider(db, [providerUuid])).get(providerUuid) ?? new Map();
  return { inventories: Object.fromEntries([...invs.entries()].sort(([a], [b]) => a.localeCompare(b))), generation: provider.generation };
}

export interface SetInventoriesOptions {
  /** Provider generation the caller saw; undefined takes the current one (internal callers). */
  generation?: number;
  /** Refuse a capacity below what is allocated (Kumo's own hosts), instead of placement's over-capacity warning. */
  refuseBelowUsage?: boolean;
  /** From 1.26 reserved may equal total. */
  allowReservedEqualTotal?: boolean;
  /** Only these classes are replaced (PUT/POST/DELETE of one class); the others stay. Undefined: all are replaced. */
  only?: string[];
}

/**
 * Writes a provider's inventories in one transaction with the generation compare-and-swap:
 * `inventories` replaces every class (or the `only` ones); a class that disappears must have no
 * allocations. Returns the provider's new generation.
 */
export async function setInventories(deps: PlacementDeps, providerUuid: string, inventories: Record<string, InventoryInput>, options: SetInventoriesOptions = {}): Promise<number> {
  const complete = Object.entries(inventories).map(([rc, input]) => [rc, completeInventory(rc, input, options.allowReservedEqualTotal ?? true)] as const);
  return deps.db.transaction().execute(async (trx) => {
    const provider = await getProvider(trx, providerUuid);
    await assertResourceClassesExist(trx, complete.map(([rc]) => rc));
    const current = (await inventoriesByProvider(trx, [providerUuid])).get(providerUuid) ?? new Map<string, InventoryRecord>();
    const usage = (await usageByProvider(trx, [providerUuid])).get(providerUuid) ?? new Map<string, number>();
    const scope = options.only ?? [...new Set([...current.keys(), ...complete.map(([rc]) => rc)])];
    const wanted = new Map(complete);
    const removed = scope.filter((rc) => current.has(rc) && !wanted.has(rc));
    const inUse = removed.filter((rc) => (usage.get(rc) ?? 0) > 0);
    if (inUse.length) {
      throw placementError('ERR_CONFLICT', `Inventory for '${inUse.join(', ')}' on resource provider '${providerUuid}' in use.`, CODES.INVENTORY_INUSE);
    }
    for (const [rc, inv] of wanted) {
      const used = usage.get(rc) ?? 0;
      if (used > capacityOf(inv)) {
        if (options.refuseBelowUsage) {
          throw placementError('ERR_CONFLICT', `Inventory for '${rc}' on resource provider '${providerUuid}' would hold ${capacityOf(inv)}, below the ${used} already allocated.`, CODES.INVENTORY_INUSE);
        }
        deps.logger.warn({ provider: providerUuid, resourceClass: rc, used, capacity: capacityOf(inv) }, 'resource provider is now over capacity');
      }
    }
    const generation = await bumpProviderGeneration(trx, provider, options.generation, deps.now());
    if (scope.length) await trx.deleteFrom('placement_inventory').where('provider_uuid', '=', providerUuid).where('resource_class', 'in', scope).execute();
    if (wanted.size) {
      await trx.insertInto('placement_inventory').values([...wanted].map(([resource_class, inv]) => ({ provider_uuid: providerUuid, resource_class, ...inv }))).execute();
    }
    return generation;
  });
}
