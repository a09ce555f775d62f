/**
 * What fits where: a provider's capacity per class is `(total - reserved) * allocation_ratio`,
 * and one allocation of a class must also respect the inventory's min_unit, max_unit and
 * step_size. Claims, allocation candidates and `?resources=` filters all decide with this.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { InventoryTable } from './schema.js';

export type InventoryRecord = Omit<InventoryTable, 'provider_uuid' | 'resource_class'>;

export const capacityOf = (inv: InventoryRecord): number => Math.floor((inv.total - inv.reserved) * inv.allocation_ratio);

/** Why `amount` more of a class cannot go on an inventory already using `used`, or undefined when it fits. */
export function misfit(inv: InventoryRecord, used: number, amount: number): 'constraints' | 'capacity' | undefined {
  if (amount < inv.min_unit || amount > inv.max_unit || amount % inv.step_size !== 0) return 'constraints';
  if (used + amount > capacityOf(inv)) return 'capacity';
  return undefined;
}

/** provider → class → amount allocated, for the given providers (all when undefined). */
export async function usageByProvider(db: Db, providerUuids?: string[]): Promise<Map<string, Map<string, number>>> {
  if (providerUuids && !providerUuids.length) return new Map();
  let q = db.selectFrom('placement_allocation')
    .select(['provider_uuid', 'resource_class', sql<number>`sum(used)`.as('used')])
    .groupBy(['provider_uuid', 'resource_class']);
  if (providerUuids) q = q.where('provider_uuid', 'in', providerUuids);
  const out = new Map<string, Map<string, number>>();
  for (const r of await q.execute()) {
    let m = out.get(r.provider_uuid);
    if (!m) out.set(r.provider_uuid, (m = new Map()));
    m.set(r.resource_class, Number(r.used));
  }
  return out;
}

/** provider → class → inventory, for the given providers (all when undefined). */
export async function inventoriesByProvider(db: Db, providerUuids?: string[]): Promise<Map<string, Map<string, InventoryRecord>>> {
  if (providerUuids && !providerUuids.length) return new Map();
  let q = db.selectFrom('placement_inventory').selectAll();
  if (providerUuids) q = q.where('provider_uuid', 'in', providerUuids);
  const out = new Map<string, Map<string, InventoryRecord>>();
  for (const { provider_uuid, resource_class, ...inv } of await q.execute()) {
    let m = out.get(provider_uuid);
    if (!m) out.set(provider_uuid, (m = new Map()));
    m.set(resource_class, { ...inv, allocation_ratio: Number(inv.allocation_ratio) });
  }
  return out;
}

/** The providers (of `candidates`, or all) that alone have room for every class and amount in `resources`. */
export async function providersWithRoom(db: Db, resources: Record<string, number>, candidates?: string[]): Promise<Set<string>> {
  const inventories = await inventoriesByProvider(db, candidates);
  const usages = await usageByProvider(db, [...inventories.keys()]);
  const fit = new Set<string>();
  for (const [uuid, invs] of inventories) {
    const ok = Object.entries(resources).every(([rc, amount]) => {
      const inv = invs.get(rc);
      return inv !== undefined && misfit(inv, usages.get(uuid)?.get(rc) ?? 0, amount) === undefined;
    });
    if (ok) fit.add(uuid);
  }
  return fit;
}
