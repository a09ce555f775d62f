/**
 * Resource classes: the standard ones (constants) and the CUSTOM_* ones operators create.
 * @module
 */
import type { Db } from '../store/database.js';
import { isUniqueViolation } from '../store/database.js';
import { CODES, invalid, isoTime, placementError } from './context.js';
import type { PlacementDeps } from './context.js';
import { isCustomName, STANDARD_RESOURCE_CLASSES, unknownNames } from './standard.js';

const classNotFound = (name: string) => placementError('ERR_NOT_FOUND', `No such resource class ${name}.`);

/** Every class: the standard ones first, then the custom ones by name. */
export async function listResourceClasses(db: Db): Promise<string[]> {
  const custom = await db.selectFrom('placement_resource_class').select('name').orderBy('name').execute();
  return [...STANDARD_RESOURCE_CLASSES, ...custom.map((r) => r.name)];
}

export const resourceClassExists = async (db: Db, name: string): Promise<boolean> => !(await unknownNames(db, 'placement_resource_class', STANDARD_RESOURCE_CLASSES, [name])).length;

/** 400 naming the first class in `names` that does not exist (placement's answer to an unknown class in a request). */
export async function assertResourceClassesExist(db: Db, names: Iterable<string>): Promise<void> {
  const [missing] = await unknownNames(db, 'placement_resource_class', STANDARD_RESOURCE_CLASSES, names);
  if (missing) throw invalid(`Unknown resource class in requested resource: ${missing}`);
}

export async function getResourceClass(db: Db, name: string): Promise<string> {
  if (!(await resourceClassExists(db, name))) throw classNotFound(name);
  return name;
}

function assertCustom(name: string): void {
  if (!isCustomName(name)) throw invalid(`Failed validating 'pattern' in 'name': '${name}' does not match '^CUSTOM_[A-Z0-9_]+$'`);
}

/**
 * Creates a CUSTOM_* class. `idempotent` (PUT, 1.7+): an existing one is fine and the result
 * says whether it was created; otherwise (POST) an existing one is a 409.
 */
export async function createResourceClass(deps: PlacementDeps, name: string, idempotent: boolean): Promise<{ created: boolean }> {
  assertCustom(name);
  if (await resourceClassExists(deps.db, name)) {
    if (idempotent) return { created: false };
    throw placementError('ERR_CONFLICT', `Conflicting resource class already exists: ${name}`, CODES.DUPLICATE_NAME);
  }
  try {
    await deps.db.insertInto('placement_resource_class').values({ name, created_at: isoTime(deps.now()) }).execute();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    if (!idempotent) throw placementError('ERR_CONFLICT', `Conflicting resource class already exists: ${name}`, CODES.DUPLICATE_NAME);
    return { created: false };
  }
  return { created: true };
}

/** Deletes a custom class; standard ones are 400, classes any provider has inventory of are 409. */
export async function deleteResourceClass(deps: PlacementDeps, name: string): Promise<void> {
  if (STANDARD_RESOURCE_CLASSES.includes(name)) throw invalid(`Cannot delete standard resource class ${name}: Cannot delete standard resource class ${name}`);
  await deps.db.transaction().execute(async (trx) => {
    if (!(await resourceClassExists(trx, name))) throw classNotFound(name);
    const used = await trx.selectFrom('placement_inventory').select('provider_uuid').where('resource_class', '=', name).executeTakeFirst();
    if (used) throw placementError('ERR_CONFLICT', `Unable to delete resource class ${name}. Resource class is in use in inventory`);
    await trx.deleteFrom('placement_resource_class').where('name', '=', name).execute();
  });
}
