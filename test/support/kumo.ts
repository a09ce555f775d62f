/** A Kumo for tests: its own data dir and database, a controllable clock, inject() helpers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { testConfig } from '../../src/config.js';
import type { KumoConfig } from '../../src/config.js';
import { createSilentLogger } from '../../src/log.js';
import { startKumo } from '../../src/server.js';
import type { NetDriver } from '../../src/drivers/net/types.js';
import type { RunningKumo, StartOptions } from '../../src/server.js';
import { freshDatabase } from './db.js';
import type { TestDialect } from './db.js';

export interface TestKumo {
  kumo: RunningKumo;
  config: KumoConfig;
  /** Moves the test clock forward. */
  advance(ms: number): void;
  request(method: string, url: string, opts?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** A project-scoped token for the user (password method). */
  login(user: string, password: string, project?: string): Promise<string>;
  adminToken(): Promise<string>;
  /** A new project with a new user holding `member` in it, and that user's project-scoped token. */
  member(projectName: string, userName: string): Promise<{ token: string; projectId: string }>;
  close(): Promise<void>;
}

export async function startTestKumo(dialect: TestDialect, options: { tokenExpirationSeconds?: number; netDriver?: NetDriver; containerDrivers?: StartOptions['containerDrivers']; hypervisor?: StartOptions['hypervisor']; blockStorage?: StartOptions['blockStorage']; maxImageSizeBytes?: number } = {}): Promise<TestKumo> {
  const dir = mkdtempSync(join(tmpdir(), 'kumo-test-'));
  const db = await freshDatabase(dialect, dir);
  const config = testConfig({ dataDir: dir, database: db.config, tokenExpirationSeconds: options.tokenExpirationSeconds, maxImageSizeBytes: options.maxImageSizeBytes });
  let offset = 0;
  const kumo = await startKumo(config, createSilentLogger(), { listen: false, now: () => Date.now() + offset, netDriver: options.netDriver, containerDrivers: options.containerDrivers, hypervisor: options.hypervisor, blockStorage: options.blockStorage });
  await kumo.computeReady;
  const request: TestKumo['request'] = (method, url, opts = {}) =>
    kumo.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(opts.token ? { 'x-auth-token': opts.token } : {}),
        ...(opts.body !== undefined || opts.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.headers ?? {}),
      },
      payload: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    });
  const login = async (user: string, password: string, project = 'admin') => {
    const res = await request('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, password, domain: { id: 'default' } } } },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      },
    });
    if (res.statusCode !== 201) throw new Error(`login ${user} failed: ${res.statusCode} ${res.body}`);
    return String(res.headers['x-subject-token']);
  };
  let admin: string | undefined;
  return {
    kumo,
    config,
    advance: (ms) => { offset += ms; },
    request,
    login,
    adminToken: async () => (admin ??= await login('admin', kumo.adminPassword)),
    member: async (projectName, userName) => {
      const token = (admin ??= await login('admin', kumo.adminPassword));
      const V3 = '/identity/v3';
      const project = JSON.parse((await request('POST', `${V3}/projects`, { token, body: { project: { name: projectName } } })).body).project;
      const user = JSON.parse((await request('POST', `${V3}/users`, { token, body: { user: { name: userName, password: 'pw' } } })).body).user;
      const role = JSON.parse((await request('GET', `${V3}/roles?name=member`, { token })).body).roles[0];
      await request('PUT', `${V3}/projects/${project.id}/users/${user.id}/roles/${role.id}`, { token });
      return { token: await login(userName, 'pw', projectName), projectId: project.id as string };
    },
    close: async () => {
      await kumo.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

