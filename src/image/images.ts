/**
 * Glance images as records: visibility and ownership policy, create, JSON-patch update, delete,
 * deactivate/reactivate and listing. The functions other services call (compute, volume,
 * container) are `findImage`, `createImage` and the data functions in `image-data.ts`.
 * @module
 */
import { rm } from 'node:fs/promises';
import { KumoError } from '../errors.js';
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import type { ImageTable } from './schema.js';
import {
  CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES, glanceError, glanceTime, imageForbidden, imageNotFound, invalid,
} from './context.js';
import type { Caller, ImageDeps, Visibility } from './context.js';
import { imageDataPaths } from './image-data.js';

/** An image as services see it: base attributes, tags and the extra (string) properties. */
export interface ImageRecord extends Omit<ImageTable, 'visibility' | 'protected' | 'os_hidden'> {
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  tags: string[];
  properties: Record<string, string>;
}

/** The attributes that are columns; everything else a client sends is an extra property. */
const BASE = ['id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value',
  'disk_format', 'container_format', 'min_ram', 'min_disk', 'created_at', 'updated_at', 'tags'] as const;
/** Never accepted in a request body (Glance answers 403). */
const DISALLOWED = ['direct_url', 'self', 'file', 'schema', 'stores', 'locations'];
/** Computed by the service; a body that sets them is refused with 403. */
const READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'direct_url', 'self', 'file', 'schema', 'id', 'os_hash_algo', 'os_hash_value'];
const RESERVED = ['location', 'deleted', 'deleted_at'];
const RESERVED_NAMESPACE = 'os_glance';

const isBase = (key: string): boolean => (BASE as readonly string[]).includes(key);

/** What a create body or a patch may set, after validation. */
export interface ImageFields {
  id?: string;
  name?: string | null;
  visibility?: Visibility;
  protected?: boolean;
  os_hidden?: boolean;
  owner?: string | null;
  disk_format?: string | null;
  container_format?: string | null;
  min_ram?: number;
  min_disk?: number;
  tags?: string[];
  /** Extra properties: string values (Glance's schema allows nothing else). */
  properties?: Record<string, string>;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const schemaError = (detail: string) => invalid(`Provided object does not match schema 'image': ${detail}`);
const describe = (v: unknown) => JSON.stringify(v);

/** Checks one attribute's value against Glance's image schema; returns it typed. */
function checkAttribute(key: string, value: unknown): unknown {
  const oneOf = (allowed: readonly (string | null)[]) => {
    if (!allowed.includes(value as string | null)) throw schemaError(`${describe(value)} is not one of ${describe(allowed)}`);
    return value;
  };
  const str = (max: number, nullable: boolean) => {
    if (value === null && nullable) return null;
    if (typeof value !== 'string') throw schemaError(`${describe(value)} is not of type ${nullable ? "'null', 'string'" : "'string'"} (${key})`);
    if (value.length > max) throw schemaError(`${describe(value)} is too long (${key}: at most ${max} characters)`);
    return value;
  };
  switch (key) {
    case 'id':
      if (typeof value !== 'string' || !UUID.test(value)) throw schemaError(`${describe(value)} does not match the UUID pattern (id)`);
      return value.toLowerCase();
    case 'name': case 'owner': return str(255, true);
    case 'visibility': return oneOf(VISIBILITIES);
    case 'disk_format': return oneOf([null, ...DISK_FORMATS]);
    case 'container_format': return oneOf([null, ...CONTAINER_FORMATS]);
    case 'protected': case 'os_hidden':
      if (typeof value !== 'boolean') throw schemaError(`${describe(value)} is not of type 'boolean' (${key})`);
      return value;
    case 'min_ram': case 'min_disk':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw schemaError(`${describe(value)} is not of type 'integer' (${key})`);
      if (value < 0) throw invalid(`Cannot set ${key} to a negative value.`);
      return value;
    case 'tags':
      if (!Array.isArray(value)) throw schemaError(`${describe(value)} is not of type 'array' (tags)`);
      for (const t of value) {
        if (typeof t !== 'string') throw schemaError(`${describe(t)} is not of type 'string' (tags)`);
        if (t.length > 255) throw schemaError(`${describe(t)} is too long (tags: at most 255 characters)`);
      }
      return [...new Set(value as string[])];
    default:
      if (key.length > 255) throw invalid('Custom property should not be greater than 255 characters.');
      if ((key === 'kernel_id' || key === 'ramdisk_id') && typeof value === 'string' && !UUID.test(value)) throw schemaError(`${describe(value)} does not match the UUID pattern (${key})`);
      if (typeof value !== 'string') throw schemaError(`${describe(value)} is not of type 'string' (${key})`);
      return value;
  }
}

/** 403 for the attributes no request may set, as Glance does (a create may choose the id; a patch may not change it). */
function refuseProtectedAttribute(key: string, creating: boolean): void {
  if (DISALLOWED.includes(key) || (READ_ONLY.includes(key) && !(creating && key === 'id'))) throw imageForbidden(`Attribute '${key}' is read-only.`);
  if (RESERVED.includes(key) || key.startsWith(RESERVED_NAMESPACE)) throw imageForbidden(`Attribute '${key}' is reserved.`);
}

/** A create body (`POST /v2/images`), validated: every problem is found before anything is written. */
export function parseCreateBody(body: unknown): ImageFields {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('Body expected in request.');
  const fields: ImageFields = {};
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    refuseProtectedAttribute(key, true);
    const v = checkAttribute(key, value);
    if (isBase(key)) (fields as Record<string, unknown>)[key] = v;
    else properties[key] = v as string;
  }
  fields.properties = properties;
  return fields;
}

