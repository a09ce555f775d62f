/**
 * Zun capsules: Kubernetes-style pods. A capsule is a row of its own plus one container row per
 * member (`capsule_id` set); the members share the capsule's network namespace and its Neutron
 * port, so they reach each other on localhost and are reached at one address. Init containers
 * run first, one after another, and must exit 0 before the others start. The container API does
 * not show members (as in Zun); their status makes the capsule's.
 * @module
 */
import type { Db } from '../store/database.js';
import { releaseWorkloadPorts, workloadAddresses } from '../network/workload-ports.js';
import { byIdOrName, checkAvailabilityZone, invalid, zunLinks, markContainersChanged, zunError, zunTime } from './context.js';
import type { Caller, ContainerDeps } from './context.js';
import {
  commandOf, DEFAULT_CPU, DEFAULT_MEMORY_MIB, MAX_CPU, memoryMib, NAME, positiveNumber, renderContainer, requestedNetworks, workloadPortsFor,
} from './containers.js';
import type { ContainerSpecRecord, NetRequest, PortRecord, RestartPolicy } from './containers.js';
import { checkContainerQuota } from './quotas.js';
import type { CapsuleTable, ContainerTable } from './schema.js';

/** What a capsule keeps besides its members. */
export interface CapsuleSpecRecord {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  restart_policy: RestartPolicy;
}

/** A member's place in its capsule: init containers run to completion, in order, before the rest start. */
export interface CapsuleMemberRecord {
  role: 'init' | 'main';
  /** Position among the init containers (0 for main ones). */
  order: number;
}

/** Kubernetes' restart policies, as Zun maps them onto its own. */
const RESTART_POLICIES: Record<string, RestartPolicy['Name']> = { always: 'always', onfailure: 'on-failure', never: 'no' };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(field: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw invalid(`Invalid capsule template: ${field} must be a mapping.`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid(`Invalid capsule template: ${field}.${k} must be a string.`);
    out[k] = String(v);
  }
  return out;
}

function stringList(field: string, value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string')) throw invalid(`Invalid capsule template: ${field} must be a list of strings.`);
  return commandOf(value as string[]);
}

function commandAndArgs(where: string, command: unknown, args: unknown): string[] | null {
  const c = stringList(`${where}.command`, command);
  const a = stringList(`${where}.args`, args);
  return c || a ? commandOf([...(c ?? []), ...(a ?? [])]) : null;
}

interface ParsedMember {
  readonly name: string | null;
  readonly image: string;
  readonly spec: ContainerSpecRecord;
  readonly cpu: number;
  readonly memoryMib: number;
  readonly member: CapsuleMemberRecord;
}

export interface ParsedCapsule {
  readonly name: string | null;
  /** Zun's `nets` at the template's top level, as for a container. */
  readonly nets: NetRequest[] | null;
  readonly spec: CapsuleSpecRecord;
  readonly members: readonly ParsedMember[];
}

