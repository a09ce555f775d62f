import type { Kysely } from 'kysely';

/** Placement: resource providers with inventories, traits and aggregates; consumers and their allocations; custom classes and traits. */
export const placementMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const s = db.schema;
    await s.createTable('placement_resource_provider')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('parent_provider_uuid', 'text', (c) => c.references('placement_resource_provider.uuid'))
      .addColumn('root_provider_uuid', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await s.createTable('placement_inventory')
      .addColumn('provider_uuid', 'text', (c) => c.notNull().references('placement_resource_provider.uuid').onDelete('cascade'))
      .addColumn('resource_class', 'text', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('reserved', 'integer', (c) => c.notNull())
      .addColumn('min_unit', 'integer', (c) => c.notNull())
      .addColumn('max_unit', 'integer', (c) => c.notNull())
      .addColumn('step_size', 'integer', (c) => c.notNull())
      .addColumn('allocation_ratio', 'real', (c) => c.notNull())
      .addPrimaryKeyConstraint('placement_inventory_pk', ['provider_uuid', 'resource_class'])
      .execute();
    await s.createTable('placement_consumer')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('consumer_type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await s.createIndex('placement_consumer_project').on('placement_consumer').columns(['project_id', 'user_id']).execute();
    await s.createTable('placement_allocation')
      .addColumn('consumer_uuid', 'text', (c) => c.notNull().references('placement_consumer.uuid').onDelete('cascade'))
      .addColumn('provider_uuid', 'text', (c) => c.notNull().references('placement_resource_provider.uuid'))
      .addColumn('resource_class', 'text', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('placement_allocation_pk', ['consumer_uuid', 'provider_uuid', 'resource_class'])
      .execute();
    await s.createIndex('placement_allocation_provider').on('placement_allocation').columns(['provider_uuid', 'resource_class']).execute();
    for (const table of ['placement_resource_class', 'placement_trait']) {
      await s.createTable(table)
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    }
    await s.createTable('placement_provider_trait')
      .addColumn('provider_uuid', 'text', (c) => c.notNull().references('placement_resource_provider.uuid').onDelete('cascade'))
      .addColumn('trait', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('placement_provider_trait_pk', ['provider_uuid', 'trait'])
      .execute();
    await s.createIndex('placement_provider_trait_trait').on('placement_provider_trait').column('trait').execute();
    await s.createTable('placement_provider_aggregate')
      .addColumn('provider_uuid', 'text', (c) => c.notNull().references('placement_resource_provider.uuid').onDelete('cascade'))
      .addColumn('aggregate_uuid', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('placement_provider_aggregate_pk', ['provider_uuid', 'aggregate_uuid'])
      .execute();
  },
};