function requirePublicizeRight(caller: Caller, visibility: Visibility | undefined): void {
  if (visibility === 'public' && !caller.isAdmin) throw imageForbidden('You are not authorized to complete publicize_image action.');
}

const toRecord = (row: ImageTable, tags: string[], properties: Record<string, string>): ImageRecord => ({
  ...row, visibility: row.visibility as Visibility, protected: row.protected === 1, os_hidden: row.os_hidden === 1,
  size: row.size === null ? null : Number(row.size), virtual_size: row.virtual_size === null ? null : Number(row.virtual_size), tags, properties,
});

/** Tags and properties of many images in one query each (no per-image round trips). */
async function attachDetails(db: Db, rows: ImageTable[]): Promise<ImageRecord[]> {
  const tags = new Map<string, string[]>();
  const props = new Map<string, Record<string, string>>();
  for (let i = 0; i < rows.length; i += 500) {
    const ids = rows.slice(i, i + 500).map((r) => r.id);
    for (const t of await db.selectFrom('image_tag').select(['image_id', 'value']).where('image_id', 'in', ids).orderBy('value').execute()) {
      (tags.get(t.image_id) ?? tags.set(t.image_id, []).get(t.image_id)!).push(t.value);
    }
    for (const p of await db.selectFrom('image_property').select(['image_id', 'name', 'value']).where('image_id', 'in', ids).orderBy('name').execute()) {
      (props.get(p.image_id) ?? props.set(p.image_id, {}).get(p.image_id)!)[p.name] = p.value;
    }
  }
  return rows.map((r) => toRecord(r, tags.get(r.id) ?? [], props.get(r.id) ?? {}));
}

/** The membership of `project` in an image, if any. */
export async function membershipOf(db: Db, imageId: string, project: string) {
  return db.selectFrom('image_member').selectAll().where('image_id', '=', imageId).where('member', '=', project).executeTakeFirst();
}

/** Glance's get_image rule: admins, the owner, public and community images, and projects the image is shared with. */
async function canSee(db: Db, caller: Caller, row: ImageTable): Promise<boolean> {
  if (caller.isAdmin || row.owner === caller.projectId || row.visibility === 'public' || row.visibility === 'community') return true;
  return row.visibility === 'shared' && (await membershipOf(db, row.id, caller.projectId)) !== undefined;
}

export const isOwnerOrAdmin = (caller: Caller, image: { owner: string | null }): boolean => caller.isAdmin || image.owner === caller.projectId;

