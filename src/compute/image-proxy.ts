/**
 * Nova's image proxy (`/images`, before 2.36) and image metadata proxy (`/images/{id}/metadata`,
 * before 2.39): Glance's images in Nova's view, read and changed through the image service's
 * exported functions with the caller's own rights, as Nova calls Glance with the user's token.
 * @module
 */
import { KumoError } from '../errors.js';
import { deleteImage, getImage, listImages, parsePatch, updateImage } from '../image/images.js';
import type { ImageRecord, ListQuery, PatchChange } from '../image/images.js';
import { invalid, isIsoDateTime, novaError, novaLinks } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { computeQuotaOf } from './quotas.js';

/** Glance's status as Nova shows it; anything else is UNKNOWN. */
const STATUS: Record<string, string> = {
  active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR',
};
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

export interface ImageProxyLinks {
  /** `{publicUrl}/compute`. */
  readonly base: string;
  /** `{publicUrl}/image`: Glance's root, for the `alternate` link. */
  readonly imageRoot: string;
}

const imageLinks = (links: ImageProxyLinks, id: string) => [
  ...novaLinks(links.base, null, 'images', id),
  { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${links.imageRoot}/images/${id}` },
];

/** Nova's time format: seconds, `Z` (Glance's already is). */
const novaStamp = (glance: string) => new Date(glance).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function imageSummary(links: ImageProxyLinks, image: ImageRecord): Record<string, unknown> {
  return { id: image.id, name: image.name, links: imageLinks(links, image.id) };
}

export function imageDetail(links: ImageProxyLinks, image: ImageRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: image.id, name: image.name, status: STATUS[image.status] ?? 'UNKNOWN', progress: PROGRESS[image.status] ?? 0,
    minDisk: image.min_disk ?? 0, minRam: image.min_ram ?? 0, metadata: { ...image.properties },
    created: novaStamp(image.created_at), updated: novaStamp(image.updated_at), links: imageLinks(links, image.id),
    'OS-EXT-IMG-SIZE:size': image.size,
  };
  const server = image.properties.instance_uuid;
  if (server) view.server = { id: server, links: novaLinks(links.base, null, 'servers', server) };
  return view;
}

/** Glance's 404 as Nova words it. */
const notFound = (id: string) => novaError('ERR_NOT_FOUND', `Image ${id} could not be found.`);
async function withNovaErrors<T>(id: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof KumoError && err.status === 404) throw notFound(id);
    if (err instanceof KumoError && err.status === 403) throw novaError('ERR_FORBIDDEN', err.message);
    throw err;
  }
}

export const showProxiedImage = (deps: ComputeDeps, caller: Caller, id: string): Promise<ImageRecord> => withNovaErrors(id, () => getImage(deps.image, caller, id));

export const deleteProxiedImage = (deps: ComputeDeps, caller: Caller, id: string): Promise<void> => withNovaErrors(id, () => deleteImage(deps.image, caller, id));

export type ProxyQuery = Record<string, string | string[] | undefined>;
const lastOf = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);

/**
 * Nova's list filters in Glance's terms: name, status (lower-cased), changes-since (updated at or
 * after), server (the snapshot's instance_uuid, also given as a server link), type (image_type),
 * property-* (any property); minRam/minDisk keep images needing at least that much; limit and marker page.
 */
export async function listProxiedImages(deps: ComputeDeps, caller: Caller, q: ProxyQuery): Promise<{ images: ImageRecord[]; nextMarker: string | undefined }> {
  const glance: ListQuery = {};
  const name = lastOf(q.name);
  if (name !== undefined) glance.name = name;
  const status = lastOf(q.status);
  if (status !== undefined) glance.status = status.toLowerCase();
  const since = lastOf(q['changes-since']);
  if (since !== undefined) {
    if (!isIsoDateTime(since)) throw invalid(`Invalid filter field: changes-since. Value: ${since}`);
    glance.updated_at = `gte:${since}`;
  }
  const server = lastOf(q.server);
  if (server !== undefined) glance.instance_uuid = server.replace(/\/+$/, '').split('/').at(-1)!;
  const type = lastOf(q.type);
  if (type !== undefined) glance.image_type = type;
  for (const [k, v] of Object.entries(q)) if (k.startsWith('property-') && v !== undefined) glance[k.slice('property-'.length)] = lastOf(v);
  const minimum = (key: string) => {
    const v = lastOf(q[key]);
    if (v === undefined) return 0;
    if (!/^\d+$/.test(v)) throw invalid(`Invalid filter field: ${key}. Value: ${v}`);
    return Number(v);
  };
  const [minRam, minDisk] = [minimum('minRam'), minimum('minDisk')];
  const limit = lastOf(q.limit);
  const marker = lastOf(q.marker);
  // Glance pages after filtering; the minRam/minDisk filters are Nova's own, so they page here.
  const all = await withNovaErrors(marker ?? '', () => listImages(deps.image, caller, { ...glance, limit: '1000', ...(marker ? { marker } : {}) }));
  const images = all.images.filter((i) => (i.min_ram ?? 0) >= minRam && (i.min_disk ?? 0) >= minDisk);
  if (limit === undefined) return { images, nextMarker: undefined };
  if (!/^\d+$/.test(limit)) throw invalid(`limit param must be an integer`);
  const page = images.slice(0, Number(limit));
  return { images: page, nextMarker: page.length && page.length < images.length ? page[page.length - 1].id : undefined };
}

// ---- metadata ----

function checkMetadata(value: unknown, what = 'metadata'): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(`Invalid input for field/attribute ${what}. '${what}' must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (k.length < 1 || k.length > 255) throw invalid(`Invalid input for field/attribute ${what}. Value: ${k}. Keys must be 1 to 255 characters`);
    if (typeof v !== 'string' || v.length > 255) throw invalid(`Invalid input for field/attribute ${what}. Value: ${JSON.stringify(v)}. Values must be strings of at most 255 characters`);
  }
  return value as Record<string, string>;
}

