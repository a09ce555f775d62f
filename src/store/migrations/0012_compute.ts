import type { Kysely } from 'kysely';

/** Nova: flavors, keypairs, servers (desired and observed state), their metadata, tags, actions, server groups, quotas. */
export const computeMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('compute_flavor')
      .addColumn('flavorid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('root_gb', 'integer', (c) => c.notNull())
      .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
      .addColumn('swap_mb', 'integer', (c) => c.notNull())
      .addColumn('rxtx_factor', 'real', (c) => c.notNull())
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createTable('compute_flavor_extra_spec')
      .addColumn('flavorid', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_flavor_extra_spec_pk', ['flavorid', 'key'])
      .execute();
    await db.schema.createTable('compute_flavor_access')
      .addColumn('flavorid', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_flavor_access_pk', ['flavorid', 'project_id'])
      .execute();
    await db.schema.createTable('compute_keypair')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_keypair_pk', ['user_id', 'name'])
      .execute();
    await db.schema.createTable('compute_instance')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('hostname', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('host', 'text')
      .addColumn('image_id', 'text')
      .addColumn('flavor', 'text', (c) => c.notNull())
      .addColumn('key_name', 'text')
      .addColumn('key_data', 'text')
      .addColumn('user_data', 'text')
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('availability_zone', 'text')
      .addColumn('desired', 'text', (c) => c.notNull())
      .addColumn('pending_action', 'text')
      .addColumn('vm_state', 'text', (c) => c.notNull())
      .addColumn('task_state', 'text')
      .addColumn('power_state', 'integer', (c) => c.notNull())
      .addColumn('locked', 'integer', (c) => c.notNull())
      .addColumn('locked_reason', 'text')
      .addColumn('fault', 'text')
      .addColumn('port_ids', 'text', (c) => c.notNull())
      .addColumn('access_ipv4', 'text')
      .addColumn('access_ipv6', 'text')
      .addColumn('launched_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('compute_instance_project').on('compute_instance').columns(['project_id', 'created_at']).execute();
    await db.schema.createIndex('compute_instance_host').on('compute_instance').column('host').execute();
    await db.schema.createTable('compute_instance_metadata')
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_instance_metadata_pk', ['instance_id', 'key'])
      .execute();
    await db.schema.createTable('compute_instance_tag')
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_instance_tag_pk', ['instance_id', 'tag'])
      .execute();
    await db.schema.createTable('compute_instance_action')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('start_time', 'text', (c) => c.notNull())
      .addColumn('finish_time', 'text')
      .addColumn('message', 'text')
      .execute();
    await db.schema.createIndex('compute_instance_action_instance').on('compute_instance_action').columns(['instance_id', 'start_time']).execute();
    await db.schema.createTable('compute_instance_action_event')
      .addColumn('action_id', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('start_time', 'text', (c) => c.notNull())
      .addColumn('finish_time', 'text')
      .addColumn('result', 'text')
      .addColumn('host', 'text')
      .addColumn('details', 'text')
      .execute();
    await db.schema.createIndex('compute_instance_action_event_action').on('compute_instance_action_event').column('action_id').execute();
    await db.schema.createTable('compute_server_group')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('rules', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createTable('compute_server_group_member')
      .addColumn('group_id', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_server_group_member_pk', ['group_id', 'instance_id'])
      .execute();
    await db.schema.createTable('compute_quota')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('compute_quota_pk', ['project_id', 'resource'])
      .execute();
    // The flavors devstack makes, so a new cloud can boot a server at once; admins may delete them.
    const created = new Date().toISOString();
    const flavors: [string, string, number, number, number][] = [
      ['1', 'm1.tiny', 1, 512, 1], ['2', 'm1.small', 1, 2048, 20], ['3', 'm1.medium', 2, 4096, 40], ['4', 'm1.large', 4, 8192, 80],
      ['5', 'm1.xlarge', 8, 16384, 160], ['42', 'm1.nano', 1, 128, 1], ['84', 'm1.micro', 1, 192, 1],
    ];
    await (db as Kysely<Record<string, Record<string, unknown>>>).insertInto('compute_flavor').values(flavors.map(([flavorid, name, vcpus, memory_mb, root_gb]) => ({
      flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb: 0, swap_mb: 0, rxtx_factor: 1, is_public: 1, disabled: 0, description: null, created_at: created,
    }))).execute();
  },
};
