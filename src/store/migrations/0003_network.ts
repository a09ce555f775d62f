import type { Kysely } from 'kysely';

/** Neutron: networks, subnets and the IP allocations IPAM hands out. */
export const networkMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const s = db.schema;
    await s.createTable('network_network')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('shared', 'integer', (c) => c.notNull())
      .addColumn('external', 'integer', (c) => c.notNull())
      .addColumn('mtu', 'integer', (c) => c.notNull())
      .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
      .addColumn('network_type', 'text', (c) => c.notNull())
      .addColumn('physical_network', 'text')
      .addColumn('segmentation_id', 'integer', (c) => c.unique())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    await s.createIndex('network_network_project').on('network_network').column('project_id').execute();
    await s.createTable('network_subnet')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('network_id', 'text', (c) => c.notNull().references('network_network.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('ip_version', 'integer', (c) => c.notNull())
      .addColumn('cidr', 'text', (c) => c.notNull())
      .addColumn('gateway_ip', 'text')
      .addColumn('enable_dhcp', 'integer', (c) => c.notNull())
      .addColumn('allocation_pools', 'text', (c) => c.notNull())
      .addColumn('dns_nameservers', 'text', (c) => c.notNull())
      .addColumn('host_routes', 'text', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('ipv6_ra_mode', 'text')
      .addColumn('ipv6_address_mode', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    await s.createIndex('network_subnet_network').on('network_subnet').column('network_id').execute();
    await s.createTable('network_ip_allocation')
      .addColumn('subnet_id', 'text', (c) => c.notNull().references('network_subnet.id').onDelete('cascade'))
      .addColumn('ip_address', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('network_ip_allocation_pk', ['subnet_id', 'ip_address'])
      .execute();
  },
};
