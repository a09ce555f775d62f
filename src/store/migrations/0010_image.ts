import type { Kysely } from 'kysely';

/** Glance images, their extra properties, tags and members. */
export const imageMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('image')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('protected', 'integer', (c) => c.notNull())
      .addColumn('os_hidden', 'integer', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('size', 'bigint')
      .addColumn('virtual_size', 'bigint')
      .addColumn('checksum', 'text')
      .addColumn('os_hash_algo', 'text')
      .addColumn('os_hash_value', 'text')
      .addColumn('disk_format', 'text')
      .addColumn('container_format', 'text')
      .addColumn('min_ram', 'integer', (c) => c.notNull())
      .addColumn('min_disk', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('image_owner').on('image').column('owner').execute();
    await db.schema.createIndex('image_visibility').on('image').column('visibility').execute();
    await db.schema.createTable('image_property')
      .addColumn('image_id', 'text', (c) => c.notNull().references('image.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_property_pk', ['image_id', 'name'])
      .execute();
    await db.schema.createTable('image_tag')
      .addColumn('image_id', 'text', (c) => c.notNull().references('image.id').onDelete('cascade'))
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_tag_pk', ['image_id', 'value'])
      .execute();
    await db.schema.createTable('image_member')
      .addColumn('image_id', 'text', (c) => c.notNull().references('image.id').onDelete('cascade'))
      .addColumn('member', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_member_pk', ['image_id', 'member'])
      .execute();
    await db.schema.createIndex('image_member_member').on('image_member').columns(['member', 'status']).execute();
  },
};
