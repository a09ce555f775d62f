import type { Kysely } from 'kysely';

/** A port's binding:profile (JSON), which says how the agent plugs it; and a lookup by host for agents. */
export const networkPortBindingMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('network_port').addColumn('binding_profile', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    await db.schema.createIndex('network_port_host').on('network_port').column('host_id').execute();
  },
};
