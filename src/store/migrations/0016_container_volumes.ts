import type { Kysely } from 'kysely';

/** Zun's volume mappings: which volumes a container mounts where, through which Cinder attachment, in which state. */
export const containerVolumesMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('container_volume')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('container_uuid', 'text', (c) => c.notNull())
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('attachment_id', 'text')
      .addColumn('destination', 'text', (c) => c.notNull())
      .addColumn('auto_remove', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('container_volume_destination', ['container_uuid', 'destination'])
      .execute();
    await db.schema.createIndex('container_volume_volume').on('container_volume').column('volume_id').execute();
  },
};