/** The image row if the caller may see it; 404 otherwise (an invisible image does not exist for the caller). */
export async function visibleRow(deps: ImageDeps, caller: Caller, id: string): Promise<ImageTable> {
  const row = await deps.db.selectFrom('image').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !(await canSee(deps.db, caller, row))) throw imageNotFound(id);
  return row;
}

/** The image `id` as the caller sees it. 404 if it does not exist or is not visible to the caller. */
export async function getImage(deps: ImageDeps, caller: Caller, id: string): Promise<ImageRecord> {
  return (await attachDetails(deps.db, [await visibleRow(deps, caller, id)]))[0];
}

/**
 * An image by id, or else by its exact name among the images the caller can see (as clients
 * resolve `--image NAME`). 404 if none; 409 if the name is ambiguous. For compute, volume and
 * container services: the record carries formats, size, min_disk/min_ram, status, checksum and
 * properties.
 */
export async function findImage(deps: ImageDeps, caller: Caller, idOrName: string): Promise<ImageRecord> {
  if (UUID.test(idOrName)) {
    try {
      return await getImage(deps, caller, idOrName.toLowerCase());
    } catch (err) {
      if (!(err instanceof KumoError && err.status === 404)) throw err;
    }
  }
  // `eq:` so that a name with a colon is not read as an operator.
  const named = await listVisible(deps, caller, { name: `eq:${idOrName}`, visibility: 'all' });
  if (named.length > 1) throw glanceError('ERR_CONFLICT', `Multiple images exist with the name ${idOrName}; use the image id.`);
  if (!named.length) throw imageNotFound(idOrName);
  return named[0];
}

/**
 * Creates an image record in `queued` (no data yet). Throws 400/403/409 before writing anything.
 * Used by `POST /v2/images` and by services that make images (snapshots, volume uploads).
 */
export async function createImage(deps: ImageDeps, caller: Caller, fields: ImageFields): Promise<ImageRecord> {
  requirePublicizeRight(caller, fields.visibility);
  const owner = fields.owner === undefined ? caller.projectId : fields.owner;
  if (owner !== caller.projectId && !caller.isAdmin) throw imageForbidden(`You are not permitted to create images owned by '${owner}'.`);
  const id = fields.id ?? deps.newId();
  if (await deps.db.selectFrom('image').select('id').where('id', '=', id).executeTakeFirst()) throw glanceError('ERR_CONFLICT', `Image with identifier ${id} already exists!`);
  const now = glanceTime(deps.now());
  const row: ImageTable = {
    id, name: fields.name ?? null, status: 'queued', visibility: fields.visibility ?? 'shared', protected: fields.protected ? 1 : 0, os_hidden: fields.os_hidden ? 1 : 0,
    owner, size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null,
    disk_format: fields.disk_format ?? null, container_format: fields.container_format ?? null, min_ram: fields.min_ram ?? 0, min_disk: fields.min_disk ?? 0,
    created_at: now, updated_at: now,
  };
  try {
    await deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('image').values(row).execute();
      await writeTagsAndProperties(trx, id, fields.tags ?? [], fields.properties ?? {});
    });
  } catch (err) {
    // A concurrent create with the same id won the race.
    if (isUniqueViolation(err)) throw glanceError('ERR_CONFLICT', `Image with identifier ${id} already exists!`);
    throw err;
  }
  deps.logger.info({ imageId: id, projectId: caller.projectId }, 'image created');
  return toRecord(row, [...(fields.tags ?? [])].sort(), fields.properties ?? {});
}

async function writeTagsAndProperties(trx: Db, id: string, tags: string[], properties: Record<string, string>): Promise<void> {
  await trx.deleteFrom('image_tag').where('image_id', '=', id).execute();
  await trx.deleteFrom('image_property').where('image_id', '=', id).execute();
  if (tags.length) await trx.insertInto('image_tag').values(tags.map((value) => ({ image_id: id, value }))).execute();
  const props = Object.entries(properties);
  if (props.length) await trx.insertInto('image_property').values(props.map(([name, value]) => ({ image_id: id, name, value }))).execute();
}

