import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  attachNetwork, changeSecurityGroup, detachNetwork, portsOf,
  checkSignal, checkState, createContainer, deleteContainer, getContainer, pauseContainer, rebootContainer, renameContainer, renderContainer,
  startContainer, stopContainer, unpauseContainer, updateContainer, visibleContainers,
} from '../containers.js';
import type { ContainerInput } from '../containers.js';
import { workloadAddressesOfMany } from '../../network/workload-ports.js';
import { invalid, markContainersChanged, zunError } from '../context.js';
import type { ContainerDeps } from '../context.js';
import type { HostRuntimeAccess } from '../host-access.js';
import type { ContainerTable } from '../schema.js';
import { mountsOf } from '../container-volumes.js';
import { workloadNetworks } from '../../network/workload-ports.js';
import { boolParam, caller, identOf, nonNegativeInt, query } from './common.js';
import type { ContainerRouteEnv } from './common.js';

const StringMap = Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]);
const CreateBody = Type.Object({
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  image: Type.String(),
  command: Type.Optional(Type.Union([Type.Array(Type.String()), Type.String(), Type.Null()])),
  entrypoint: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
  cpu: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Null()])),
  memory: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()])),
  disk: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()])),
  environment: Type.Optional(StringMap),
  labels: Type.Optional(StringMap),
  workdir: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  hostname: Type.Optional(Type.Union([Type.String({ minLength: 2, maxLength: 63 }), Type.Null()])),
  restart_policy: Type.Optional(Type.Union([Type.Object({ Name: Type.String(), MaximumRetryCount: Type.Optional(Type.Union([Type.Integer(), Type.String(), Type.Null()])) }), Type.Null()])),
  auto_remove: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  interactive: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  tty: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  security_groups: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
  nets: Type.Optional(Type.Union([Type.Array(Type.Object({
    network: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    port: Type.Optional(Type.String()),
    'v4-fixed-ip': Type.Optional(Type.String()),
    'v6-fixed-ip': Type.Optional(Type.String()),
    preserve_on_delete: Type.Optional(Type.Boolean()),
  })), Type.Null()])),
}, { additionalProperties: true });

const UpdateBody = Type.Object({
  cpu: Type.Optional(Type.Union([Type.Number(), Type.String()])),
  memory: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  name: Type.Optional(Type.String()),
}, { additionalProperties: true });

/** Splits the shell-quoted tokens zunclient puts in `?command=`. */
export function commandTokens(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  return out;
}