/** Changes to properties as a JSON patch, so the image service checks them as it checks its own PATCH (reserved names, base attributes). */
interface PropertyChange { op: 'add' | 'replace' | 'remove'; key: string; value?: string }
const pointer = (key: string) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
function patchOf(changes: PropertyChange[]): PatchChange[] {
  return parsePatch('application/openstack-images-v2.1-json-patch', changes.map((c) => ({ op: c.op, path: pointer(c.key), ...(c.op === 'remove' ? {} : { value: c.value }) })));
}

/** Nova counts an image's properties against the project's metadata_items (maxImageMeta). */
async function checkImageMetaQuota(deps: ComputeDeps, caller: Caller, count: number): Promise<void> {
  const limit = (await computeQuotaOf(deps.db, caller.projectId)).metadata_items;
  if (limit >= 0 && count > limit) throw novaError('ERR_FORBIDDEN', 'Image metadata limit exceeded');
}

export async function imageMetadata(deps: ComputeDeps, caller: Caller, id: string): Promise<Record<string, string>> {
  return { ...(await showProxiedImage(deps, caller, id)).properties };
}

/** POST (merge) or PUT (replace) of the image's properties; returns them all. */
export async function setImageMetadata(deps: ComputeDeps, caller: Caller, id: string, body: unknown, replace: boolean): Promise<Record<string, string>> {
  const metadata = checkMetadata((body as { metadata?: unknown } | null | undefined)?.metadata);
  const current = (await showProxiedImage(deps, caller, id)).properties;
  const next = replace ? metadata : { ...current, ...metadata };
  await checkImageMetaQuota(deps, caller, Object.keys(next).length);
  const changes = patchOf([
    ...Object.keys(current).filter((k) => !(k in next)).map((key): PropertyChange => ({ op: 'remove', key })),
    ...Object.entries(metadata).map(([key, value]): PropertyChange => ({ op: key in current ? 'replace' : 'add', key, value })),
  ]);
  return { ...(await withNovaErrors(id, () => updateImage(deps.image, caller, id, changes))).properties };
}

export async function imageMetadataItem(deps: ComputeDeps, caller: Caller, id: string, key: string): Promise<string> {
  const value = (await showProxiedImage(deps, caller, id)).properties[key];
  if (value === undefined) throw novaError('ERR_NOT_FOUND', 'Metadata item was not found');
  return value;
}

/** PUT of one item: the body is `{"meta": {key: value}}` with exactly that key. */
export async function setImageMetadataItem(deps: ComputeDeps, caller: Caller, id: string, key: string, body: unknown): Promise<string> {
  const meta = checkMetadata((body as { meta?: unknown } | null | undefined)?.meta, 'meta');
  const keys = Object.keys(meta);
  if (keys.length !== 1) throw invalid('Request body contains too many items');
  if (keys[0] !== key) throw invalid('Request body and URI mismatch');
  const current = (await showProxiedImage(deps, caller, id)).properties;
  await checkImageMetaQuota(deps, caller, Object.keys({ ...current, [key]: '' }).length);
  const changes = patchOf([{ op: key in current ? 'replace' : 'add', key, value: meta[key] }]);
  await withNovaErrors(id, () => updateImage(deps.image, caller, id, changes));
  return meta[key];
}

export async function deleteImageMetadataItem(deps: ComputeDeps, caller: Caller, id: string, key: string): Promise<void> {
  const current = (await showProxiedImage(deps, caller, id)).properties;
  if (!(key in current)) throw novaError('ERR_NOT_FOUND', 'Metadata item was not found');
  await withNovaErrors(id, () => updateImage(deps.image, caller, id, patchOf([{ op: 'remove', key }])));
}