/** One JSON-patch operation, parsed: `path` is the decoded pointer's single token. */
export interface PatchChange {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

const PATCH_TYPES: Record<string, 4 | 10> = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
};
export const PATCH_CONTENT_TYPES = Object.keys(PATCH_TYPES);

/** Parses and validates a PATCH body the way Glance's deserializer does (draft 4 and draft 10 forms). */
export function parsePatch(contentType: string, body: unknown): PatchChange[] {
  const draft = PATCH_TYPES[contentType];
  if (!draft) {
    throw new KumoError('ERR_UNSUPPORTED_MEDIA_TYPE', `Image PATCH expects Content-Type one of: ${PATCH_CONTENT_TYPES.join(', ')}`, { headers: { 'Accept-Patch': PATCH_CONTENT_TYPES.join(', ') } });
  }
  if (body === undefined) throw invalid('Body expected in request.');
  if (!Array.isArray(body)) throw invalid('Request body must be a JSON array of operation objects.');
  const ops = ['add', 'remove', 'replace'] as const;
  return body.map((raw: unknown) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('Operations must be JSON objects.');
    const change = raw as Record<string, unknown>;
    let op: PatchChange['op'];
    let pointer: unknown;
    if (draft === 10) {
      if (change.op === undefined) throw invalid(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${ops.join(', ')}.`);
      if (!ops.includes(change.op as PatchChange['op'])) throw invalid(`Invalid operation: \`${String(change.op)}\`. It must be one of the following: ${ops.join(', ')}.`);
      op = change.op as PatchChange['op'];
      if (!('path' in change)) throw invalid("Unable to find 'path' in JSON Schema change");
      pointer = change.path;
    } else {
      const present = ops.filter((o) => o in change);
      if (present.length !== 1) throw invalid('Operation objects must contain exactly one member named "add", "remove", or "replace".');
      op = present[0];
      pointer = change[op];
    }
    const path = decodePointer(pointer);
    if (path.length !== 1) throw invalid(`Invalid JSON pointer for this resource: '/${path.join('/')}'`);
    const key = path[0];
    refuseProtectedAttribute(key, false);
    if (op === 'remove') return { op, path: key };
    if (!('value' in change)) throw invalid(`Operation "${op}" requires a member named "value".`);
    return { op, path: key, value: checkAttribute(key, change.value) };
  });
}

function decodePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw invalid('Pointer must be a string.');
  if (!pointer.startsWith('/')) throw invalid(`Pointer \`${pointer}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw invalid(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw invalid(`Pointer \`${pointer}\` end with "/".`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) throw invalid(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  return pointer.replace(/^\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~').trim());
}

/** Applies parsed changes to the image as one transaction: all of them, or (on any error) none. */
export async function updateImage(deps: ImageDeps, caller: Caller, id: string, changes: PatchChange[]): Promise<ImageRecord> {
  const current = await getImage(deps, caller, id);
  if (!isOwnerOrAdmin(caller, current)) throw imageForbidden(`You are not permitted to modify this image.`);
  const next: ImageRecord = { ...current, tags: [...current.tags], properties: { ...current.properties } };
  for (const change of changes) {
    const key = change.path;
    if (change.op === 'remove') {
      if (isBase(key)) throw imageForbidden(`Property ${key} may not be removed.`);
      if (!(key in next.properties)) throw glanceError('ERR_CONFLICT', `Property ${key} does not exist.`);
      delete next.properties[key];
      continue;
    }
    if (change.op === 'replace' && !isBase(key) && !(key in next.properties)) throw glanceError('ERR_CONFLICT', `Property ${key} does not exist.`);
    if (key === 'owner' && !caller.isAdmin) throw imageForbidden("Owner can't be updated by non admin.");
    if (key === 'visibility') requirePublicizeRight(caller, change.value as Visibility);
    if ((key === 'disk_format' || key === 'container_format') && current.status !== 'queued' && change.value !== current[key]) {
      throw imageForbidden(`Attribute ${key} can be only replaced for a queued image.`);
    }
    if (isBase(key)) (next as unknown as Record<string, unknown>)[key] = change.value;
    else next.properties[key] = change.value as string;
  }
  if (!changes.length) return current;
  const updated_at = glanceTime(deps.now());
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable('image').set({
      name: next.name, visibility: next.visibility, protected: next.protected ? 1 : 0, os_hidden: next.os_hidden ? 1 : 0, owner: next.owner,
      disk_format: next.disk_format, container_format: next.container_format, min_ram: next.min_ram, min_disk: next.min_disk, updated_at,
    }).where('id', '=', id).execute();
    // Members stay when the image stops being shared (as in Glance): they count again if it is shared again.
    await writeTagsAndProperties(trx, id, next.tags, next.properties);
  });
  return getImage(deps, caller, id);
}

