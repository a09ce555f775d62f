/**
 * What other Kumo services call (they never touch placement's tables): the agent registers
 * its host as a provider with inventory, the scheduler asks for candidates and claims on one,
 * and deleting a workload releases its claim.
 * @module
 */
import type { PlacementDeps } from './context.js';
import { deleteConsumerAllocations, replaceAllocations, usagesOfProvider } from './allocations.js';
import { createProvider, findProvider, listProviders } from './providers.js';
import type { ProviderRow } from './providers.js';
import { getInventories, setInventories } from './inventories.js';
import type { InventoryInput } from './inventories.js';
import { createTrait, setProviderTraits } from './traits.js';
import { isCustomName } from './standard.js';

export { allocationCandidates } from './candidates.js';
export type { Candidate, CandidateRequest } from './candidates.js';
export { consumerAllocations, usagesOfProvider } from './allocations.js';

/** A provider's inventory per resource class (total less reserved) and what allocations use of it; empty when it is not registered. */
export async function providerCapacity(deps: PlacementDeps, providerUuid: string): Promise<Record<string, { readonly total: number; readonly used: number }>> {
  if (!(await findProvider(deps.db, providerUuid))) return {};
  const { inventories } = await getInventories(deps.db, providerUuid);
  const { usages } = await usagesOfProvider(deps.db, providerUuid);
  return Object.fromEntries(Object.entries(inventories).map(([rc, inv]) => [rc, { total: inv.total - inv.reserved, used: usages[rc] ?? 0 }]));
}

export interface ComputeProviderSpec {
  /** The host name (unique among providers). */
  name: string;
  /** A stable id (e.g. the host's); a new one is made when the provider does not exist. */
  uuid?: string;
  /** e.g. `{ VCPU: { total: 8, allocation_ratio: 4 }, MEMORY_MB: { total: 16000, reserved: 512 }, DISK_GB: { total: 200 } }`. */
  inventories: Record<string, InventoryInput>;
  /** The provider's complete trait set; CUSTOM_* ones are created. Undefined leaves traits as they are. */
  traits?: string[];
}

/**
 * Makes the provider of a host exist with this inventory (and traits), idempotently: found by
 * uuid, else by name, else created. An inventory that would leave less capacity than is
 * already allocated is refused with 409 placement.inventory.inuse, and a class that goes away
 * must have no allocations. Retries itself when a claim moves the generation meanwhile.
 */
export async function ensureComputeProvider(deps: PlacementDeps, spec: ComputeProviderSpec): Promise<ProviderRow> {
  let provider = (spec.uuid ? await findProvider(deps.db, spec.uuid) : undefined) ?? (await listProviders(deps.db, { name: spec.name }))[0];
  provider ??= await createProvider(deps, { name: spec.name, uuid: spec.uuid });
  // No generation is passed: the write takes the current one inside its transaction, so a
  // concurrent claim cannot make this fail; the capacity check runs in the same transaction.
  await setInventories(deps, provider.uuid, spec.inventories, { refuseBelowUsage: true });
  if (spec.traits) {
    for (const t of spec.traits.filter(isCustomName)) await createTrait(deps, t);
    await setProviderTraits(deps, provider.uuid, spec.traits, undefined);
  }
  return (await findProvider(deps.db, provider.uuid))!;
}

export interface ClaimRequest {
  /** The workload's id (server, container): its allocations are replaced as a whole. */
  consumerId: string;
  projectId: string;
  userId: string;
  providerId: string;
  /** class → amount. */
  resources: Record<string, number>;
  consumerType?: string;
}

/**
 * Claims `resources` on one provider for a consumer, atomically: capacity is checked and the
 * provider's generation swapped in one transaction, retried on fresh data when another claim
 * won a race. Throws a KumoError 409 when the provider is full (`The requested amount would
 * exceed the capacity`) or stays contended (placement.concurrent_update): the scheduler then
 * tries another candidate. Any allocations the consumer already had are replaced (which is
 * also how a resize moves a claim: see moveOrReplaceAllocation).
 */
export async function claimAllocation(deps: PlacementDeps, claim: ClaimRequest): Promise<void> {
  await replaceAllocations(deps, [{
    consumerId: claim.consumerId, projectId: claim.projectId, userId: claim.userId, consumerType: claim.consumerType,
    allocations: { [claim.providerId]: claim.resources },
  }]);
}

/** A resize or a move: the consumer's allocations become `resources` on `providerId`, all at once (the old ones count as free for the check). */
export const moveOrReplaceAllocation = claimAllocation;

/** Releases everything a consumer holds; false when it held nothing (idempotent). */
export const releaseAllocations = (deps: PlacementDeps, consumerId: string): Promise<boolean> => deleteConsumerAllocations(deps, consumerId);
