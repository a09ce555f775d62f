import type { Kysely } from 'kysely';

/** Nova's block device mappings of volumes: which volumes a server has, through which Cinder attachment, in which state. */
export const computeVolumesMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('compute_volume_attachment')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('attachment_id', 'text')
      .addColumn('boot', 'integer', (c) => c.notNull())
      .addColumn('device', 'text', (c) => c.notNull())
      .addColumn('tag', 'text')
      .addColumn('delete_on_termination', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('size_gb', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('compute_volume_attachment_pair', ['instance_id', 'volume_id'])
      .execute();
    await db.schema.createIndex('compute_volume_attachment_volume').on('compute_volume_attachment').column('volume_id').execute();
  },
};