/** Deletes the image record and its data (and any staged data). 403 for a protected image or a caller that is not the owner. */
export async function deleteImage(deps: ImageDeps, caller: Caller, id: string): Promise<void> {
  const row = await visibleRow(deps, caller, id);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden(`You are not permitted to delete this image.`);
  if (row.protected === 1) throw imageForbidden(`Image ${id} is protected and cannot be deleted.`);
  await deps.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('image_member').where('image_id', '=', id).execute();
    await trx.deleteFrom('image_task').where('image_id', '=', id).execute();
    await trx.deleteFrom('image_tag').where('image_id', '=', id).execute();
    await trx.deleteFrom('image_property').where('image_id', '=', id).execute();
    await trx.deleteFrom('image').where('id', '=', id).execute();
  });
  const files = imageDataPaths(deps, id);
  await rm(files.data, { force: true });
  await rm(files.staged, { force: true });
  await rm(files.stagedDigest, { force: true });
  deps.logger.info({ imageId: id, projectId: caller.projectId }, 'image deleted');
}

/** POST .../actions/deactivate and .../reactivate: active ⇄ deactivated; anything else is 403 as in Glance. */
export async function setImageActive(deps: ImageDeps, caller: Caller, id: string, active: boolean): Promise<void> {
  const row = await visibleRow(deps, caller, id);
  const action = active ? 'reactivate' : 'deactivate';
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden(`You are not authorized to complete ${action}_image action.`);
  if (row.status !== 'active' && row.status !== 'deactivated') throw imageForbidden(`Not allowed to ${action} image in status '${row.status}'`);
  await deps.db.updateTable('image').set({ status: active ? 'active' : 'deactivated', updated_at: glanceTime(deps.now()) })
    .where('id', '=', id).where('status', 'in', ['active', 'deactivated']).execute();
}

/** Adds or removes one tag (PUT/DELETE /v2/images/{id}/tags/{tag}). Removing a tag the image lacks is a 404. */
export async function setImageTag(deps: ImageDeps, caller: Caller, id: string, tag: string, present: boolean): Promise<void> {
  const row = await visibleRow(deps, caller, id);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden(`Not allowed to update tags for image ${id}.`);
  const updated_at = glanceTime(deps.now());
  if (present) {
    checkAttribute('tags', [tag]);
    await deps.db.transaction().execute(async (trx) => {
      const exists = await trx.selectFrom('image_tag').select('value').where('image_id', '=', id).where('value', '=', tag).executeTakeFirst();
      if (!exists) await trx.insertInto('image_tag').values({ image_id: id, value: tag }).execute();
      await trx.updateTable('image').set({ updated_at }).where('id', '=', id).execute();
    });
    return;
  }
  const removed = await deps.db.deleteFrom('image_tag').where('image_id', '=', id).where('value', '=', tag).executeTakeFirst();
  if (Number(removed.numDeletedRows) === 0) throw glanceError('ERR_NOT_FOUND', `Tag ${tag} not found.`);
  await deps.db.updateTable('image').set({ updated_at }).where('id', '=', id).execute();
}

/** List query parameters, as Glance reads them (repeatable ones as arrays). */
export type ListQuery = Record<string, string | string[] | undefined>;

const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'];
const CONTROL = new Set(['limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status', 'tag', 'visibility']);
const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const last = (v: string | string[] | undefined): string | undefined => all(v).at(-1);