function parseMember(raw: unknown, where: string, member: CapsuleMemberRecord, restart: RestartPolicy, labels: Record<string, string>, runtime: string): ParsedMember {
  if (!isObject(raw)) throw invalid(`Invalid capsule template: ${where} must be a mapping.`);
  if (typeof raw.image !== 'string' || raw.image.length < 2) throw invalid(`Invalid capsule template: ${where}.image is required (at least 2 characters).`);
  const name = raw.name === undefined || raw.name === null ? null : String(raw.name);
  if (name !== null && (!NAME.test(name) || name.length > 63)) throw invalid(`Invalid capsule template: ${where}.name ${JSON.stringify(name)} must match ${NAME.source}.`);
  const resources = raw.resources === undefined || raw.resources === null ? {} : raw.resources;
  if (!isObject(resources)) throw invalid(`Invalid capsule template: ${where}.resources must be a mapping.`);
  // Zun reads `requests`; `limits` is accepted where requests say nothing, and the two flat keys as older templates wrote them.
  const pick = (key: 'cpu' | 'memory') => [resources.requests, resources.limits, resources].map((r) => (isObject(r) ? r[key] : undefined)).find((v) => v !== undefined && v !== null);
  const cpu = positiveNumber(`${where}.resources.cpu`, pick('cpu') as number | string | undefined, MAX_CPU) ?? DEFAULT_CPU;
  const memory = memoryMib(pick('memory') as number | string | undefined) ?? DEFAULT_MEMORY_MIB;
  const ports: Record<string, unknown> = {};
  for (const [i, p] of (Array.isArray(raw.ports) ? raw.ports : raw.ports === undefined ? [] : [null]).entries()) {
    const port = isObject(p) ? Number(p.containerPort) : NaN;
    const protocol = isObject(p) && typeof p.protocol === 'string' ? p.protocol.toLowerCase() : 'tcp';
    if (!Number.isInteger(port) || port < 1 || port > 65535 || (protocol !== 'tcp' && protocol !== 'udp')) {
      throw invalid(`Invalid capsule template: ${where}.ports[${i}] needs a containerPort 1-65535 and protocol TCP or UDP.`);
    }
    ports[`${port}/${protocol}`] = {};
  }
  for (const [i, m] of (Array.isArray(raw.volumeMounts) ? raw.volumeMounts : raw.volumeMounts === undefined ? [] : [null]).entries()) {
    if (!isObject(m) || typeof m.name !== 'string' || typeof m.mountPath !== 'string' || !m.mountPath.startsWith('/')) {
      throw invalid(`Invalid capsule template: ${where}.volumeMounts[${i}] needs a name and an absolute mountPath.`);
    }
    // spec.volumes is refused whole (below), so no mount can name one of its volumes.
    throw invalid(`Invalid capsule template: ${where}.volumeMounts[${i}] names volume ${m.name}, which spec.volumes does not define.`);
  }
  const workDir = raw.workDir ?? raw.workdir;
  if (workDir !== undefined && workDir !== null && typeof workDir !== 'string') throw invalid(`Invalid capsule template: ${where}.workDir must be a string.`);
  return {
    name,
    image: raw.image,
    cpu,
    memoryMib: memory,
    member,
    spec: {
      // As Zun does: command and args together replace the image's cmd; the entrypoint stays.
      entrypoint: null,
      command: commandAndArgs(where, raw.command, raw.args),
      environment: stringMap(`${where}.env`, raw.env),
      workdir: (workDir as string | undefined) ?? null,
      labels,
      hostname: null,
      // An init container runs once; a failed one fails the capsule.
      restart_policy: member.role === 'init' ? { Name: 'no', MaximumRetryCount: 0 } : restart,
      auto_remove: false,
      interactive: raw.stdin === true,
      tty: raw.tty === true,
      security_groups: [],
      image_pull_policy: typeof raw.imagePullPolicy === 'string' ? raw.imagePullPolicy.toLowerCase() : null,
      runtime,
      exposed_ports: ports,
    },
  };
}

