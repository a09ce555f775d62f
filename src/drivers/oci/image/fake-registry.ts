/**
 * A registry in memory behind a `fetch` function, for unit tests of the client and the store:
 * manifests and blobs by repository, optional bearer or basic auth, and a request log.
 * Not used by the store itself.
 * @module
 */
import { gzipSync } from 'node:zlib';
import { basicAuthorization, type Credentials, type FetchFn } from './auth.js';
import { sha256Digest } from './digest.js';
import { MEDIA_TYPE } from './manifest.js';
import { buildTar, type TarWriteEntry } from './tar-writer.js';

export interface FakeRegistryOptions {
  /** Require a bearer token from `https://auth.fake/token` (credentials optional unless given here). */
  readonly bearer?: { readonly credentials?: Credentials };
  /** Require basic auth with these credentials. */
  readonly basic?: Credentials;
}

export interface FakeImage {
  readonly manifestDigest: string;
  readonly manifestSize: number;
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
  readonly diffIds: readonly string[];
}

export class FakeRegistry {
  readonly host = 'reg.fake';
  readonly manifests = new Map<string, { body: Buffer; mediaType: string }>();
  readonly blobs = new Map<string, Buffer>();
  readonly requests: { method: string; url: string; authorization: string | null }[] = [];
  /** Blobs served with these bytes instead of their own (a corrupt registry). */
  readonly tampered = new Map<string, Buffer>();
  readonly #options: FakeRegistryOptions;
  readonly #token = 'tok-123';

  constructor(options: FakeRegistryOptions = {}) {
    this.#options = options;
  }

  addBlob(data: Buffer): string {
    const digest = sha256Digest(data);
    this.blobs.set(digest, data);
    return digest;
  }

  addManifest(repo: string, tag: string | null, mediaType: string, doc: unknown): { digest: string; size: number } {
    const body = Buffer.from(JSON.stringify(doc));
    const digest = sha256Digest(body);
    this.manifests.set(`${repo}@${digest}`, { body, mediaType });
    if (tag) this.manifests.set(`${repo}:${tag}`, { body, mediaType });
    return { digest, size: body.length };
  }

  /** An image whose layers are tars of `layers` (gzipped), pushed as a Docker schema 2 manifest. */
  addImage(repo: string, tag: string | null, layers: readonly (readonly TarWriteEntry[])[], config: { architecture?: string; Cmd?: string[] } = {}): FakeImage {
    const tars = layers.map((entries) => buildTar(entries));
    const gz = tars.map((t) => gzipSync(t));
    const layerDigests = gz.map((g) => this.addBlob(g));
    const diffIds = tars.map((t) => sha256Digest(t));
    const configBlob = Buffer.from(JSON.stringify({
      architecture: config.architecture ?? 'amd64', os: 'linux', created: '2026-01-02T03:04:05Z',
      config: { Cmd: config.Cmd ?? ['sh'], Env: ['PATH=/bin'], ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }));
    const configDigest = this.addBlob(configBlob);
    const m = this.addManifest(repo, tag, MEDIA_TYPE.dockerManifest, {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.dockerManifest,
      config: { mediaType: MEDIA_TYPE.dockerConfig, digest: configDigest, size: configBlob.length },
      layers: gz.map((g, i) => ({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: layerDigests[i], size: g.length })),
    });
    return { manifestDigest: m.digest, manifestSize: m.size, configDigest, layerDigests, diffIds };
  }

  #authorized(authorization: string | null): boolean {
    if (this.#options.bearer) return authorization === `Bearer ${this.#token}`;
    if (this.#options.basic) return authorization === basicAuthorization(this.#options.basic);
    return true;
  }

  #challenge(): Response {
    const header = this.#options.bearer
      ? `Bearer realm="https://auth.fake/token",service="${this.host}"`
      : `Basic realm="fake"`;
    return new Response(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }), { status: 401, headers: { 'www-authenticate': header } });
  }

  readonly fetch: FetchFn = async (input, init) => {
    const url = new URL(input);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const authorization = headers.authorization ?? null;
    this.requests.push({ method: init?.method ?? 'GET', url: url.toString(), authorization });
    if (url.host === 'auth.fake') {
      const wanted = this.#options.bearer?.credentials;
      if (wanted && authorization !== basicAuthorization(wanted)) return new Response('denied', { status: 401 });
      return Response.json({ token: this.#token });
    }
    if (url.host !== this.host) throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) });
    if (!this.#authorized(authorization)) return this.#challenge();
    if (url.pathname === '/v2/') return Response.json({});
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return new Response('', { status: 404 });
    const [, repo, kind, ref] = m;
    if (kind === 'manifests') {
      const found = this.manifests.get(ref.startsWith('sha256:') ? `${repo}@${ref}` : `${repo}:${ref}`);
      if (!found) return Response.json({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }, { status: 404 });
      return new Response(new Uint8Array(found.body), { headers: { 'content-type': found.mediaType, 'docker-content-digest': sha256Digest(found.body) } });
    }
    const blob = this.tampered.get(ref) ?? this.blobs.get(ref);
    if (!blob) return Response.json({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }, { status: 404 });
    return new Response(new Uint8Array(blob), { headers: { 'content-type': 'application/octet-stream' } });
  };
}
