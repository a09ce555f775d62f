/**
 * Store-wide change counters. A writer bumps the counter in the same transaction as its
 * change; a reader that caches derived data (token validations) compares the counter before
 * it trusts the cache, which stays correct with several API replicas on one PostgreSQL.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function bumpRevision(db: Kysely<Database>, name: string): Promise<void> {
  await db
    .insertInto('kumo_revision')
    .values({ name, value: 1 })
    .onConflict((oc) => oc.column('name').doUpdateSet({ value: sql`kumo_revision.value + 1` }))
    .execute();
}

export async function readRevision(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db.selectFrom('kumo_revision').select('value').where('name', '=', name).executeTakeFirst();
  return row ? Number(row.value) : 0;
}

/**
 * In-process news that a revision may have moved, so a local agent reacts at once instead of
 * at its next poll. Only a hint: agents on other hosts (and this one, as a fallback) poll.
 */
export class ChangeSignal {
  private readonly listeners = new Set<() => void>();
  notify(): void {
    for (const l of this.listeners) l();
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