/** Checks a template as zunclient sends it (`{"template": ...}`, from YAML or JSON) and reads it; members run with `runtime`. */
export function parseCapsuleTemplate(template: unknown, runtime: string): ParsedCapsule {
  if (!isObject(template)) throw invalid('Invalid capsule template: it must be a mapping with kind, metadata and spec.');
  if (typeof template.kind !== 'string' || template.kind.toLowerCase() !== 'capsule') throw invalid(`Invalid capsule template: kind must be capsule, not ${JSON.stringify(template.kind ?? null)}.`);
  const metadata = template.metadata ?? {};
  if (!isObject(metadata)) throw invalid('Invalid capsule template: metadata must be a mapping.');
  const name = metadata.name === undefined || metadata.name === null ? null : String(metadata.name);
  if (name !== null && (!NAME.test(name) || name.length > 63)) throw invalid(`Invalid capsule template: metadata.name ${JSON.stringify(name)} must match ${NAME.source}.`);
  const spec = template.spec;
  if (!isObject(spec)) throw invalid('Invalid capsule template: spec is required.');
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) throw invalid('Invalid capsule template: spec.containers must list at least one container.');
  const policyName = spec.restartPolicy === undefined || spec.restartPolicy === null ? 'always' : String(spec.restartPolicy).toLowerCase();
  const policy = RESTART_POLICIES[policyName];
  if (!policy) throw invalid(`Invalid capsule template: spec.restartPolicy ${JSON.stringify(spec.restartPolicy)} must be Always, OnFailure or Never.`);
  for (const [i, v] of (Array.isArray(spec.volumes) ? spec.volumes : spec.volumes === undefined || spec.volumes === null ? [] : [null]).entries()) {
    if (!isObject(v) || typeof v.name !== 'string') throw invalid(`Invalid capsule template: spec.volumes[${i}] needs a name.`);
    // Zun's capsule volumes are Cinder volumes; block storage is a later part of Kumo.
    throw invalid(`Invalid capsule template: spec.volumes[${i}] (${v.name}) needs the block storage service (Cinder), which this Kumo does not have yet.`);
  }
  const labels = stringMap('metadata.labels', metadata.labels);
  const restart: RestartPolicy = { Name: policy, MaximumRetryCount: 0 };
  const inits = spec.initContainers === undefined || spec.initContainers === null ? [] : spec.initContainers;
  if (!Array.isArray(inits)) throw invalid('Invalid capsule template: spec.initContainers must be a list.');
  const members = [
    ...inits.map((c, i) => parseMember(c, `spec.initContainers[${i}]`, { role: 'init', order: i }, restart, labels, runtime)),
    ...spec.containers.map((c, i) => parseMember(c, `spec.containers[${i}]`, { role: 'main', order: 0 }, restart, labels, runtime)),
  ];
  const names = members.map((m) => m.name).filter((n): n is string => n !== null);
  if (new Set(names).size !== names.length) throw invalid('Invalid capsule template: container names must be unique within the capsule.');
  checkAvailabilityZone(template.availabilityZone);
  const nets = template.nets === undefined || template.nets === null ? null : template.nets;
  if (nets !== null && (!Array.isArray(nets) || nets.some((n) => !isObject(n)))) throw invalid('Invalid capsule template: nets must be a list of {network: NAME|ID} or {port: ID}.');
  return { name, nets: nets as NetRequest[] | null, spec: { labels, annotations: stringMap('metadata.annotations', metadata.annotations), restart_policy: restart }, members };
}

export const capsuleSpecOf = (row: CapsuleTable): CapsuleSpecRecord => JSON.parse(row.spec) as CapsuleSpecRecord;
export const memberOf = (row: ContainerTable): CapsuleMemberRecord => (JSON.parse(row.spec) as { capsule_member?: CapsuleMemberRecord }).capsule_member ?? { role: 'main', order: 0 };
const capsuleNotFound = (ident: string) => zunError('ERR_NOT_FOUND', `Capsule ${ident} could not be found.`);

