/**
 * Kumo's configuration: parsed once, at the edge, into a frozen typed object that is passed
 * down. Nothing else reads the environment.
 * @module
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { KumoError } from './errors.js';
import type { LogLevel } from './log.js';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

export interface PasswordHashConfig {
  /** scrypt cost parameters; the defaults cost about as much CPU as bcrypt cost 12 on this class of host. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export interface IdentityConfig {
  /** Lifetime of a newly issued token. */
  readonly tokenExpirationSeconds: number;
  /** How many fernet keys the repository keeps: one staged, one primary, the rest secondary. */
  readonly maxActiveKeys: number;
  readonly passwordHash: PasswordHashConfig;
  /** Trusts may be redelegated at most this many times. */
  readonly maxRedelegationCount: number;
}

export interface KumoConfig {
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** The base URL clients reach Kumo at; version documents and the catalog are built from it. */
  readonly publicUrl: string;
  readonly database: DatabaseConfig;
  readonly logLevel: LogLevel;
  readonly region: string;
  readonly identity: IdentityConfig;
}

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';

export const DEFAULT_PASSWORD_HASH: PasswordHashConfig = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Options given on the command line; each wins over the matching environment variable. */
export interface ConfigFlags {
  dataDir?: string;
  listen?: string;
  publicUrl?: string;
  databaseUrl?: string;
  logLevel?: string;
  tokenExpiration?: string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv, uid: number | undefined): string {
  if (uid === 0) return '/var/lib/kumo';
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(stateHome, 'kumo');
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  if (!m) throw new KumoError('ERR_VALIDATION', `--listen must be HOST:PORT, got "${value}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new KumoError('ERR_VALIDATION', `--listen port out of range: ${port}`);
  return { host: m[1] || m[2] || DEFAULT_HOST, port };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new KumoError('ERR_VALIDATION', `${name} must be a positive integer, got "${value}"`);
  return n;
}

export function loadConfig(
  flags: ConfigFlags = {},
  env: NodeJS.ProcessEnv = {},
  uid: number | undefined = undefined,
): KumoConfig {
  const dataDir = resolve(flags.dataDir ?? env.KUMO_DATA_DIR ?? defaultDataDir(env, uid));
  const listen = parseListen(flags.listen ?? env.KUMO_LISTEN ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`);
  const hostForUrl = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const publicUrl = (flags.publicUrl ?? env.KUMO_PUBLIC_URL ?? `http://${hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl}:${listen.port}`).replace(/\/+$/, '');
  const databaseUrl = flags.databaseUrl ?? env.KUMO_DATABASE_URL;
  let database: DatabaseConfig;
  if (!databaseUrl) database = { kind: 'sqlite', path: join(dataDir, 'kumo.db') };
  else if (/^postgres(ql)?:\/\//.test(databaseUrl)) database = { kind: 'postgres', url: databaseUrl };
  else if (databaseUrl.startsWith('sqlite:')) database = { kind: 'sqlite', path: databaseUrl.slice('sqlite:'.length) };
  else throw new KumoError('ERR_VALIDATION', 'the database URL must start with postgresql:// or sqlite:');
  const logLevel = (flags.logLevel ?? env.KUMO_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new KumoError('ERR_VALIDATION', `log level must be one of ${LOG_LEVELS.join(', ')}`);
  const tokenExpiration = flags.tokenExpiration ?? env.KUMO_TOKEN_EXPIRATION;
  return deepFreeze({
    dataDir,
    listen,
    publicUrl,
    database,
    logLevel,
    region: env.KUMO_REGION || 'RegionOne',
    identity: {
      tokenExpirationSeconds: tokenExpiration ? positiveInt('token expiration', tokenExpiration) : 3600,
      maxActiveKeys: 3,
      passwordHash: DEFAULT_PASSWORD_HASH,
      maxRedelegationCount: 3,
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A config for tests: a given data dir, an in-memory-friendly database, cheap password hashing. */
export function testConfig(overrides: { dataDir: string; database?: DatabaseConfig; passwordHash?: PasswordHashConfig; tokenExpirationSeconds?: number }): KumoConfig {
  const base = loadConfig({ dataDir: overrides.dataDir, logLevel: 'silent' });
  return deepFreeze({
    ...base,
    database: overrides.database ?? base.database,
    identity: {
      ...base.identity,
      passwordHash: overrides.passwordHash ?? { N: 2 ** 10, r: 8, p: 1 },
      tokenExpirationSeconds: overrides.tokenExpirationSeconds ?? base.identity.tokenExpirationSeconds,
    },
  });
}
