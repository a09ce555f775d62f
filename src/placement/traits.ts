/**
 * Traits: the standard ones (constants), CUSTOM_* ones operators create, and each provider's
 * set of traits (written with the provider's generation).
 * @module
 */
import type { Db } from '../store/database.js';
import { isUniqueViolation } from '../store/database.js';
import { invalid, isoTime, placementError } from './context.js';
import type { PlacementDeps } from './context.js';
import { bumpProviderGeneration, getProvider } from './providers.js';
import { isCustomName, STANDARD_TRAITS, unknownNames } from './standard.js';

export interface TraitFilter {
  /** `in:A,B` → exactly these; `startswith:P` → this prefix. */
  names?: string[];
  prefix?: string;
  /** true: only traits some provider has; false: only traits no provider has. */
  associated?: boolean;
}

export async function listTraits(db: Db, filter: TraitFilter = {}): Promise<string[]> {
  const custom = (await db.selectFrom('placement_trait').select('name').execute()).map((r) => r.name);
  let all = [...STANDARD_TRAITS, ...custom];
  if (filter.names) all = all.filter((t) => filter.names!.includes(t));
  if (filter.prefix !== undefined) all = all.filter((t) => t.startsWith(filter.prefix!));
  if (filter.associated !== undefined) {
    const used = new Set((await db.selectFrom('placement_provider_trait').select('trait').distinct().execute()).map((r) => r.trait));
    all = all.filter((t) => used.has(t) === filter.associated);
  }
  return all.sort();
}

export const traitExists = async (db: Db, name: string): Promise<boolean> => !(await unknownNames(db, 'placement_trait', STANDARD_TRAITS, [name])).length;

/** 400 naming the traits in `names` that do not exist. */
export async function assertTraitsExist(db: Db, names: Iterable<string>): Promise<void> {
  const missing = await unknownNames(db, 'placement_trait', STANDARD_TRAITS, names);
  if (missing.length) throw invalid(`No such trait(s): ${missing.join(', ')}`);
}

/** Creates a CUSTOM_* trait; `created` is false when it already existed (PUT /traits/{name} is idempotent). */
export async function createTrait(deps: PlacementDeps, name: string): Promise<{ created: boolean }> {
  if (!isCustomName(name)) throw invalid(`The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"`);
  if (await traitExists(deps.db, name)) return { created: false };
  try {
    await deps.db.insertInto('placement_trait').values({ name, created_at: isoTime(deps.now()) }).execute();
    return { created: true };
  } catch (err) {
    if (isUniqueViolation(err)) return { created: false };
    throw err;
  }
}

export async function deleteTrait(deps: PlacementDeps, name: string): Promise<void> {
  if (STANDARD_TRAITS.includes(name)) throw invalid(`Cannot delete standard trait ${name}.`);
  await deps.db.transaction().execute(async (trx) => {
    if (!(await traitExists(trx, name))) throw placementError('ERR_NOT_FOUND', `No such trait(s): ${name}.`);
    if (await trx.selectFrom('placement_provider_trait').select('trait').where('trait', '=', name).executeTakeFirst()) {
      throw placementError('ERR_CONFLICT', `The trait ${name} is in use by a resource provider.`);
    }
    await trx.deleteFrom('placement_trait').where('name', '=', name).execute();
  });
}

export async function providerTraits(db: Db, providerUuid: string): Promise<string[]> {
  const rows = await db.selectFrom('placement_provider_trait').select('trait').where('provider_uuid', '=', providerUuid).orderBy('trait').execute();
  return rows.map((r) => r.trait);
}

/**
 * Replaces a provider's traits. `generation` is the provider generation the caller saw (409
 * placement.concurrent_update when it moved); undefined takes the current one (internal callers).
 */
export async function setProviderTraits(deps: PlacementDeps, providerUuid: string, traits: string[], generation: number | undefined): Promise<{ traits: string[]; generation: number }> {
  return deps.db.transaction().execute(async (trx) => {
    const provider = await getProvider(trx, providerUuid);
    await assertTraitsExist(trx, traits);
    const next = await bumpProviderGeneration(trx, provider, generation, deps.now());
    await trx.deleteFrom('placement_provider_trait').where('provider_uuid', '=', providerUuid).execute();
    const unique = [...new Set(traits)].sort();
    if (unique.length) await trx.insertInto('placement_provider_trait').values(unique.map((trait) => ({ provider_uuid: providerUuid, trait }))).execute();
    return { traits: unique, generation: next };
  });
}