export async function createCapsule(deps: ContainerDeps, caller: Caller, template: unknown, options: { host: string | null }): Promise<CapsuleTable> {
  const parsed = parseCapsuleTemplate(template, deps.config.agent.containerRuntime);
  const uuid = deps.newId();
  const name = parsed.name ?? `capsule-${uuid.slice(0, 8)}`;
  // Before anything is written: a bad network, or none to pick, changes nothing.
  const wanted = await requestedNetworks(deps, caller, parsed.nets);
  const now = zunTime(deps.now());
  const cpu = parsed.members.filter((m) => m.member.role === 'main').reduce((sum, m) => sum + m.cpu, 0);
  const memory = parsed.members.filter((m) => m.member.role === 'main').reduce((sum, m) => sum + m.memoryMib, 0);
  const capsule: CapsuleTable = {
    uuid, project_id: caller.projectId, user_id: caller.userId, name, spec: JSON.stringify(parsed.spec), cpu, memory_mib: memory,
    host: options.host, desired: 'running', port_ids: '[]', created_at: now, updated_at: now,
  };
  const members: ContainerTable[] = parsed.members.map((m) => ({
    uuid: deps.newId(), project_id: caller.projectId, user_id: caller.userId,
    name: `capsule-${name}-${m.name ?? deps.newId().slice(0, 6)}`, image: m.image, image_driver: 'docker',
    spec: JSON.stringify({ ...m.spec, capsule_member: m.member }), cpu: m.cpu, memory_mib: m.memoryMib, disk_gib: null, host: options.host,
    desired: 'running', status: 'Creating', status_reason: null, status_detail: null, task_state: null, exit_code: null, restart_count: 0,
    port_ids: '[]', capsule_id: uuid, created_at: now, updated_at: now,
  }));
  await deps.db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom('container_capsule').select('uuid').where('project_id', '=', caller.projectId).where('name', '=', name).executeTakeFirst();
    if (taken) throw zunError('ERR_CONFLICT', `A capsule with name ${name} already exists.`);
    await checkContainerQuota(trx, caller.projectId, { containers: members.length, cpu, memory, disk: 0 });
    // Not visible to the agent (no host) until the port exists.
    await trx.insertInto('container_capsule').values({ ...capsule, host: null }).execute();
    for (const m of members) await trx.insertInto('container_container').values({ ...m, host: null }).execute();
  });
  let ports: PortRecord[];
  try {
    ports = await workloadPortsFor(deps, caller, wanted, uuid, []);
  } catch (err) {
    await deps.db.deleteFrom('container_container').where('capsule_id', '=', uuid).execute();
    await deps.db.deleteFrom('container_capsule').where('uuid', '=', uuid).execute();
    throw err;
  }
  const shared = JSON.stringify(ports.map((p) => ({ ...p, shared: true })));
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable('container_capsule').set({ port_ids: JSON.stringify(ports), host: options.host }).where('uuid', '=', uuid).execute();
    await trx.updateTable('container_container').set({ port_ids: shared, host: options.host }).where('capsule_id', '=', uuid).execute();
    await markContainersChanged(trx);
  });
  return { ...capsule, port_ids: JSON.stringify(ports) };
}

/** Zun's capsule status from its members'. */
export function capsuleStatus(capsule: CapsuleTable, members: readonly ContainerTable[]): { status: string; reason: string | null } {
  if (capsule.desired === 'deleted') return { status: 'Deleting', reason: null };
  const failed = members.find((m) => m.status === 'Error');
  if (failed) return { status: 'Error', reason: `${failed.name}: ${failed.status_reason ?? 'failed'}` };
  const failedInit = members.find((m) => memberOf(m).role === 'init' && m.status === 'Stopped' && (m.exit_code ?? 0) !== 0);
  if (failedInit) return { status: 'Error', reason: `init container ${failedInit.name} exited with ${failedInit.exit_code}` };
  const main = members.filter((m) => memberOf(m).role === 'main');
  if (main.length && main.every((m) => m.status === 'Running')) return { status: 'Running', reason: null };
  if (main.length && main.every((m) => m.status === 'Stopped')) return { status: 'Stopped', reason: null };
  return { status: members.some((m) => m.status === 'Creating') ? 'Creating' : 'Created', reason: null };
}

/** The members of these capsules, in one query, oldest first. */
export async function capsuleMembers(db: Db, capsuleIds: readonly string[]): Promise<Map<string, ContainerTable[]>> {
  const byCapsule = new Map<string, ContainerTable[]>(capsuleIds.map((id) => [id, []]));
  if (!capsuleIds.length) return byCapsule;
  const rows = await db.selectFrom('container_container').selectAll().where('capsule_id', 'in', [...capsuleIds]).orderBy('created_at').execute();
  for (const r of rows) byCapsule.get(r.capsule_id!)?.push(r);
  return byCapsule;
}