/** Glance's operator syntax: `in:a,b` / `eq:x` for names and ids; gt/gte/lt/lte/eq/neq for times. */
function opFilter(key: string, raw: string): (value: unknown) => boolean {
  // As Glance splits: `op:operand`, unless the whole value is an ISO date (which has colons of its own).
  const colon = raw.indexOf(':');
  const [op, operand] = colon < 0 || /^\d{4}-\d\d-\d\dT/.test(raw) ? ['eq', raw] : [raw.slice(0, colon), raw.slice(colon + 1)];
  if (key === 'created_at' || key === 'updated_at') {
    const t = Date.parse(operand);
    if (Number.isNaN(t)) throw invalid(`Bad "${key}" query filter format. Use ISO 8601 DateTime notation.`);
    const cmp: Record<string, (a: number) => boolean> = {
      eq: (a) => a === t, neq: (a) => a !== t, gt: (a) => a > t, gte: (a) => a >= t, lt: (a) => a < t, lte: (a) => a <= t,
    };
    if (!cmp[op]) throw invalid(`Unable to filter by unknown operator '${op}'.`);
    return (v) => cmp[op](Date.parse(String(v)));
  }
  if (op === 'in') {
    const options = operand.split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    return (v) => options.includes(String(v ?? ''));
  }
  if (op !== 'eq') throw invalid(`Unable to filter by unknown operator '${op}'.`);
  return (v) => String(v ?? '') === operand;
}

function boolFilter(key: string, text: string): boolean {
  // Glance lower-cases these (openstacksdk sends `os_hidden=True`).
  const raw = text.toLowerCase();
  if (raw !== 'true' && raw !== 'false') throw invalid(`Invalid value '${raw}' for '${key}' filter. Valid values are 'true' or 'false'.`);
  return raw === 'true';
}

