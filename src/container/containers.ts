/**
 * Zun containers as desired state: the API validates, records what the user wants and which
 * ports the container has, and returns; the agent's container controller drives the host there
 * and writes status back. Actions are checked against Zun's state table first, so a refused
 * action changes nothing.
 * @module
 */
import type { Db } from '../store/database.js';
import {
  adoptWorkloadPort, changeWorkloadGroup, createWorkloadPort, defaultProjectNetwork, releaseWorkloadPorts, resolveNetworkRef, workloadAddresses,
} from '../network/workload-ports.js';
import type { WorkloadAddress } from '../network/workload-ports.js';
import { byIdOrName, checkAvailabilityZone, containerNotFound, zunLinks, invalid, markContainersChanged, zunError, zunTime } from './context.js';
import type { Caller, ContainerDeps } from './context.js';
import type { ContainerTable } from './schema.js';
import { glanceDockerImage } from './image-access.js';
import { checkContainerQuota } from './quotas.js';
import { addContainerVolumes, checkContainerMounts, mountsOf, parseMounts, releaseContainerVolumes } from './container-volumes.js';

export const ZUN_DEVICE_OWNER = 'compute:kuryr';

export interface RestartPolicy { Name: 'no' | 'always' | 'on-failure' | 'unless-stopped'; MaximumRetryCount: number }

export interface NetRequest { network?: string; port?: string; 'v4-fixed-ip'?: string; 'v6-fixed-ip'?: string; preserve_on_delete?: boolean }

/** What the agent needs to run the container, kept as one JSON document. */
export interface ContainerSpecRecord {
  command: string[] | null;
  entrypoint: string[] | null;
  environment: Record<string, string>;
  workdir: string | null;
  labels: Record<string, string>;
  hostname: string | null;
  restart_policy: RestartPolicy;
  auto_remove: boolean;
  interactive: boolean;
  tty: boolean;
  security_groups: string[];
  image_pull_policy: string | null;
  runtime: string;
  exposed_ports: Record<string, unknown>;
  /** image_driver glance: the Glance image (a docker save tar) the host imports. */
  glance_image_id?: string;
}

/** A port of a container; `shared`: its capsule's, which only the capsule's removal releases. */
export interface PortRecord { id: string; adopted: boolean; shared?: boolean }

