import type { Kysely } from 'kysely';

/** Zun capsules (pods): the capsule's own row, and the column that makes a container one of its members. */
export const containerCapsuleMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('container_capsule')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('cpu', 'real', (c) => c.notNull())
      .addColumn('memory_mib', 'integer', (c) => c.notNull())
      .addColumn('host', 'text')
      .addColumn('desired', 'text', (c) => c.notNull())
      .addColumn('port_ids', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('container_capsule_project').on('container_capsule').columns(['project_id', 'name']).execute();
    await db.schema.alterTable('container_container').addColumn('capsule_id', 'text').execute();
    await db.schema.createIndex('container_container_capsule').on('container_container').column('capsule_id').execute();
  },
};
