/**
 * Kumo's configuration: parsed once, at the edge, into a frozen typed object that is passed
 * down. Nothing else reads the environment.
 * @module
 */
import { homedir, hostname } from 'node:os';
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

export interface AgentConfig {
  /** Run the local agent that drives this host's networking (needs root). */
  readonly enabled: boolean;
  /** The name ports are bound to (`binding:host_id`). */
  readonly host: string;
  /** This host also runs every router and DHCP server (all-in-one: yes). */
  readonly networkNode: boolean;
  /** physical network name → existing host bridge, e.g. `public:br-ex`. */
  readonly physicalBridges: Readonly<Record<string, string>>;
  /** The local VTEP address for VXLAN networks. */
  readonly vxlanLocalIp: string;
  /** Registries (`host:port`) the image store may reach over plain http; loopback ones always may. */
  readonly insecureRegistries: readonly string[];
  /** The OCI runtime containers run with: runc (default) or crun (faster; see drivers/oci/runtime/mount-namespace.ts). */
  readonly containerRuntime: 'runc' | 'crun';
  /** How often the agent reads the store's revision, and how often it re-checks the host regardless. */
  readonly pollMs: number;
  readonly resyncSeconds: number;
}

export interface ImageConfig {
  /** The largest image data one upload or stage may send (Glance's image_size_cap); more is a 413. */
  readonly maxImageSizeBytes: number;
}

export interface ComputeConfig {
  /** The accelerator VMs run with: `auto` probes KVM by booting a test guest, else TCG. */
  readonly accel: 'auto' | 'kvm' | 'tcg';
  /** How long a guest gets to power off on ACPI before QEMU is stopped hard (Nova's shutdown_timeout). */
  readonly shutdownTimeoutSeconds: number;
}

export interface VolumeConfig {
  /** Cinder's default quotas for a project without its own; -1 means unlimited. */
  readonly defaultQuotas: Readonly<Record<'volumes' | 'snapshots' | 'gigabytes' | 'per_volume_gigabytes' | 'backups' | 'backup_gigabytes' | 'groups', number>>;
  /** A volume host whose heartbeat is older than this is down (Cinder's service_down_time). */
  readonly serviceDownSeconds: number;
  /** The availability zone volumes are created in (Cinder's storage_availability_zone). */
  readonly availabilityZone: string;
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
  readonly agent: AgentConfig;
  readonly image: ImageConfig;
  readonly compute: ComputeConfig;
  readonly volume: VolumeConfig;
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
  agent?: string;
  host?: string;
  physicalBridges?: string;
  containerRuntime?: string;
  accel?: string;
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
  const agentFlag = (flags.agent ?? env.KUMO_AGENT ?? 'auto').toLowerCase();
  const containerRuntime = (flags.containerRuntime ?? env.KUMO_CONTAINER_RUNTIME ?? 'runc').toLowerCase();
  if (containerRuntime !== 'runc' && containerRuntime !== 'crun') throw new KumoError('ERR_VALIDATION', `--container-runtime must be runc or crun, got "${containerRuntime}"`);
  const accel = (flags.accel ?? env.KUMO_ACCEL ?? 'auto').toLowerCase();
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') throw new KumoError('ERR_VALIDATION', `--accel must be auto, kvm or tcg, got "${accel}"`);
  if (!['auto', 'on', 'off'].includes(agentFlag)) throw new KumoError('ERR_VALIDATION', `--agent must be auto, on or off, got "${agentFlag}"`);
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
    agent: {
      // Driving host networking needs root; `auto` runs the agent when Kumo runs as root.
      enabled: agentFlag === 'on' || (agentFlag === 'auto' && uid === 0),
      host: flags.host ?? env.KUMO_HOST ?? hostname(),
      networkNode: true,
      physicalBridges: parsePhysicalBridges(flags.physicalBridges ?? env.KUMO_PHYSICAL_BRIDGES ?? ''),
      vxlanLocalIp: env.KUMO_VXLAN_LOCAL_IP || '127.0.0.1',
      insecureRegistries: (env.KUMO_INSECURE_REGISTRIES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      containerRuntime,
      pollMs: 200,
      resyncSeconds: 60,
    },
    image: {
      maxImageSizeBytes: env.KUMO_IMAGE_MAX_SIZE ? positiveInt('image size cap', env.KUMO_IMAGE_MAX_SIZE) : 16 * 1024 ** 3,
    },
    compute: {
      accel,
      shutdownTimeoutSeconds: 60,
    },
    volume: {
      defaultQuotas: { volumes: 10, snapshots: 10, gigabytes: 1000, per_volume_gigabytes: -1, backups: 10, backup_gigabytes: 1000, groups: 10 },
      serviceDownSeconds: 60,
      availabilityZone: 'nova',
    },
  });
}

/** `public:br-ex,other:br-other` → {public: 'br-ex', other: 'br-other'}. */
export function parsePhysicalBridges(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]{1,15})$/.exec(item);
    if (!m) throw new KumoError('ERR_VALIDATION', `a physical bridge mapping is NAME:BRIDGE (bridge names have at most 15 characters), got "${item}"`);
    out[m[1]] = m[2];
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A config for tests: a given data dir, an in-memory-friendly database, cheap password hashing. */
export function testConfig(overrides: { dataDir: string; database?: DatabaseConfig; passwordHash?: PasswordHashConfig; tokenExpirationSeconds?: number; maxImageSizeBytes?: number }): KumoConfig {
  const base = loadConfig({ dataDir: overrides.dataDir, logLevel: 'silent' });
  return deepFreeze({
    ...base,
    database: overrides.database ?? base.database,
    agent: { ...base.agent, enabled: false, host: 'test-host' },
    identity: {
      ...base.identity,
      passwordHash: overrides.passwordHash ?? { N: 2 ** 10, r: 8, p: 1 },
      tokenExpirationSeconds: overrides.tokenExpirationSeconds ?? base.identity.tokenExpirationSeconds,
    },
    image: { ...base.image, maxImageSizeBytes: overrides.maxImageSizeBytes ?? base.image.maxImageSizeBytes },
  });
}
