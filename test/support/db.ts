/**
 * The dialects store and API tests run on. `KUMO_TEST_DIALECTS=sqlite,postgres` (the test
 * script sets it, with `KUMO_TEST_POSTGRES_URL` pointing at a server it started) runs every
 * suite on both; each test gets a database of its own.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config.js';

export type TestDialect = 'sqlite' | 'postgres';

export const DIALECTS: TestDialect[] = (process.env.KUMO_TEST_DIALECTS ?? 'sqlite')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is TestDialect => s === 'sqlite' || s === 'postgres');

/** A fresh, empty database for one test; `drop` removes it. */
export async function freshDatabase(dialect: TestDialect, dir: string): Promise<{ config: DatabaseConfig; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') return { config: { kind: 'sqlite', path: `${dir}/kumo.db` }, drop: async () => {} };
  const adminUrl = process.env.KUMO_TEST_POSTGRES_URL;
  if (!adminUrl) throw new Error('KUMO_TEST_DIALECTS includes postgres but KUMO_TEST_POSTGRES_URL is not set');
  const name = `kumo_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    config: { kind: 'postgres', url: url.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      // pg's Pool.end() resolves before its connections have finished closing; a forced drop
      // would kill them mid-close and their error would surface in whatever test runs next.
      for (let i = 0; i < 100; i++) {
        const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
