import type { Kysely } from 'kysely';

/** Zun containers (desired and observed state) and per-project quota overrides. */
export const containerMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('container_container')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('image', 'text', (c) => c.notNull())
      .addColumn('image_driver', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('cpu', 'real')
      .addColumn('memory_mib', 'integer')
      .addColumn('disk_gib', 'integer')
      .addColumn('host', 'text')
      .addColumn('desired', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_reason', 'text')
      .addColumn('status_detail', 'text')
      .addColumn('task_state', 'text')
      .addColumn('exit_code', 'integer')
      .addColumn('restart_count', 'integer', (c) => c.notNull())
      .addColumn('port_ids', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('container_container_project').on('container_container').columns(['project_id', 'name']).execute();
    await db.schema.createIndex('container_container_host').on('container_container').column('host').execute();
    await db.schema.createTable('container_quota')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('container_quota_pk', ['project_id', 'resource'])
      .execute();
  },
};
