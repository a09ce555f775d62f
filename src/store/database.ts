/**
 * The one query layer: a Kysely instance over better-sqlite3 (embedded default) or pg.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import type { DatabaseConfig } from '../config.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type DialectKind = DatabaseConfig['kind'];

export interface OpenedDatabase {
  readonly db: Db;
  readonly kind: DialectKind;
}

export async function openDatabase(config: DatabaseConfig): Promise<OpenedDatabase> {
  if (config.kind === 'sqlite') {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const database = new SqliteDatabase(config.path);
    // WAL lets readers (other processes: `kumo identity rotate-keys`, backups) proceed during writes;
    // busy_timeout makes a concurrent writer wait instead of failing with SQLITE_BUSY.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) }), kind: 'sqlite' };
  }
  // Loaded only when used: the embedded default should not pay for importing the pg driver.
  const { default: pg } = await import('pg');
  // int8 (COUNT, bigint revisions) as JS numbers: our counters stay far below 2^53.
  pg.types.setTypeParser(20, (v: string) => Number(v));
  const pool = new pg.Pool({ connectionString: config.url, max: 10 });
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'postgres' };
}

/** True when `err` is a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return !!e && (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === '23505');
}

/** The part of better-sqlite3 that Kysely's SqliteDialect calls. */
interface SqliteHandle {
  close(): unknown;
  prepare(sql: string): SqliteDatabase.Statement;
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query afresh; preparing was about a third of the CPU of a token
 * validation. Statements are reused per SQL text (better-sqlite3 runs them synchronously, so
 * one statement is never in use twice at once); the least recently used are dropped.
 */
function withStatementCache(database: SqliteDatabase.Database): SqliteHandle {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) cache.delete(sql);
      else {
        statement = database.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