export function registerContainerRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;
  const render = (row: ContainerTable) => renderContainer(deps, row, env.base);
  const load = (request: Parameters<typeof caller>[0]) => getContainer(deps.db, caller(request), identOf(request), boolParam('all_projects', query(request).all_projects, false));
  const live = (row: ContainerTable): { hosts: HostRuntimeAccess; host: string } => {
    if (!deps.hosts || !row.host) throw zunError('ERR_CONFLICT', `Container ${row.uuid} is not on a host this API can reach (no agent runs here).`);
    return { hosts: deps.hosts, host: row.host };
  };

  app.post('/v1/containers', { schema: { body: CreateBody } }, async (request, reply) => {
    const run = boolParam('run', query(request).run, false);
    const row = await createContainer(deps, caller(request), request.body as ContainerInput, { run, host: hostFor(deps), baseUrl: env.base });
    return reply.status(202).header('Location', `${env.base}/v1/containers/${row.uuid}`).send(await render(row));
  });
  app.get('/v1/containers', async (request) => {
    const q = query(request);
    let rows = await visibleContainers(deps.db, caller(request), boolParam('all_projects', q.all_projects, false));
    for (const key of ['name', 'image', 'status', 'host', 'project_id', 'user_id'] as const) {
      if (q[key] !== undefined) rows = rows.filter((r) => String(r[key]) === q[key]);
    }
    if (q.marker) rows = rows.slice(rows.findIndex((r) => r.uuid === q.marker) + 1);
    const limit = nonNegativeInt('limit', q.limit, 0);
    const page = limit ? rows.slice(0, limit) : rows;
    const next = limit && rows.length > limit ? `${env.base}/v1/containers?limit=${limit}&marker=${page[page.length - 1].uuid}` : null;
    const addresses = await workloadAddressesOfMany(deps.network, page.map((r) => portsOf(r).map((p) => p.id)));
    const mounts = await mountsOf(deps, page.map((r) => r.uuid));
    return { containers: await Promise.all(page.map((r, i) => renderContainer(deps, r, env.base, addresses[i], mounts.get(r.uuid)))), next };
  });
  app.get('/v1/containers/:ident', async (request) => render(await load(request)));
  app.patch('/v1/containers/:ident', { schema: { body: UpdateBody } }, async (request) =>
    render(await updateContainer(deps, await load(request), request.body as { cpu?: number; memory?: number; name?: string })));
  app.delete('/v1/containers/:ident', async (request, reply) => {
    const q = query(request);
    await deleteContainer(deps, await load(request), { force: boolParam('force', q.force, false), stop: boolParam('stop', q.stop, false) });
    return reply.status(204).send();
  });

  const action = (name: string, act: (row: ContainerTable, q: Record<string, string | undefined>) => Promise<unknown>) => {
    app.post(`/v1/containers/:ident/${name}`, async (request, reply) => {
      await act(await load(request), query(request));
      return reply.status(202).send();
    });
  };
  action('start', (row) => startContainer(deps, row));
  action('stop', (row, q) => stopContainer(deps, row, nonNegativeInt('timeout', q.timeout, 10)));
  action('reboot', (row, q) => rebootContainer(deps, row, nonNegativeInt('timeout', q.timeout, 10)));
  action('pause', (row) => pauseContainer(deps, row));
  action('unpause', (row) => unpauseContainer(deps, row));
  action('rename', (row, q) => {
    if (!q.name) throw invalid('A new name is required: ?name=NAME.');
    return renameContainer(deps, row, q.name);
  });
  action('kill', async (row, q) => {
    checkState(row, 'kill');
    const signal = checkSignal(q.signal);
    const { hosts, host } = live(row);
    await hosts.kill(host, row.uuid, signal);
    // What the signal did is observed by the agent on its next pass.
    await markContainersChanged(deps.db);
  });

  action('network_attach', (row, q) => attachNetwork(deps, row, { network: q.network, port: q.port, fixedIp: q.fixed_ip }));
  action('network_detach', (row, q) => detachNetwork(deps, row, { network: q.network, port: q.port }));
  action('add_security_group', (row, q) => changeSecurityGroup(deps, row, q.name, true));
  action('remove_security_group', (row, q) => changeSecurityGroup(deps, row, q.name, false));
  app.get('/v1/containers/:ident/network_list', async (request) => ({ networks: await workloadNetworks(deps.network, portsOf(await load(request)).map((p) => p.id)) }));

  app.get('/v1/containers/:ident/logs', async (request, reply) => {
    const row = await load(request);
    checkState(row, 'logs');
    const q = query(request);
    let stdout = boolParam('stdout', q.stdout, true);
    let stderr = boolParam('stderr', q.stderr, true);
    if (!stdout && !stderr) stdout = stderr = true;
    const tail = q.tail === undefined || q.tail === 'all' || q.tail === '' ? null : nonNegativeInt('tail', q.tail, 0);
    const since = q.since ? (/^\d+$/.test(q.since) ? new Date(Number(q.since) * 1000).toISOString() : q.since) : null;
    const { hosts, host } = live(row);
    const text = await hosts.logs(host, row.uuid, { stdout, stderr, tail, since, timestamps: boolParam('timestamps', q.timestamps, false) });
    // zunclient prints None unless the body is JSON: the logs are a JSON string.
    return reply.type('application/json').send(JSON.stringify(text));
  });
  app.post('/v1/containers/:ident/execute', async (request) => {
    const row = await load(request);
    const q = query(request);
    if (!q.command) throw invalid('A command is required: ?command=...');
    checkState(row, 'execute');
    const { hosts, host } = live(row);
    if (boolParam('interactive', q.interactive, false)) {
      // The process starts when the client connects to the websocket (see exec-sessions.ts).
      const { execId, token } = env.execs.create(row.uuid, host, commandTokens(q.command));
      const proxyUrl = `${env.base.replace(/^http/, 'ws')}/v1/exec/${execId}?token=${token}`;
      return { output: null, exit_code: null, exec_id: execId, token, proxy_url: proxyUrl };
    }
    const result = await hosts.exec(host, row.uuid, commandTokens(q.command));
    return { output: result.output, exit_code: result.exitCode, exec_id: null, proxy_url: null };
  });
  app.get('/v1/containers/:ident/top', async (request) => {
    const row = await load(request);
    checkState(row, 'top');
    const { hosts, host } = live(row);
    const top = await hosts.top(host, row.uuid);
    return { Titles: top.titles, Processes: top.processes };
  });
  app.get('/v1/containers/:ident/stats', async (request) => {
    const row = await load(request);
    checkState(row, 'stats');
    const { hosts, host } = live(row);
    const s = await hosts.stats(host, row.uuid);
    const mib = (b: number | null) => (b === null ? null : Math.round((b / 1048576) * 100) / 100);
    return {
      'CPU %': null, 'CPU time (ns)': s.cpuNanos, 'MEM USAGE(MiB)': mib(s.memoryBytes), 'MEM LIMIT(MiB)': mib(s.memoryLimitBytes),
      'MEM %': s.memoryLimitBytes ? Math.round((s.memoryBytes / s.memoryLimitBytes) * 10000) / 100 : null, PIDS: s.pids,
    };
  });
  app.get('/v1/containers/:ident/get_archive', async (request) => {
    const row = await load(request);
    checkState(row, 'get_archive');
    const path = query(request).path;
    if (!path) throw invalid('A path is required: ?path=/...');
    const { hosts, host } = live(row);
    const tar = await hosts.getArchive(host, row.uuid, path);
    return { data: tar.toString('base64'), stat: { name: path.split('/').filter(Boolean).pop() ?? '/', size: tar.length } };
  });
  app.post('/v1/containers/:ident/put_archive', async (request, reply) => {
    const row = await load(request);
    checkState(row, 'put_archive');
    const path = query(request).path;
    const data = (request.body as { data?: unknown } | undefined)?.data;
    if (!path) throw invalid('A path is required: ?path=/...');
    if (typeof data !== 'string') throw invalid('The body needs data: a base64-encoded tar archive.');
    const { hosts, host } = live(row);
    await hosts.putArchive(host, row.uuid, path, Buffer.from(data, 'base64'));
    return reply.status(200).send();
  });
}

/** Where new containers go: the local agent's host, or none (they wait in Creating) without an agent. */
export function hostFor(deps: ContainerDeps): string | null {
  return deps.hosts ? deps.config.agent.host : null;
}
