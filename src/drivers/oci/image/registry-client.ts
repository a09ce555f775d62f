/**
 * A client of one repository on one registry (the OCI distribution API, `/v2/`): manifests by
 * tag or digest, blobs streamed to a file while they are hashed. Nothing it returns is trusted
 * before its digest matches: a manifest asked for by digest, or served with a
 * `Docker-Content-Digest`, must hash to it, and a blob must hash to its descriptor's digest and
 * be no longer than its descriptor says.
 * @module
 */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { KumoError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { basicAuthorization, causeMessage, fetchBearerToken, parseChallenges, type Credentials, type FetchFn } from './auth.js';
import { isDigest, sha256Digest } from './digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type Descriptor } from './manifest.js';
import { familiarName, registryBaseUrl, type ImageReference } from './reference.js';

export interface FetchedManifest {
  readonly body: Buffer;
  readonly digest: string;
  readonly contentType: string | null;
}

export interface RegistryClient {
  /** Checks the registry speaks `/v2/` and obtains a token when it asks for one. */
  ping(): Promise<void>;
  /** The manifest or index `reference` (a tag or a digest) names. */
  getManifest(reference: string): Promise<FetchedManifest>;
  /**
   * Streams the blob into `file` (created, must not exist) and verifies it; on any failure the
   * file is gone and the error names the digest.
   */
  downloadBlob(descriptor: Descriptor, file: string): Promise<void>;
}

export interface RegistryClientOptions {
  readonly ref: ImageReference;
  readonly insecureRegistries: readonly string[];
  readonly credentials?: Credentials;
  readonly fetch?: FetchFn;
  /** Manifests and pings give up after this long (blobs stream for as long as they flow). */
  readonly requestTimeoutMs?: number;
}

interface RegistryErrorBody {
  errors?: { code?: string; message?: string }[];
}

async function registryErrors(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as RegistryErrorBody;
    const list = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    return list.join('; ');
  } catch {
    return '';
  }
}

async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw new KumoError('ERR_INTERNAL', `${what} is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function createRegistryClient(options: RegistryClientOptions, logger: Logger): RegistryClient {
  const { ref, credentials } = options;
  const fetchFn: FetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const base = registryBaseUrl(ref.registry, options.insecureRegistries);
  const registry = ref.registry;
  const scope = `repository:${ref.repository}:pull`;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const log = logger.child({ registry, repository: ref.repository });
  let authorization: string | null = null;

  /** Sends the request, answering one auth challenge on the way. */
  async function request(path: string, init: { headers?: Record<string, string>; timeout: boolean }, what: string): Promise<Response> {
    const send = async () => {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (authorization) headers.authorization = authorization;
      try {
        return await fetchFn(`${base}${path}`, { headers, redirect: 'follow', ...(init.timeout ? { signal: AbortSignal.timeout(timeoutMs) } : {}) });
      } catch (err) {
        throw new KumoError('ERR_INTERNAL', `cannot reach registry ${registry} (${base}) for ${what}: ${causeMessage(err)}`, { cause: err });
      }
    };
    let res = await send();
    if (res.status !== 401) return res;
    const challenges = parseChallenges(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel();
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      authorization = `Bearer ${await fetchBearerToken(fetchFn, bearer, scope, registry, credentials)}`;
    } else if (basic && credentials) {
      authorization = basicAuthorization(credentials);
    } else if (basic) {
      throw new KumoError('ERR_FORBIDDEN', `registry ${registry} requires credentials for ${familiarName(ref)}`);
    } else {
      throw new KumoError('ERR_FORBIDDEN', `registry ${registry} refused ${what} (401) without a usable authentication challenge`);
    }
    log.debug({ scheme: bearer ? 'bearer' : 'basic' }, 'registry asked for authentication');
    res = await send();
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new KumoError('ERR_FORBIDDEN', `registry ${registry} denied access to ${familiarName(ref)}${credentials ? ` for user ${credentials.username}` : ' (no credentials given)'}`);
    }
    return res;
  }

  async function failure(res: Response, what: string, notFound: string): Promise<KumoError> {
    const detail = await registryErrors(res);
    if (res.status === 404) return new KumoError('ERR_NOT_FOUND', notFound);
    if (res.status === 403) return new KumoError('ERR_FORBIDDEN', `registry ${registry} denied access to ${familiarName(ref)}${detail ? `: ${detail}` : ''}`);
    if (res.status === 429) return new KumoError('ERR_INTERNAL', `registry ${registry} is rate-limiting pulls (429) of ${what}`);
    return new KumoError('ERR_INTERNAL', `registry ${registry} answered ${res.status} for ${what}${detail ? `: ${detail}` : ''}`);
  }

  return {
    async ping() {
      const res = await request('/v2/', { timeout: true }, 'the API version check');
      await res.body?.cancel();
      if (res.status === 404) throw new KumoError('ERR_NOT_FOUND', `${base} does not serve the registry API (GET /v2/ answered 404)`);
      if (!res.ok) throw await failure(res, 'the API version check', '');
    },

    async getManifest(reference) {
      const what = `manifest ${reference} of ${ref.repository}`;
      const res = await request(`/v2/${ref.repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT }, timeout: true }, what);
      if (!res.ok) throw await failure(res, what, `image ${familiarName({ ...ref, ...(isDigest(reference) ? { tag: null, digest: reference } : { tag: reference, digest: null }) })} not found in registry ${registry}`);
      const body = await readLimited(res, MAX_MANIFEST_BYTES, what);
      const digest = sha256Digest(body);
      const claimed = isDigest(reference) ? reference : res.headers.get('docker-content-digest');
      if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
        throw new KumoError('ERR_INTERNAL', `registry ${registry} sent a manifest for ${familiarName(ref)} that hashes to ${digest}, not ${claimed}; it is corrupt or was changed in transit`);
      }
      return { body, digest, contentType: res.headers.get('content-type') };
    },

    async downloadBlob(descriptor, file) {
      const what = `blob ${descriptor.digest}`;
      const res = await request(`/v2/${ref.repository}/blobs/${descriptor.digest}`, { timeout: false }, what);
      if (!res.ok) throw await failure(res, what, `blob ${descriptor.digest} of ${familiarName(ref)} not found in registry ${registry}`);
      const handle = await open(file, 'wx', 0o644);
      const hash = createHash('sha256');
      let size = 0;
      let ok = false;
      try {
        try {
          for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
            size += chunk.byteLength;
            if (size > descriptor.size) {
              throw new KumoError('ERR_INTERNAL', `blob ${descriptor.digest} from registry ${registry} is longer than the ${descriptor.size} bytes its manifest says; not keeping it`);
            }
            hash.update(chunk);
            await handle.write(chunk);
          }
        } catch (err) {
          if (err instanceof KumoError) throw err;
          throw new KumoError('ERR_INTERNAL', `download of blob ${descriptor.digest} from registry ${registry} failed: ${causeMessage(err)}`, { cause: err });
        }
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== descriptor.digest) {
          throw new KumoError('ERR_INTERNAL', `blob ${descriptor.digest} from registry ${registry} is corrupt: its ${size} bytes hash to ${actual}; not keeping it`);
        }
        if (size !== descriptor.size) {
          throw new KumoError('ERR_INTERNAL', `blob ${descriptor.digest} from registry ${registry} has ${size} bytes, its manifest says ${descriptor.size}; not keeping it`);
        }
        // The blob is renamed into the store next; without this a crash could leave a verified name on unwritten data.
        await handle.sync();
        ok = true;
      } finally {
        await handle.close();
        if (!ok) await rm(file, { force: true });
      }
    },
  };
}
