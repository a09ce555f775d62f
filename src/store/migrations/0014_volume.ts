import type { Kysely } from 'kysely';

/** The id Cinder (since Train) gives the type every cloud has; fixed so every Kumo agrees. */
export const DEFAULT_VOLUME_TYPE_ID = '4ca8fa63-1e5a-4a8c-9f5c-d1b1c1e4b2a0';

/** Cinder: volumes, snapshots, volume types (with `__DEFAULT__`), attachments, quotas, volume hosts. */
export const volumeMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('volume_volume')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('description', 'text')
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_reason', 'text')
      .addColumn('host', 'text')
      .addColumn('availability_zone', 'text', (c) => c.notNull())
      .addColumn('volume_type_id', 'text', (c) => c.notNull())
      .addColumn('snapshot_id', 'text')
      .addColumn('source_volid', 'text')
      .addColumn('image_id', 'text')
      .addColumn('bootable', 'integer', (c) => c.notNull())
      .addColumn('readonly', 'integer', (c) => c.notNull())
      .addColumn('multiattach', 'integer', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('image_metadata', 'text', (c) => c.notNull())
      .addColumn('pending', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('volume_volume_project').on('volume_volume').columns(['project_id', 'created_at']).execute();
    await db.schema.createIndex('volume_volume_host').on('volume_volume').column('host').execute();
    await db.schema.createTable('volume_snapshot')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('description', 'text')
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_reason', 'text')
      .addColumn('host', 'text')
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('volume_snapshot_volume').on('volume_snapshot').column('volume_id').execute();
    await db.schema.createIndex('volume_snapshot_project').on('volume_snapshot').columns(['project_id', 'created_at']).execute();
    await db.schema.createTable('volume_type')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('extra_specs', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createTable('volume_type_access')
      .addColumn('volume_type_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_type_access_pk', ['volume_type_id', 'project_id'])
      .execute();
    await db.schema.createTable('volume_attachment')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('host_name', 'text')
      .addColumn('mountpoint', 'text')
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('connector', 'text')
      .addColumn('attached_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // One attachment per volume and machine: a second reserve for the same pair fails on this.
    await db.schema.createIndex('volume_attachment_volume_instance').on('volume_attachment').columns(['volume_id', 'instance_id']).unique().execute();
    await db.schema.createIndex('volume_attachment_instance').on('volume_attachment').column('instance_id').execute();
    await db.schema.createTable('volume_quota')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('volume_quota_pk', ['project_id', 'resource'])
      .execute();
    await db.schema.createTable('volume_service')
      .addColumn('host', 'text', (c) => c.primaryKey())
      .addColumn('availability_zone', 'text', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .addColumn('total_bytes', 'bigint', (c) => c.notNull())
      .addColumn('free_bytes', 'bigint', (c) => c.notNull())
      .addColumn('volume_dir', 'text', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('disabled_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await (db as Kysely<Record<string, Record<string, unknown>>>).insertInto('volume_type').values({
      id: DEFAULT_VOLUME_TYPE_ID, name: '__DEFAULT__', description: 'Default Volume Type', is_public: 1, extra_specs: '{}', created_at: new Date().toISOString(),
    }).execute();
  },
};
