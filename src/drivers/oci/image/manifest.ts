/**
 * Manifests as registries serve them (Docker v2 schema 2 and manifest lists, OCI manifests and
 * indexes): parsing with the checks that keep a hostile registry from steering the store, and the
 * choice of one platform from a list.
 * @module
 */
import { KumoError } from '../../../errors.js';
import { parseDigest } from './digest.js';

export const MEDIA_TYPE = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

/** What the client asks registries for, in the order it prefers them. */
export const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest].join(', ');

/** A manifest or index may not be larger than this (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const LAYER_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPE.dockerLayerGzip,
  MEDIA_TYPE.ociLayer,
  MEDIA_TYPE.ociLayerGzip,
  MEDIA_TYPE.ociNondistributableLayer,
  MEDIA_TYPE.ociNondistributableLayerGzip,
]);

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export interface ManifestIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly (Descriptor & { readonly platform: Platform | null; readonly annotations: Readonly<Record<string, string>> })[];
}

export type Manifest = ImageManifest | ManifestIndex;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(what: string, why: string): KumoError {
  return new KumoError('ERR_VALIDATION', `${what} is not a valid image manifest: ${why}`);
}

function descriptor(value: unknown, what: string, where: string): Descriptor {
  if (!isObject(value)) throw bad(what, `${where} is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string') throw bad(what, `${where} has no mediaType`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(what, `${where} has no valid size`);
  return { mediaType, digest: parseDigest(digest, `${what}: ${where}`), size };
}

function platformOf(value: unknown): Platform | null {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') return null;
  return { os: value.os, architecture: value.architecture, ...(typeof value.variant === 'string' ? { variant: value.variant } : {}) };
}

/**
 * Parses a manifest body. `contentType` is the response's Content-Type; the body's own
 * `mediaType` wins when present (OCI made the field optional, so registries differ on the header).
 */
export function parseManifest(body: Uint8Array, contentType: string | null, what: string): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw bad(what, 'the body is not JSON');
  }
  if (!isObject(doc)) throw bad(what, 'the body is not a JSON object');
  const header = contentType?.split(';')[0].trim() ?? '';
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : header;
  if (doc.schemaVersion === 1 || mediaType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw new KumoError('ERR_VALIDATION', `${what} uses Docker image manifest schema 1, which Kumo does not support; push it again with a current client`);
  }
  const isIndex = mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList || (mediaType === '' && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw bad(what, 'an index without manifests');
    return {
      kind: 'index',
      mediaType: mediaType || MEDIA_TYPE.ociIndex,
      manifests: doc.manifests.map((m, i) => {
        const annotations: Record<string, string> = {};
        if (isObject(m) && isObject(m.annotations)) {
          for (const [k, v] of Object.entries(m.annotations)) if (typeof v === 'string') annotations[k] = v;
        }
        return { ...descriptor(m, what, `manifests[${i}]`), platform: platformOf(isObject(m) ? m.platform : null), annotations };
      }),
    };
  }
  if (mediaType !== MEDIA_TYPE.ociManifest && mediaType !== MEDIA_TYPE.dockerManifest && !(mediaType === '' && isObject(doc.config))) {
    throw bad(what, `unsupported media type ${JSON.stringify(mediaType)}`);
  }
  if (!Array.isArray(doc.layers)) throw bad(what, 'no layers');
  const config = descriptor(doc.config, what, 'config');
  const layers = doc.layers.map((l, i) => descriptor(l, what, `layers[${i}]`));
  for (const [i, layer] of layers.entries()) {
    if (layer.mediaType === MEDIA_TYPE.dockerForeignLayer) {
      throw new KumoError('ERR_VALIDATION', `${what}: layer ${i} is a foreign (Windows) layer; Kumo runs Linux images only`);
    }
    if (layer.mediaType === MEDIA_TYPE.ociLayerZstd) {
      throw new KumoError('ERR_VALIDATION', `${what}: layer ${i} is zstd-compressed, which Kumo does not support yet`);
    }
    if (!LAYER_TYPES.has(layer.mediaType)) throw bad(what, `layer ${i} has unsupported media type ${JSON.stringify(layer.mediaType)}`);
  }
  return { kind: 'manifest', mediaType: mediaType || MEDIA_TYPE.ociManifest, config, layers };
}

/** The platform this host runs: linux and Node's architecture in Go's (and so the registries') words. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** The variant an entry without one is taken to have (containerd's normalisation). */
function defaultVariant(architecture: string): string | undefined {
  return architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined;
}

export const formatPlatform = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

/**
 * The index entry for `platform`. With no variant asked for, an entry without one (or with the
 * architecture's default) is preferred over other variants. Attestation manifests, which
 * BuildKit lists with an `unknown/unknown` platform, never match.
 */
export function selectPlatform(index: ManifestIndex, platform: Platform, what: string): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform !== null && m.platform.os === platform.os && m.platform.architecture === platform.architecture,
  );
  const wanted = platform.variant ?? defaultVariant(platform.architecture);
  const exact = candidates.find((m) => (m.platform?.variant ?? defaultVariant(platform.architecture)) === wanted);
  const chosen = exact ?? (platform.variant === undefined ? candidates[0] : undefined);
  if (!chosen) {
    const available = index.manifests.flatMap((m) => (m.platform && m.platform.os !== 'unknown' ? [formatPlatform(m.platform)] : []));
    throw new KumoError(
      'ERR_NOT_FOUND',
      `${what} has no image for ${formatPlatform(platform)} (available: ${available.length ? available.join(', ') : 'none'})`,
    );
  }
  return { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size };
}