export interface ContainerInput {
  name?: string | null;
  image?: string;
  command?: string[] | string | null;
  entrypoint?: string[] | null;
  cpu?: number | string | null;
  memory?: number | string | null;
  disk?: number | string | null;
  environment?: Record<string, string> | null;
  workdir?: string | null;
  labels?: Record<string, string> | null;
  hostname?: string | null;
  restart_policy?: { Name?: string; MaximumRetryCount?: number | string | null } | null;
  auto_remove?: boolean | null;
  interactive?: boolean | null;
  tty?: boolean | null;
  image_driver?: string | null;
  image_pull_policy?: string | null;
  security_groups?: string[] | null;
  nets?: NetRequest[] | null;
  runtime?: string | null;
  exposed_ports?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** Linux's limit for one argument string is 128 KiB; Zun has none, runc fails late. */
const MAX_COMMAND_BYTES = 128 * 1024;
export const DEFAULT_CPU = 1;
export const DEFAULT_MEMORY_MIB = 2048;
export const MAX_CPU = 64;
const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGSTOP', 'SIGCONT'];

export const specOf = (row: ContainerTable): ContainerSpecRecord => JSON.parse(row.spec) as ContainerSpecRecord;
export const portsOf = (row: ContainerTable): PortRecord[] => JSON.parse(row.port_ids) as PortRecord[];

/** Zun's state table: which statuses allow which action. */
const VALID_STATES: Record<string, string[]> = {
  delete: ['Created', 'Error', 'Stopped', 'Deleted', 'Dead'],
  delete_after_stop: ['Running', 'Created', 'Error', 'Stopped', 'Deleted', 'Dead', 'Paused'],
  start: ['Created', 'Stopped', 'Error'],
  stop: ['Running'],
  reboot: ['Created', 'Running', 'Stopped', 'Error'],
  pause: ['Running'],
  unpause: ['Paused'],
  kill: ['Running'],
  execute: ['Running'],
  update: ['Created', 'Running', 'Stopped', 'Paused'],
  top: ['Running'],
  stats: ['Running'],
  logs: ['Created', 'Error', 'Paused', 'Running', 'Stopped', 'Unknown'],
  get_archive: ['Created', 'Paused', 'Running', 'Stopped'],
  put_archive: ['Created', 'Paused', 'Running', 'Stopped'],
  add_security_group: ['Created', 'Running', 'Stopped', 'Paused'],
  remove_security_group: ['Created', 'Running', 'Stopped', 'Paused'],
};

export function checkState(row: ContainerTable, action: string): void {
  if (!VALID_STATES[action].includes(row.status)) {
    throw zunError('ERR_CONFLICT', `Cannot ${action.replace(/_/g, ' ')} container ${row.uuid} in ${row.status} state.`);
  }
}

/** A container as Zun shows it; `addresses` and `mounts` when the caller fetched them already (a list). */
export async function renderContainer(
  deps: ContainerDeps, row: ContainerTable, baseUrl: string, addresses?: Record<string, WorkloadAddress[]>, mounts?: { type: 'volume'; source: string; destination: string }[],
) {
  const spec = specOf(row);
  return {
    uuid: row.uuid,
    links: zunLinks(baseUrl, 'containers', row.uuid),
    name: row.name,
    image: row.image,
    command: spec.command ?? [],
    status: row.status,
    status_reason: row.status_reason,
    status_detail: row.status_detail,
    task_state: row.task_state,
    cpu: row.cpu,
    memory: row.memory_mib === null ? null : String(row.memory_mib),
    environment: spec.environment,
    workdir: spec.workdir,
    ports: Object.keys(spec.exposed_ports).map((p) => Number(p.split('/')[0])).filter(Number.isFinite),
    hostname: spec.hostname,
    labels: spec.labels,
    addresses: addresses ?? await workloadAddresses(deps.network, portsOf(row).map((p) => p.id)),
    image_pull_policy: spec.image_pull_policy,
    host: row.host,
    restart_policy: spec.restart_policy,
    interactive: spec.interactive,
    tty: spec.tty,
    image_driver: row.image_driver,
    security_groups: spec.security_groups,
    auto_remove: spec.auto_remove,
    runtime: spec.runtime,
    disk: row.disk_gib ?? 0,
    auto_heal: false,
    privileged: false,
    healthcheck: {},
    cpu_policy: 'shared',
    registry_id: null,
    entrypoint: spec.entrypoint ?? [],
    // Not in Zun's view (it keeps them as volume mappings); shown so `appcontainer show` tells which volume is where.
    mounts: mounts ?? (await mountsOf(deps, [row.uuid])).get(row.uuid) ?? [],
    user_id: row.user_id,
    project_id: row.project_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export async function visibleContainers(db: Db, caller: Caller, allProjects: boolean): Promise<ContainerTable[]> {
  if (allProjects && !caller.isAdmin) throw zunError('ERR_FORBIDDEN', 'Policy doesn\'t allow container:get_all_all_projects to be performed.');
  // Containers being deleted stay visible (status Deleting) until their host has removed them, as in Zun.
  // A capsule's members are the capsule API's, as in Zun.
  let q = db.selectFrom('container_container').selectAll().where('capsule_id', 'is', null).orderBy('created_at');
  if (!allProjects) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

/** By UUID, or by name within the caller's project (Zun resolves names server-side). */
export async function getContainer(db: Db, caller: Caller, ident: string, allProjects = false): Promise<ContainerTable> {
  const scoped = (q: ReturnType<typeof base>) => (caller.isAdmin && allProjects ? q : q.where('project_id', '=', caller.projectId));
  const base = () => db.selectFrom('container_container').selectAll().where('capsule_id', 'is', null);
  return byIdOrName(ident, 'container', () => scoped(base().where('uuid', '=', ident)).executeTakeFirst(), () => scoped(base().where('name', '=', ident)).execute(), containerNotFound);
}

export function positiveNumber(field: string, value: number | string | null | undefined, max: number): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'number' ? value : /^[0-9]*(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > max) throw invalid(`Invalid input for field/attribute ${field}. Value: ${String(value)}. It must be a number greater than 0 and at most ${max}.`);
  return n;
}

export function memoryMib(value: number | string | null | undefined): number | null {
  if (value === undefined || value === null || value === '') return null;
  const text = String(value);
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(text);
  if (!m) throw invalid(`Invalid input for field/attribute memory. Value: ${text}. It must be a number of MiB (e.g. 512), optionally with a unit k, m or g.`);
  const n = Number(m[1]);
  const mib = m[2].toLowerCase() === 'g' ? n * 1024 : m[2].toLowerCase() === 'k' ? Math.ceil(n / 1024) : n;
  if (mib < 4) throw invalid(`Invalid input for field/attribute memory. Value: ${text}. It must be at least 4 MiB.`);
  return mib;
}

function restartPolicy(input: ContainerInput['restart_policy'], autoRemove: boolean): RestartPolicy {
  if (!input) return { Name: 'no', MaximumRetryCount: 0 };
  const name = input.Name;
  if (name !== 'no' && name !== 'always' && name !== 'on-failure' && name !== 'unless-stopped') {
    throw invalid(`Invalid input for field/attribute restart_policy. Value: ${String(name)}. Name must be one of no, always, on-failure, unless-stopped.`);
  }
  const count = Number(input.MaximumRetryCount ?? 0);
  if (!Number.isInteger(count) || count < 0) throw invalid(`Invalid input for field/attribute restart_policy. MaximumRetryCount must be a non-negative integer.`);
  if (count > 0 && name !== 'on-failure') throw invalid(`maximum retry count not valid with restart policy of ${name}.`);
  if (autoRemove && name !== 'no') throw invalid('Conflicting options: auto_remove with a restart policy other than no.');
  return { Name: name, MaximumRetryCount: count };
}

export function commandOf(value: ContainerInput['command']): string[] | null {
  if (value === undefined || value === null) return null;
  const list = typeof value === 'string' ? (value.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((t) => t.replace(/^["']|["']$/g, '')) : value;
  if (!Array.isArray(list) || list.some((a) => typeof a !== 'string')) throw invalid('Invalid input for field/attribute command: it must be a list of strings.');
  if (Buffer.byteLength(list.join(' ')) > MAX_COMMAND_BYTES) throw invalid(`Invalid input for field/attribute command: it is longer than ${MAX_COMMAND_BYTES} bytes.`);
  return list;
}

export interface CreateOptions { run: boolean; host: string | null; baseUrl: string }

export interface NetworkWish { networkId?: string; portId?: string; fixedIps: string[] }

/** Zun's `nets` (network by name or id, with fixed IPs, or a port), or the project's only network. */
export async function requestedNetworks(deps: ContainerDeps, caller: Caller, nets: readonly NetRequest[] | null | undefined): Promise<NetworkWish[]> {
  if (nets !== undefined && nets !== null && !Array.isArray(nets)) throw invalid('Invalid input for field/attribute nets: it must be a list.');
  const wanted: NetworkWish[] = [];
  for (const n of nets ?? []) {
    if (n.port) wanted.push({ portId: n.port, fixedIps: [] });
    else if (n.network) wanted.push({ networkId: (await resolveNetworkRef(deps.network, caller, n.network)).id, fixedIps: [n['v4-fixed-ip'], n['v6-fixed-ip']].filter((x): x is string => !!x) });
    else throw invalid('Invalid input for field/attribute nets: each entry needs a network or a port.');
  }
  if (!wanted.length) wanted.push({ networkId: (await defaultProjectNetwork(deps.network, { projectId: caller.projectId, isAdmin: false })).id, fixedIps: [] });
  return wanted;
}

/** The ports a workload asked for, made (or adopted) for `deviceId`; all or none. */
export async function workloadPortsFor(deps: ContainerDeps, caller: Caller, wanted: readonly NetworkWish[], deviceId: string, securityGroups: string[]): Promise<PortRecord[]> {
  const member = { projectId: caller.projectId, isAdmin: false };
  const ports: PortRecord[] = [];
  try {
    for (const w of wanted) {
      ports.push(w.portId
        ? { id: await adoptWorkloadPort(deps.network, member, w.portId, deviceId, ZUN_DEVICE_OWNER), adopted: true }
        : { id: await createWorkloadPort(deps.network, member, { networkId: w.networkId!, fixedIps: w.fixedIps, securityGroups, deviceId, deviceOwner: ZUN_DEVICE_OWNER }), adopted: false });
    }
  } catch (err) {
    await releaseWorkloadPorts(deps.network, ports);
    throw err;
  }
  return ports;
}

export async function createContainer(deps: ContainerDeps, caller: Caller, input: ContainerInput, options: CreateOptions): Promise<ContainerTable> {
  if (typeof input.image !== 'string' || input.image.length < 2) throw invalid("Invalid input for field/attribute image. A container needs an image (at least 2 characters).");
  const name = input.name ?? `zun-${deps.newId().slice(0, 8)}`;
  if (!NAME.test(name) || name.length > 255) throw invalid(`Invalid input for field/attribute name. Value: ${name}. It must match ${NAME.source}.`);
  const driver = input.image_driver ?? 'docker';
  if (driver !== 'docker' && driver !== 'glance') throw invalid(`Invalid input for field/attribute image_driver. Value: ${driver}. It must be docker or glance.`);
  // A Glance image is looked up now, so a missing or wrong one is refused before anything is made.
  const glanceImageId = driver === 'glance' ? await glanceDockerImage(deps, caller, input.image) : null;
  const cpu = positiveNumber('cpu', input.cpu, MAX_CPU) ?? DEFAULT_CPU;
  const memory = memoryMib(input.memory) ?? DEFAULT_MEMORY_MIB;
  const disk = positiveNumber('disk', input.disk, 1024);
  // A disk limit needs per-directory quotas under the overlay's upper dir (xfs with prjquota);
  // the hosts report disk_quota_supported false, and a limit that is not enforced is not given.
  if (disk !== null) throw zunError('ERR_VALIDATION', 'Disk limits are not supported on this host: its container storage has no per-directory quotas (disk_quota_supported is false).');
  const autoRemove = input.auto_remove === true;
  const spec: ContainerSpecRecord = {
    command: commandOf(input.command),
    entrypoint: input.entrypoint ?? null,
    environment: input.environment ?? {},
    workdir: input.workdir ?? null,
    labels: input.labels ?? {},
    hostname: input.hostname ?? null,
    restart_policy: restartPolicy(input.restart_policy, autoRemove),
    auto_remove: autoRemove,
    interactive: input.interactive === true,
    tty: input.tty ?? input.interactive === true,
    security_groups: [...new Set(input.security_groups ?? [])],
    image_pull_policy: input.image_pull_policy ?? null,
    runtime: input.runtime ?? deps.config.agent.containerRuntime,
    exposed_ports: input.exposed_ports ?? {},
    ...(glanceImageId ? { glance_image_id: glanceImageId } : {}),
  };
  checkAvailabilityZone(input.availability_zone);
  if (spec.runtime !== deps.config.agent.containerRuntime) throw invalid(`Invalid input for field/attribute runtime. Value: ${spec.runtime}. The runtimes here: ${deps.config.agent.containerRuntime}.`);
  for (const [k, v] of Object.entries(spec.environment)) if (typeof v !== 'string') throw invalid(`Invalid input for field/attribute environment: the value of ${k} must be a string.`);

  // Networks and volumes are resolved before anything is written, so a bad one changes nothing.
  const wanted = await requestedNetworks(deps, caller, input.nets);
  const mounts = await checkContainerMounts(deps, caller, parseMounts(input.mounts), options.host);

  const now = zunTime(deps.now());
  const row: ContainerTable = {
    uuid: deps.newId(), project_id: caller.projectId, user_id: caller.userId, name, image: input.image, image_driver: driver,
    spec: JSON.stringify(spec), cpu, memory_mib: memory, disk_gib: disk, host: options.host,
    desired: options.run ? 'running' : 'created', status: 'Creating', status_reason: null, status_detail: null, task_state: null,
    exit_code: null, restart_count: 0, port_ids: '[]', capsule_id: null, created_at: now, updated_at: now,
  };
  await deps.db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom('container_container').select('uuid').where('project_id', '=', caller.projectId).where('name', '=', name).executeTakeFirst();
    if (taken) throw zunError('ERR_CONFLICT', `A container with name ${name} already exists.`);
    await checkContainerQuota(trx, caller.projectId, { containers: 1, cpu, memory, disk: disk ?? 0 });
    // Inserted not yet visible to the agent (no host) until its ports exist.
    await trx.insertInto('container_container').values({ ...row, host: null }).execute();
  });
  let ports: PortRecord[];
  try {
    ports = await workloadPortsFor(deps, caller, wanted, row.uuid, spec.security_groups);
  } catch (err) {
    await deps.db.deleteFrom('container_container').where('uuid', '=', row.uuid).execute();
    throw err;
  }
  try {
    // Named volumes first: a volume taken meanwhile fails the create before any volume is made for it.
    await addContainerVolumes(deps, caller, row.uuid, name, [...mounts.filter((m) => m.kind === 'existing'), ...mounts.filter((m) => m.kind === 'new')]);
  } catch (err) {
    await releaseContainerVolumes(deps, undefined, row.uuid);
    await releaseWorkloadPorts(deps.network, ports);
    await deps.db.deleteFrom('container_container').where('uuid', '=', row.uuid).execute();
    throw err;
  }
  const final = { ...row, port_ids: JSON.stringify(ports) };
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable('container_container').set({ port_ids: final.port_ids, host: final.host }).where('uuid', '=', row.uuid).execute();
    await markContainersChanged(trx);
  });
  return final;
}


/** Moves a container's desired state (and the status users see meanwhile) in one write. */
export async function setDesired(deps: ContainerDeps, row: ContainerTable, patch: Partial<ContainerTable>): Promise<ContainerTable> {
  const next = { ...row, ...patch, updated_at: zunTime(deps.now()) };
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable('container_container').set(next).where('uuid', '=', row.uuid).execute();
    await markContainersChanged(trx);
  });
  return next;
}

export async function startContainer(deps: ContainerDeps, row: ContainerTable): Promise<ContainerTable> {
  checkState(row, 'start');
  return setDesired(deps, row, { desired: 'running', task_state: 'container_starting' });
}

export async function stopContainer(deps: ContainerDeps, row: ContainerTable, timeout: number): Promise<ContainerTable> {
  checkState(row, 'stop');
  return setDesired(deps, row, { desired: 'stopped', task_state: 'container_stopping', status_detail: `stop timeout ${timeout}` });
}

export async function rebootContainer(deps: ContainerDeps, row: ContainerTable, timeout: number): Promise<ContainerTable> {
  checkState(row, 'reboot');
  return setDesired(deps, row, { desired: 'running', status: 'Restarting', task_state: 'container_rebooting', status_detail: `stop timeout ${timeout}` });
}

export async function pauseContainer(deps: ContainerDeps, row: ContainerTable): Promise<ContainerTable> {
  checkState(row, 'pause');
  return setDesired(deps, row, { desired: 'paused', task_state: 'container_pausing' });
}

export async function unpauseContainer(deps: ContainerDeps, row: ContainerTable): Promise<ContainerTable> {
  checkState(row, 'unpause');
  return setDesired(deps, row, { desired: 'running', task_state: 'container_unpausing' });
}

export function checkSignal(signal: string | undefined): string {
  const s = (signal ?? 'SIGKILL').toUpperCase();
  const name = /^\d+$/.test(s) ? s : s.startsWith('SIG') ? s : `SIG${s}`;
  if (!/^\d+$/.test(name) && !SIGNALS.includes(name)) throw invalid(`Invalid input for field/attribute signal. Value: ${signal}. Use one of ${SIGNALS.join(', ')} or a number.`);
  return name;
}

export async function renameContainer(deps: ContainerDeps, row: ContainerTable, name: string): Promise<ContainerTable> {
  if (!NAME.test(name) || name.length > 255) throw invalid(`Invalid input for field/attribute name. Value: ${name}. It must match ${NAME.source}.`);
  if (name === row.name) throw zunError('ERR_CONFLICT', 'The new name for the container is the same as the old name.');
  const taken = await deps.db.selectFrom('container_container').select('uuid').where('project_id', '=', row.project_id).where('name', '=', name).executeTakeFirst();
  if (taken) throw zunError('ERR_CONFLICT', `A container with name ${name} already exists.`);
  return setDesired(deps, row, { name });
}

export async function updateContainer(deps: ContainerDeps, row: ContainerTable, patch: { cpu?: number | string; memory?: number | string; name?: string }): Promise<ContainerTable> {
  const unknown = Object.keys(patch).filter((k) => !['cpu', 'memory', 'name'].includes(k));
  if (unknown.length) throw invalid(`Invalid input: only cpu, memory and name can be updated, not ${unknown.join(', ')}.`);
  if (patch.name !== undefined) row = await renameContainer(deps, row, patch.name);
  if (patch.cpu === undefined && patch.memory === undefined) {
    if (patch.name === undefined) throw invalid('Please update at least one of cpu, memory or name.');
    return row;
  }
  checkState(row, 'update');
  const cpu = patch.cpu === undefined ? row.cpu : positiveNumber('cpu', patch.cpu, MAX_CPU);
  const memory = patch.memory === undefined ? row.memory_mib : memoryMib(patch.memory);
  await deps.db.transaction().execute(async (trx) => {
    await checkContainerQuota(trx, row.project_id, { containers: 0, cpu: (cpu ?? 0) - (row.cpu ?? 0), memory: (memory ?? 0) - (row.memory_mib ?? 0), disk: 0 });
  });
  return setDesired(deps, row, { cpu, memory_mib: memory });
}

/** Zun's delete: refused while running unless `force` (kill) or `stop` (stop first). */
export async function deleteContainer(deps: ContainerDeps, row: ContainerTable, opts: { force: boolean; stop: boolean }): Promise<void> {
  if (row.desired === 'deleted') return;
  if (!opts.force) checkState(row, opts.stop ? 'delete_after_stop' : 'delete');
  if (!row.host) {
    // Never reached a host: nothing to undo there.
    await releaseContainerVolumes(deps, undefined, row.uuid);
    await releaseWorkloadPorts(deps.network, portsOf(row));
    await deps.db.deleteFrom('container_container').where('uuid', '=', row.uuid).execute();
    return;
  }
  await setDesired(deps, row, { desired: 'deleted', status: 'Deleting', task_state: 'container_deleting', status_detail: opts.stop ? 'stop first' : null });
}

const asMember = (row: ContainerTable) => ({ projectId: row.project_id, isAdmin: false });

/** Zun's network_attach: a new port on `network` (or the given port), plugged into the running container by the agent. */
export async function attachNetwork(deps: ContainerDeps, row: ContainerTable, opts: { network?: string; port?: string; fixedIp?: string }): Promise<ContainerTable> {
  checkState(row, 'update');
  if (!opts.network && !opts.port) throw invalid('network_attach needs a network or a port.');
  const ports = portsOf(row);
  let added: PortRecord;
  if (opts.port) {
    added = { id: await adoptWorkloadPort(deps.network, asMember(row), opts.port, row.uuid, ZUN_DEVICE_OWNER), adopted: true };
  } else {
    const network = await resolveNetworkRef(deps.network, asMember(row), opts.network!);
    const current = await workloadAddresses(deps.network, ports.map((p) => p.id));
    if (current[network.id]) throw zunError('ERR_CONFLICT', `Container ${row.uuid} is already connected to network ${opts.network}.`);
    added = {
      id: await createWorkloadPort(deps.network, asMember(row), { networkId: network.id, fixedIps: opts.fixedIp ? [opts.fixedIp] : [], securityGroups: specOf(row).security_groups, deviceId: row.uuid, deviceOwner: ZUN_DEVICE_OWNER }),
      adopted: false,
    };
  }
  return setDesired(deps, row, { port_ids: JSON.stringify([...ports, added]) });
}

/** Zun's network_detach: the container's port(s) on `network`, or the given port, are released. */
export async function detachNetwork(deps: ContainerDeps, row: ContainerTable, opts: { network?: string; port?: string }): Promise<ContainerTable> {
  checkState(row, 'update');
  const ports = portsOf(row);
  let gone: PortRecord[];
  if (opts.port) gone = ports.filter((p) => p.id === opts.port);
  else if (opts.network) {
    const network = await resolveNetworkRef(deps.network, asMember(row), opts.network);
    const on = await workloadAddresses(deps.network, ports.map((p) => p.id));
    const portIds = new Set((on[network.id] ?? []).map((a) => a.port));
    gone = ports.filter((p) => portIds.has(p.id));
  } else throw invalid('network_detach needs a network or a port.');
  if (!gone.length) throw zunError('ERR_NOT_FOUND', `Container ${row.uuid} has no port ${opts.port ?? `on network ${opts.network}`}.`);
  await releaseWorkloadPorts(deps.network, gone);
  return setDesired(deps, row, { port_ids: JSON.stringify(ports.filter((p) => !gone.includes(p))) });
}

/** Zun's add/remove_security_group: on every port of the container, enforced by the network agent. */
export async function changeSecurityGroup(deps: ContainerDeps, row: ContainerTable, name: string | undefined, add: boolean): Promise<ContainerTable> {
  checkState(row, add ? 'add_security_group' : 'remove_security_group');
  if (!name) throw invalid('A security group name is required: ?name=NAME.');
  await changeWorkloadGroup(deps.network, asMember(row), portsOf(row).map((p) => p.id), name, add);
  const spec = specOf(row);
  const groups = add ? [...new Set([...spec.security_groups, name])] : spec.security_groups.filter((g) => g !== name);
  return setDesired(deps, row, { spec: JSON.stringify({ ...spec, security_groups: groups }) });
}
