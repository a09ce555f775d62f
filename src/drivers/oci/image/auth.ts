/**
 * Registry authentication: `WWW-Authenticate` challenges (RFC 7235), the Docker token protocol
 * (a bearer token from the challenge's realm, for a `repository:<name>:pull` scope) and basic auth.
 * @module
 */
import { KumoError } from '../../../errors.js';

export interface Challenge {
  /** Lower-cased: `bearer`, `basic`. */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Every challenge in a `WWW-Authenticate` value (several may share one header, comma-separated). */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i])) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && TOKEN_CHAR.test(header[i])) i++;
    return header.slice(start, i);
  };
  // Whether what follows is `name=` (another parameter) rather than a new scheme.
  const paramAhead = () => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=/.test(header.slice(i));
  while (i < header.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (!scheme) break;
    const current = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    challenges.push(current);
    skip(/\s/);
    while (i < header.length && paramAhead()) {
      const name = token().toLowerCase();
      skip(/\s/);
      i++; // '='
      skip(/\s/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i++];
        }
        i++;
      } else {
        value = token();
      }
      current.params[name] = value;
      skip(/\s/);
      if (header[i] !== ',') break;
      i++;
      skip(/\s/);
    }
  }
  return challenges;
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Asks the challenge's realm for a token for `scope`, with the credentials when there are any
 * (anonymous tokens are how public Docker Hub repositories are pulled).
 */
export async function fetchBearerToken(fetchFn: FetchFn, challenge: Challenge, scope: string, registry: string, credentials: Credentials | undefined): Promise<string> {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new KumoError('ERR_INTERNAL', `registry ${registry} sent a bearer challenge without a valid realm (${JSON.stringify(realm ?? null)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new KumoError('ERR_INTERNAL', `registry ${registry}: token realm ${realm} is not http(s)`);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope ?? scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (credentials) headers.authorization = basicAuthorization(credentials);
  let res: Response;
  try {
    res = await fetchFn(url.toString(), { headers });
  } catch (err) {
    throw new KumoError('ERR_INTERNAL', `cannot reach the token service of registry ${registry} at ${url.origin}: ${causeMessage(err)}`, { cause: err });
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new KumoError('ERR_FORBIDDEN', credentials
      ? `registry ${registry} rejected the credentials of user ${credentials.username}`
      : `registry ${registry} requires credentials`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new KumoError('ERR_INTERNAL', `the token service of registry ${registry} answered ${res.status}`);
  }
  let doc: unknown;
  try {
    doc = await res.json();
  } catch {
    throw new KumoError('ERR_INTERNAL', `the token service of registry ${registry} answered with something other than JSON`);
  }
  const token = typeof doc === 'object' && doc !== null ? ((doc as { token?: unknown }).token ?? (doc as { access_token?: unknown }).access_token) : undefined;
  if (typeof token !== 'string' || token === '') throw new KumoError('ERR_INTERNAL', `the token service of registry ${registry} returned no token`);
  return token;
}

/** fetch's errors say "fetch failed" and keep the reason (ECONNREFUSED, a TLS error) in `cause`. */
export function causeMessage(err: unknown): string {
  let e: unknown = err;
  let text = e instanceof Error ? e.message : String(e);
  while (e instanceof Error && e.cause !== undefined) {
    e = e.cause;
    const inner = e instanceof Error ? (e as Error & { code?: string }).code ?? e.message : String(e);
    text = inner && !text.includes(inner) ? `${text}: ${inner}` : text;
  }
  return text;
}