export async function renderCapsule(deps: ContainerDeps, capsule: CapsuleTable, baseUrl: string, members?: readonly ContainerTable[]) {
  const rows = members ?? (await capsuleMembers(deps.db, [capsule.uuid])).get(capsule.uuid) ?? [];
  const spec = capsuleSpecOf(capsule);
  const { status, reason } = capsuleStatus(capsule, rows);
  const addresses = await workloadAddresses(deps.network, (JSON.parse(capsule.port_ids) as PortRecord[]).map((p) => p.id));
  return {
    uuid: capsule.uuid,
    links: zunLinks(baseUrl, 'capsules', capsule.uuid),
    name: capsule.name,
    status,
    status_reason: reason,
    cpu: capsule.cpu,
    memory: String(capsule.memory_mib),
    labels: spec.labels,
    annotations: spec.annotations,
    restart_policy: { Name: spec.restart_policy.Name, MaximumRetryCount: String(spec.restart_policy.MaximumRetryCount) },
    addresses,
    host: capsule.host,
    user_id: capsule.user_id,
    project_id: capsule.project_id,
    created_at: capsule.created_at,
    updated_at: capsule.updated_at,
    containers: await Promise.all(rows.map((r) => renderContainer(deps, r, baseUrl, addresses))),
  };
}

export async function visibleCapsules(db: Db, caller: Caller, allProjects: boolean): Promise<CapsuleTable[]> {
  if (allProjects && !caller.isAdmin) throw zunError('ERR_FORBIDDEN', 'Policy doesn\'t allow capsule:get_all_all_projects to be performed.');
  let q = db.selectFrom('container_capsule').selectAll().orderBy('created_at');
  if (!allProjects) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

/** By UUID, or by name within the caller's project. */
export async function getCapsule(db: Db, caller: Caller, ident: string, allProjects = false): Promise<CapsuleTable> {
  const scoped = (q: ReturnType<typeof base>) => (caller.isAdmin && allProjects ? q : q.where('project_id', '=', caller.projectId));
  const base = () => db.selectFrom('container_capsule').selectAll();
  return byIdOrName(ident, 'capsule', () => scoped(base().where('uuid', '=', ident)).executeTakeFirst(), () => scoped(base().where('name', '=', ident)).execute(), capsuleNotFound);
}

/** Zun deletes a capsule whatever its members do (they are killed). */
export async function deleteCapsule(deps: ContainerDeps, capsule: CapsuleTable): Promise<void> {
  if (capsule.desired === 'deleted') return;
  if (!capsule.host) {
    await releaseWorkloadPorts(deps.network, JSON.parse(capsule.port_ids) as PortRecord[]);
    await deps.db.deleteFrom('container_container').where('capsule_id', '=', capsule.uuid).execute();
    await deps.db.deleteFrom('container_capsule').where('uuid', '=', capsule.uuid).execute();
    return;
  }
  const now = zunTime(deps.now());
  await deps.db.transaction().execute(async (trx) => {
    await trx.updateTable('container_capsule').set({ desired: 'deleted', updated_at: now }).where('uuid', '=', capsule.uuid).execute();
    await trx.updateTable('container_container').set({ desired: 'deleted', status: 'Deleting', task_state: 'container_deleting', updated_at: now })
      .where('capsule_id', '=', capsule.uuid).execute();
    await markContainersChanged(trx);
  });
}

/**
 * The agent's last step for a deleted capsule, once its members are gone: the ports it shared and
 * the row. (The network namespace is the runtime's, removed by the controller just before.)
 */
export async function finishCapsuleDelete(deps: ContainerDeps, capsule: CapsuleTable): Promise<void> {
  await releaseWorkloadPorts(deps.network, JSON.parse(capsule.port_ids) as PortRecord[]);
  await deps.db.deleteFrom('container_capsule').where('uuid', '=', capsule.uuid).execute();
}
