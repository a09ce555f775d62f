import type { Kysely } from 'kysely';

/** Glance's image import tasks (`GET /v2/images/{id}/tasks`, v2.12). */
export const imageTasksMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('image_task')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('image_id', 'text', (c) => c.notNull().references('image.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('input', 'text', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .execute();
    await db.schema.createIndex('image_task_image').on('image_task').column('image_id').execute();
  },
};
