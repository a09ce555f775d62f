/**
 * One ordered set of migrations for both dialects, run through Kysely's Migrator.
 * @module
 */
import { Migrator } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely';
import { KumoError } from '../errors.js';
import type { Db, DialectKind } from './database.js';
import { identityMigration } from './migrations/0001_identity.js';
import { identityExtensionsMigration } from './migrations/0002_identity_extensions.js';
import { networkMigration } from './migrations/0003_network.js';
import { networkPortsMigration } from './migrations/0004_network_ports.js';
import { networkSecurityGroupsMigration } from './migrations/0005_network_security_groups.js';
import { networkRoutersMigration } from './migrations/0006_network_routers.js';
import { networkPortBindingMigration } from './migrations/0007_network_port_binding.js';
import { containerMigration } from './migrations/0008_container.js';
import { containerCapsuleMigration } from './migrations/0009_container_capsule.js';
import { imageMigration } from './migrations/0010_image.js';
import { placementMigration } from './migrations/0011_placement.js';
import { computeMigration } from './migrations/0012_compute.js';
import { imageTasksMigration } from './migrations/0013_image_tasks.js';
import { volumeMigration } from './migrations/0014_volume.js';
import { computeVolumesMigration } from './migrations/0015_compute_volumes.js';
import { containerVolumesMigration } from './migrations/0016_container_volumes.js';

function migrationsFor(kind: DialectKind): Record<string, Migration> {
  return {
    '0001_identity': identityMigration(kind),
    '0002_identity_extensions': identityExtensionsMigration,
    '0003_network': networkMigration,
    '0004_network_ports': networkPortsMigration,
    '0005_network_security_groups': networkSecurityGroupsMigration,
    '0006_network_routers': networkRoutersMigration,
    '0007_network_port_binding': networkPortBindingMigration,
    '0008_container': containerMigration,
    '0009_container_capsule': containerCapsuleMigration,
    '0010_image': imageMigration,
    '0011_placement': placementMigration,
    '0012_compute': computeMigration,
    '0013_image_tasks': imageTasksMigration,
    '0014_volume': volumeMigration,
    '0015_compute_volumes': computeVolumesMigration,
    '0016_container_volumes': containerVolumesMigration,
  };
}

export async function migrateToLatest(db: Db, kind: DialectKind): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(kind) };
  const migrator = new Migrator({ db, provider, migrationTableName: 'kumo_migration', migrationLockTableName: 'kumo_migration_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new KumoError('ERR_INTERNAL', `database migration failed: ${(error as Error).message}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
