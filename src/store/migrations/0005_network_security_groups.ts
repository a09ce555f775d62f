import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/** Neutron security groups and their rules. */
export const networkSecurityGroupsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('network_security_group')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('stateful', 'integer', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    // One `default` group per project, even when two first requests race to create it.
    await db.schema.createIndex('network_security_group_default').on('network_security_group').column('project_id').unique()
      .where(sql.ref('name'), '=', 'default').execute();
    await db.schema.createTable('network_security_group_rule')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('security_group_id', 'text', (c) => c.notNull().references('network_security_group.id').onDelete('cascade'))
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('ethertype', 'text', (c) => c.notNull())
      .addColumn('protocol', 'text')
      .addColumn('port_range_min', 'integer')
      .addColumn('port_range_max', 'integer')
      .addColumn('remote_ip_prefix', 'text')
      .addColumn('remote_group_id', 'text')
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('network_security_group_rule_group').on('network_security_group_rule').column('security_group_id').execute();
  },
};
