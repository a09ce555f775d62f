/**
 * Assembling a running Kumo from a config: data directory, secrets, store, migrations,
 * bootstrap, the app, and a clean shutdown. `kumo up` and the e2e tests both use this.
 * @module
 */
import { chmodSync, writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { KumoConfig } from './config.js';
import { ensureAdminPassword, kumoPaths } from './paths.js';
import type { KumoPaths } from './paths.js';
import { buildApp, SERVICE_PREFIXES } from './http/app.js';
import type { Logger } from './log.js';
import { openDatabase } from './store/database.js';
import type { Db } from './store/database.js';
import { migrateToLatest } from './store/migrate.js';
import { bootstrapIdentity } from './identity/bootstrap.js';
import type { CatalogService } from './identity/bootstrap.js';
import { newHexId } from './identity/context.js';
import type { IdentityDeps } from './identity/context.js';
import { KeyRepository } from './identity/key-repository.js';
import { hashPassword } from './identity/password.js';

export function catalogServices(config: KumoConfig): CatalogService[] {
  return [
    { type: 'identity', name: 'keystone', description: 'Kumo identity (Keystone v3)', url: `${config.publicUrl}${SERVICE_PREFIXES.identity}/v3` },
    // openstacksdk appends /v2.0 itself: the catalog URL is the service root.
    { type: 'network', name: 'neutron', description: 'Kumo networking (Neutron v2.0)', url: `${config.publicUrl}${SERVICE_PREFIXES.network}` },
  ];
}

export interface RunningKumo {
  app: FastifyInstance;
  db: Db;
  identity: IdentityDeps;
  adminPassword: string;
  paths: KumoPaths;
  /** Stops serving, then closes the store. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  now?: () => number;
  /** The hash of the admin password, already being computed by the caller (first start). */
  adminPasswordHash?: Promise<string>;
  /** Listen on the configured address (false for inject()-only tests). */
  listen?: boolean;
}

export async function startKumo(config: KumoConfig, logger: Logger, options: StartOptions = {}): Promise<RunningKumo> {
  const paths = kumoPaths(config.dataDir);
  const admin = ensureAdminPassword(config.dataDir);
  const adminPassword = admin.value;
  // On first start the admin password's slow hash runs on the thread pool while the store is
  // created and migrated (`kumo up` starts it even earlier, before loading this module).
  const adminPasswordHash = options.adminPasswordHash ?? (admin.created ? hashPassword(adminPassword, config.identity.passwordHash) : undefined);
  adminPasswordHash?.catch(() => {});
  const now = options.now ?? Date.now;
  const keys = new KeyRepository(paths.fernetKeysDir, config.identity.maxActiveKeys, now);
  keys.initialize();

  const { db, kind } = await openDatabase(config.database);
  try {
    await migrateToLatest(db, kind);
    const identity: IdentityDeps = { db, config, keys, logger: logger.child({ service: 'identity' }), now, newId: newHexId };
    await bootstrapIdentity(identity, { adminPassword, adminPasswordHash, region: config.region, services: catalogServices(config) });
    const app = await buildApp({ config, db, logger, identity });
    if (options.listen !== false) {
      await app.listen({ host: config.listen.host, port: config.listen.port });
      writeClientConfig(config, paths, adminPassword);
    } else await app.ready();
    let closed: Promise<void> | undefined;
    return {
      app, db, identity, adminPassword, paths,
      close: () => (closed ??= (async () => {
        await app.close();
        await db.destroy();
      })()),
    };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

function writeClientConfig(config: KumoConfig, paths: KumoPaths, adminPassword: string): void {
  const authUrl = `${config.publicUrl}${SERVICE_PREFIXES.identity}/v3`;
  const clouds = {
    clouds: {
      kumo: {
        auth: { auth_url: authUrl, username: 'admin', password: adminPassword, project_name: 'admin', user_domain_name: 'Default', project_domain_name: 'Default' },
        region_name: config.region,
        identity_api_version: 3,
        interface: 'public',
      },
    },
  };
  writeFileSync(paths.cloudsYaml, toYaml(clouds), { mode: 0o600 });
  chmodSync(paths.cloudsYaml, 0o600);
  const openrc = [
    `export OS_AUTH_URL=${authUrl}`, 'export OS_USERNAME=admin', `export OS_PASSWORD='${adminPassword}'`, 'export OS_PROJECT_NAME=admin',
    'export OS_USER_DOMAIN_NAME=Default', 'export OS_PROJECT_DOMAIN_NAME=Default', `export OS_REGION_NAME=${config.region}`, 'export OS_IDENTITY_API_VERSION=3', '',
  ].join('\n');
  writeFileSync(paths.openrc, openrc, { mode: 0o600 });
  chmodSync(paths.openrc, 0o600);
}

type YamlValue = string | number | boolean | { [key: string]: YamlValue };

/**
 * The block-style YAML of a tree of maps and scalars. Strings are written as JSON strings,
 * which YAML reads as double-quoted scalars, so no value can change type or break the file.
 */
export function toYaml(value: { [key: string]: YamlValue }, indent = ''): string {
  return Object.entries(value)
    .map(([k, v]) => (typeof v === 'object' ? `${indent}${k}:\n${toYaml(v, `${indent}  `)}` : `${indent}${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}\n`))
    .join('');
}
