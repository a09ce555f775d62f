import type { Kysely } from 'kysely';

/** OS-EP-FILTER (endpoint groups, project-endpoint associations), domain configuration, revocation index. */
export const identityExtensionsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const s = db.schema;
    await s.createTable('identity_endpoint_group')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('filters', 'text', (c) => c.notNull())
      .execute();
    await s.createTable('identity_project_endpoint_group')
      .addColumn('endpoint_group_id', 'text', (c) => c.notNull().references('identity_endpoint_group.id').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('identity_project_endpoint_group_pk', ['endpoint_group_id', 'project_id'])
      .execute();
    await s.createTable('identity_project_endpoint')
      .addColumn('endpoint_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('identity_project_endpoint_pk', ['endpoint_id', 'project_id'])
      .execute();
    // Validation reads only the events newer than the token.
    await s.createIndex('identity_revocation_issued_before').on('identity_revocation').column('issued_before').execute();
    await s.createTable('identity_domain_config')
      .addColumn('domain_id', 'text', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('option_name', 'text', (c) => c.notNull())
      /** JSON value, so that integers stay integers. */
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('sensitive', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('identity_domain_config_pk', ['domain_id', 'group_name', 'option_name'])
      .execute();
  },
};
