/**
 * Allocation candidates: the providers that alone have room for a request (VCPU, MEMORY_MB,
 * DISK_GB, ...) and carry the required traits, with a summary of each one's capacity and usage.
 * Kumo's providers are roots that hold their own inventory; sharing providers and nested trees
 * are not combined into one candidate.
 * @module
 */
import type { Db } from '../store/database.js';
import { capacityOf, inventoriesByProvider, misfit, usageByProvider } from './capacity.js';
import { listProviders } from './providers.js';
import type { ProviderFilter } from './providers.js';
import { assertResourceClassesExist } from './resource-classes.js';
import { assertTraitsExist } from './traits.js';

export interface CandidateRequest {
  /** class → amount, e.g. `{ VCPU: 2, MEMORY_MB: 2048, DISK_GB: 20 }`. */
  resources: Record<string, number>;
  requiredTraits?: string[];
  forbiddenTraits?: string[];
  /** Each entry: at least one of these traits. */
  anyTraits?: string[][];
  memberOf?: string[][];
  notMemberOf?: string[];
  inTree?: string;
  limit?: number;
}

export interface Candidate {
  providerUuid: string;
  name: string;
  parentProviderUuid: string | null;
  rootProviderUuid: string;
  /** What a claim on this provider would allocate: the request itself. */
  resources: Record<string, number>;
  /** Every class the provider has inventory of, with its capacity and current usage. */
  summary: Record<string, { capacity: number; used: number }>;
  traits: string[];
}

/**
 * The providers a request fits on, most free memory first (the scheduler spreads), then by
 * name. 400 for an unknown class or trait.
 */
export async function allocationCandidates(db: Db, request: CandidateRequest): Promise<Candidate[]> {
  await assertResourceClassesExist(db, Object.keys(request.resources));
  await assertTraitsExist(db, [...(request.requiredTraits ?? []), ...(request.forbiddenTraits ?? []), ...(request.anyTraits ?? []).flat()]);
  const filter: ProviderFilter = {
    memberOf: request.memberOf, notMemberOf: request.notMemberOf, inTree: request.inTree,
    requiredTraits: request.requiredTraits, forbiddenTraits: request.forbiddenTraits, anyTraits: request.anyTraits,
  };
  const rows = await listProviders(db, filter);
  const uuids = rows.map((r) => r.uuid);
  const inventories = await inventoriesByProvider(db, uuids);
  const usages = await usageByProvider(db, uuids);
  const traits = new Map<string, string[]>();
  if (uuids.length) {
    for (const t of await db.selectFrom('placement_provider_trait').select(['provider_uuid', 'trait']).where('provider_uuid', 'in', uuids).orderBy('trait').execute()) {
      traits.set(t.provider_uuid, [...(traits.get(t.provider_uuid) ?? []), t.trait]);
    }
  }
  const out: (Candidate & { free: number })[] = [];
  for (const row of rows) {
    const invs = inventories.get(row.uuid);
    const used = usages.get(row.uuid);
    if (!invs) continue;
    const fits = Object.entries(request.resources).every(([rc, amount]) => {
      const inv = invs.get(rc);
      return inv !== undefined && misfit(inv, used?.get(rc) ?? 0, amount) === undefined;
    });
    if (!fits) continue;
    const summary: Candidate['summary'] = {};
    for (const [rc, inv] of [...invs].sort(([a], [b]) => a.localeCompare(b))) summary[rc] = { capacity: capacityOf(inv), used: used?.get(rc) ?? 0 };
    const mem = summary.MEMORY_MB;
    out.push({
      providerUuid: row.uuid, name: row.name, parentProviderUuid: row.parent_provider_uuid, rootProviderUuid: row.root_provider_uuid,
      resources: { ...request.resources }, summary, traits: traits.get(row.uuid) ?? [], free: mem ? mem.capacity - mem.used : 0,
    });
  }
  out.sort((a, b) => b.free - a.free || a.name.localeCompare(b.name));
  return out.slice(0, request.limit ?? out.length).map(({ free: _free, ...c }) => c);
}