/** The parsed sort: keys with directions; `id` is always the last tie-breaker, as in Glance. */
function sortOf(q: ListQuery): { key: string; dir: 'asc' | 'desc' }[] {
  const checkKey = (k: string) => {
    if (!SORT_KEYS.includes(k)) throw invalid(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
    return k;
  };
  const checkDir = (d: string) => {
    if (d !== 'asc' && d !== 'desc') throw invalid(`Invalid sort direction: ${d}`);
    return d;
  };
  let keys: string[] = [];
  let dirs: string[] = [];
  if (q.sort !== undefined) {
    if (q.sort_key !== undefined || q.sort_dir !== undefined) throw invalid('Old and new sorting syntax cannot be combined');
    for (const part of (last(q.sort) ?? '').split(',')) {
      const [k, d] = part.split(':');
      keys.push(checkKey(k.trim()));
      dirs.push(checkDir((d ?? 'desc').trim()));
    }
  } else {
    keys = all(q.sort_key).map((k) => checkKey(k.trim()));
    dirs = all(q.sort_dir).map((d) => checkDir(d.trim()));
    if (dirs.length > 1 && dirs.length !== keys.length) throw invalid('Number of sort dirs does not match the number of sort keys');
  }
  if (!keys.length) keys = ['created_at'];
  const out = keys.map((key, i) => ({ key, dir: (dirs[i] ?? dirs[0] ?? 'desc') as 'asc' | 'desc' }));
  if (!keys.includes('id')) out.push({ key: 'id', dir: out[out.length - 1].dir });
  return out;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/**
 * The images the caller may list, filtered (Glance's default: not hidden, not other projects'
 * community images, shared ones only once accepted) and sorted; no pagination.
 */
export async function listVisible(deps: ImageDeps, caller: Caller, q: ListQuery): Promise<ImageRecord[]> {
  const visibility = last(q.visibility);
  if (visibility !== undefined && ![...VISIBILITIES, 'all'].includes(visibility)) throw invalid(`Invalid visibility value: ${visibility}`);
  const memberStatus = last(q.member_status) ?? 'accepted';
  if (!['pending', 'accepted', 'rejected', 'all'].includes(memberStatus)) throw invalid(`Invalid status: ${memberStatus}`);
  if (q['changes-since'] !== undefined) throw invalid('The "changes-since" filter is no longer available on v2.');
  const hidden = boolFilter('os_hidden', last(q.os_hidden) ?? 'false');
  const sort = sortOf(q);

  const project = caller.projectId;
  let query = deps.db.selectFrom('image').selectAll().where('os_hidden', '=', hidden ? 1 : 0);
  if (!caller.isAdmin) {
    query = query.where((eb) => eb.or([
      eb('owner', '=', project),
      eb('visibility', 'in', ['public', 'community']),
      eb.and([
        eb('visibility', '=', 'shared'),
        eb.exists(eb.selectFrom('image_member').select('image_member.member')
          .whereRef('image_member.image_id', '=', 'image.id').where('image_member.member', '=', project)
          .$if(memberStatus !== 'all', (sq) => sq.where('image_member.status', '=', memberStatus))),
      ]),
    ]));
  }
  if (visibility !== undefined && visibility !== 'all') query = query.where('visibility', '=', visibility);
  else if (visibility === undefined) query = query.where((eb) => eb.or([eb('visibility', '!=', 'community'), eb('owner', '=', project)]));
  for (const key of ['owner', 'checksum', 'os_hash_value'] as const) {
    const v = last(q[key]);
    if (v !== undefined) query = query.where(key, '=', v);
  }
  const isProtected = last(q.protected);
  if (isProtected !== undefined) query = query.where('protected', '=', boolFilter('protected', isProtected) ? 1 : 0);

  let images = await attachDetails(deps.db, await query.execute());
  const tests: ((i: ImageRecord) => boolean)[] = [];
  for (const [key, raw] of Object.entries(q)) {
    const value = last(raw);
    if (value === undefined || CONTROL.has(key) || ['owner', 'checksum', 'os_hash_value', 'protected', 'os_hidden'].includes(key)) continue;
    if (key === 'size_min' || key === 'size_max') {
      if (!/^\d+$/.test(value)) throw invalid('Unable to filter on a range with a non-numeric value.');
      const n = Number(value);
      tests.push(key === 'size_min' ? (i) => i.size !== null && i.size >= n : (i) => i.size !== null && i.size <= n);
    } else if (['name', 'id', 'status', 'container_format', 'disk_format', 'created_at', 'updated_at'].includes(key)) {
      const test = opFilter(key, value);
      tests.push((i) => test((i as unknown as Record<string, unknown>)[key]));
    } else if (isBase(key)) {
      tests.push((i) => String((i as unknown as Record<string, unknown>)[key]) === value);
    } else {
      tests.push((i) => i.properties[key] === value);
    }
  }
  for (const tag of all(q.tag)) tests.push((i) => i.tags.includes(tag.trim()));
  images = images.filter((i) => tests.every((t) => t(i)));
  images.sort((a, b) => {
    for (const { key, dir } of sort) {
      const c = compare((a as unknown as Record<string, unknown>)[key], (b as unknown as Record<string, unknown>)[key]);
      if (c !== 0) return dir === 'asc' ? c : -c;
    }
    return 0;
  });
  return images;
}

/** Glance's defaults: 25 images a page unless asked, at most 1000. */
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

/** One page of `listVisible`: `next` is the marker of the following page, when there is one. */
export async function listImages(deps: ImageDeps, caller: Caller, q: ListQuery): Promise<{ images: ImageRecord[]; nextMarker: string | undefined }> {
  const limitText = last(q.limit);
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^-?\d+$/.test(limitText)) throw invalid('limit param must be an integer');
    limit = Number(limitText);
    if (limit < 0) throw invalid('limit param must be positive');
  }
  limit = Math.min(limit, MAX_LIMIT);
  const images = await listVisible(deps, caller, q);
  const marker = last(q.marker);
  let start = 0;
  if (marker !== undefined) {
    const at = images.findIndex((i) => i.id === marker);
    if (at < 0) throw invalid(`Marker ${marker} could not be found.`);
    start = at + 1;
  }
  const page = images.slice(start, start + limit);
  return { images: page, nextMarker: page.length && start + limit < images.length ? page[page.length - 1].id : undefined };
}
