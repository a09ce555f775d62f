import type { Kysely } from 'kysely';

/** Neutron routers, floating IPs and per-project quota overrides. */
export const networkRoutersMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('network_router')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('gw_network_id', 'text')
      .addColumn('gw_port_id', 'text')
      .addColumn('enable_snat', 'integer', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createTable('network_floating_ip')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('floating_network_id', 'text', (c) => c.notNull())
      .addColumn('floating_ip_address', 'text', (c) => c.notNull())
      .addColumn('floating_port_id', 'text', (c) => c.notNull())
      .addColumn('port_id', 'text')
      .addColumn('fixed_ip_address', 'text')
      .addColumn('router_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    // One floating IP per fixed address of a port.
    await db.schema.createIndex('network_floating_ip_fixed').on('network_floating_ip').columns(['port_id', 'fixed_ip_address']).unique().execute();
    await db.schema.createTable('network_quota')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('network_quota_pk', ['project_id', 'resource'])
      .execute();
  },
};
