import type { Kysely } from 'kysely';

/** Neutron ports; their addresses live in network_ip_allocation (owner = port id). */
export const networkPortsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('network_port')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('network_id', 'text', (c) => c.notNull().references('network_network.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('mac_address', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('device_owner', 'text', (c) => c.notNull())
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('vif_type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
      .addColumn('allowed_address_pairs', 'text', (c) => c.notNull())
      .addColumn('security_groups', 'text', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .addUniqueConstraint('network_port_mac', ['network_id', 'mac_address'])
      .execute();
    await db.schema.createIndex('network_port_device').on('network_port').column('device_id').execute();
    await db.schema.createIndex('network_ip_allocation_owner').on('network_ip_allocation').column('owner').execute();
  },
};
