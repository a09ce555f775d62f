/**
 * Nova servers as desired state: the API validates, creates the server's ports, asks the
 * scheduler for a host, records what the user wants and returns 202; the agent's compute
 * controller drives the hypervisor there and writes `vm_state`/`task_state`/`power_state` back.
 * Actions are checked against Nova's state rules first, so a refused action changes nothing.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Selectable } from 'kysely';
import { KumoError } from '../errors.js';
import {
  adoptWorkloadPort, createWorkloadPort, releaseWorkloadPorts, resolveNetworkRef,
} from '../network/workload-ports.js';
import type { Db } from '../store/database.js';
import { adminOnly, invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { flavorNotFound, flavorRecord, getFlavor } from './flavors.js';
import type { FlavorRecord } from './flavors.js';
import { bootImage, imageNotFound } from './image-access.js';
import type { BootImage } from './image-access.js';
import { recordAction } from './instance-actions.js';
import { getKeypair } from './keypairs.js';
import { checkServerQuota, computeQuotaOf, serversAllowed } from './quotas.js';
import { releaseServerResources, scheduleServer } from './scheduler.js';
import type { InstanceTable } from './schema.js';
import { checkGroupForNewMember } from './server-groups.js';
import { parseBlockDeviceMappingV2, parseLegacyBlockDeviceMapping, planBlockDevices } from './block-devices.js';
import { addServerVolumes, checkServerVolumes, releaseServerVolumes } from './server-volumes.js';

export type InstanceRow = Selectable<InstanceTable>;

export const NOVA_DEVICE_OWNER = 'compute:nova';
export const AVAILABILITY_ZONE = 'nova';

/** Nova's power states (nova/compute/power_state.py). */
export const POWER = { NOSTATE: 0, RUNNING: 1, PAUSED: 3, SHUTDOWN: 4, CRASHED: 6, SUSPENDED: 7 } as const;

export interface NetworkRequest { uuid?: string; port?: string; fixed_ip?: string; tag?: string }

/** What the compute controller needs to build the server, kept as one JSON document. */
export interface InstanceSpecRecord {
  security_groups: string[];
  config_drive: boolean;
  /** The server group it was created in (affinity rules), if any. */
  server_group: string | null;
  reservation_id: string;
  launch_index: number;
  /** The flavor before a resize, kept until it is confirmed or reverted. */
  old_flavor: FlavorRecord | null;
  /** The tags of the networks it asked for (device tags), by port id. */
  port_tags: Record<string, string>;
  /** Ports detached through os-interface that the agent still has to unplug from the VM and release. */
  detaching?: PortRecord[];
}

/** An action the controller carries out once; `task_state` says it is pending. */
export type PendingAction =
  | { type: 'reboot'; hard: boolean }
  | { type: 'rebuild'; imageId: string }
  | { type: 'resize' }
  | { type: 'revert_resize' }
  | { type: 'confirm_resize' }
  | { type: 'snapshot'; imageId: string };

export interface PortRecord { id: string; adopted: boolean }

export const specOf = (row: InstanceRow): InstanceSpecRecord => JSON.parse(row.spec) as InstanceSpecRecord;
export const flavorOf = (row: InstanceRow): FlavorRecord => JSON.parse(row.flavor) as FlavorRecord;
export const portsOf = (row: InstanceRow): PortRecord[] => JSON.parse(row.port_ids) as PortRecord[];
export const pendingOf = (row: InstanceRow): PendingAction | null => (row.pending_action ? JSON.parse(row.pending_action) as PendingAction : null);

export const serverNotFound = (id: string) => novaError('ERR_NOT_FOUND', `Instance ${id} could not be found.`);

/** Nova's API status from vm_state and task_state (nova/api/openstack/common.py). */
export function serverStatus(row: Pick<InstanceRow, 'vm_state' | 'task_state'>): string {
  const byTask: Record<string, Record<string, string>> = {
    active: {
      rebooting: 'REBOOT', reboot_pending: 'REBOOT', reboot_started: 'REBOOT', rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT',
      reboot_started_hard: 'HARD_REBOOT', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
      resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE', resize_reverting: 'REVERT_RESIZE',
    },
    stopped: { rebuilding: 'REBUILD', resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE', rebooting_hard: 'HARD_REBOOT' },
    resized: { resize_reverting: 'REVERT_RESIZE' },
    error: { rebuilding: 'REBUILD', rebooting_hard: 'HARD_REBOOT' },
  };
  const plain: Record<string, string> = {
    building: 'BUILD', active: 'ACTIVE', stopped: 'SHUTOFF', paused: 'PAUSED', suspended: 'SUSPENDED', resized: 'VERIFY_RESIZE',
    error: 'ERROR', deleted: 'DELETED', rescued: 'RESCUE', shelved: 'SHELVED', shelved_offloaded: 'SHELVED_OFFLOADED', soft_deleted: 'SOFT_DELETED',
  };
  return (row.task_state ? byTask[row.vm_state]?.[row.task_state] : undefined) ?? plain[row.vm_state] ?? 'UNKNOWN';
}

/** Nova's hostId: the host hashed with the project, so projects cannot map the cloud's hosts. */
export const hostIdOf = (row: InstanceRow): string => (row.host ? createHash('sha224').update(row.project_id + row.host).digest('hex') : '');

/** Refuses an action unless the server is in one of the vm_states (and, unless listed, has no task). */
export function checkState(row: InstanceRow, action: string, vmStates: readonly string[], taskStates: readonly (string | null)[] = [null]): void {
  if (!vmStates.includes(row.vm_state)) {
    throw novaError('ERR_CONFLICT', `Cannot '${action}' instance ${row.uuid} while it is in vm_state ${row.vm_state}`);
  }
  if (!taskStates.includes(row.task_state)) {
    throw novaError('ERR_CONFLICT', `Cannot '${action}' instance ${row.uuid} while it is in task_state ${row.task_state}`);
  }
}

/** A locked server refuses actions from anyone but admins (Nova's check_instance_lock). */
export function checkLock(row: InstanceRow, caller: Caller): void {
  if (row.locked && !caller.isAdmin) throw novaError('ERR_CONFLICT', `Instance ${row.uuid} is locked`);
}

export async function getServer(db: Db, caller: Caller, id: string): Promise<InstanceRow> {
  const row = await db.selectFrom('compute_instance').selectAll().where('uuid', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw serverNotFound(id);
  return row;
}

// ---- create ----

export interface ServerCreateInput {
  name?: unknown;
  imageRef?: unknown;
  flavorRef?: unknown;
  networks?: unknown;
  key_name?: unknown;
  user_data?: unknown;
  metadata?: unknown;
  security_groups?: unknown;
  config_drive?: unknown;
  availability_zone?: unknown;
  min_count?: unknown;
  max_count?: unknown;
  return_reservation_id?: unknown;
  description?: unknown;
  hostname?: unknown;
  tags?: unknown;
  adminPass?: unknown;
  accessIPv4?: unknown;
  accessIPv6?: unknown;
  'OS-DCF:diskConfig'?: unknown;
  block_device_mapping_v2?: unknown;
  personality?: unknown;
  [key: string]: unknown;
}

const SERVER_KEYS = new Set([
  'name', 'imageRef', 'flavorRef', 'networks', 'key_name', 'user_data', 'metadata', 'security_groups', 'config_drive', 'availability_zone',
  'min_count', 'max_count', 'return_reservation_id', 'description', 'hostname', 'tags', 'adminPass', 'accessIPv4', 'accessIPv6',
  'OS-DCF:diskConfig', 'block_device_mapping_v2', 'block_device_mapping', 'personality', 'trusted_image_certificates', 'host', 'hypervisor_hostname',
]);

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const field = (name: string, value: unknown, why: string) => invalid(`Invalid input for field/attribute ${name}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${why}`);

/** The admin password a create or rebuild answers with: the one asked for, or a new one. */
export const newAdminPass = (asked: unknown): string => (typeof asked === 'string' ? asked : randomBytes(9).toString('base64url').slice(0, 12));

/**
 * accessIPv4/accessIPv6 of a create or update: an address of that family (Nova's schema formats),
 * stored in canonical form as Nova's IPAddress column does (`::babe:220.12.22.2` → `::babe:dc0c:1602`).
 * Empty or null clears it; undefined leaves it.
 */
export function accessIp(name: 'accessIPv4' | 'accessIPv6', value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw field(name, value, 'It must be a string');
  const v6 = name === 'accessIPv6';
  if (v6 ? !isIPv6(value) : !isIPv4(value)) throw field(name, value, `'${value}' is not a '${v6 ? 'ipv6' : 'ipv4'}'`);
  // The WHATWG URL parser prints IPv6 hosts compressed, lower case, with an embedded IPv4 tail in hex.
  return v6 ? new URL(`http://[${value}]/`).hostname.slice(1, -1) : value;
}

export function checkServerName(name: unknown): string {
  if (typeof name !== 'string') throw field('name', name, name === undefined ? "'name' is a required property" : `${JSON.stringify(name)} is not of type 'string'`);
  if (!name.trim() || name.length > 255) throw field('name', name, `'${name}' is not 1 to 255 characters that are not only whitespace`);
  return name;
}

function checkMetadata(value: unknown, what = 'metadata'): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw field(what, value, `${JSON.stringify(value)} is not of type 'object'`);
  for (const [k, v] of Object.entries(value)) {
    if (k.length < 1 || k.length > 255) throw field(what, value, `Metadata keys must be 1 to 255 characters`);
    if (typeof v !== 'string') throw field(what, value, `${JSON.stringify(v)} is not of type 'string'`);
    if (v.length > 255) throw field(what, value, `Metadata values must be at most 255 characters`);
  }
  return value as Record<string, string>;
}

export async function checkMetadataQuota(deps: ComputeDeps, projectId: string, count: number): Promise<void> {
  const limit = (await computeQuotaOf(deps.db, projectId)).metadata_items;
  if (limit >= 0 && count > limit) throw novaError('ERR_FORBIDDEN', `Quota exceeded for metadata_items: Requested ${count}, but already used 0 of ${limit} metadata_items`);
}

function checkUserData(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 65535) throw field('user_data', value, 'It must be a base64 string of at most 65535 characters');
  const compact = value.replace(/\s/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw field('user_data', value, `'${value.slice(0, 64)}' is not a 'base64'`);
  return value;
}

/** RFC 952/1123 hostname from a display name, as Nova's `sanitize_hostname`. */
export function sanitizeHostname(name: string): string {
  const h = name.toLowerCase().replace(/[ _]/g, '-').replace(/[^\w.-]+/g, '').replace(/^[.-]+|[.-]+$/g, '').slice(0, 63).replace(/[.-]+$/, '');
  return h || 'server';
}

function intParam(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) throw field(name, value, `${JSON.stringify(value)} is not a positive integer`);
  return n;
}

function boolParam(name: string, value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && ['true', 'false', '1', '0', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off'].includes(value.toLowerCase())) return ['true', '1', 't', 'yes', 'y', 'on'].includes(value.toLowerCase());
  throw field(name, value, `${JSON.stringify(value)} is not of type 'boolean'`);
}

/** The network requests of a create: `auto`, `none` or a list (a missing list means `auto` before 2.37, and is an error from it). */
function networkRequests(value: unknown, minor: number): 'auto' | 'none' | NetworkRequest[] {
  if (value === undefined) {
    if (minor >= 37) throw field('server', {}, "'networks' is a required property");
    return 'auto';
  }
  if (value === 'auto' || value === 'none') {
    if (minor < 37) throw field('networks', value, `'${value}' is not of type 'array'`);
    return value;
  }
  if (!Array.isArray(value)) throw field('networks', value, `${JSON.stringify(value)} is not of type 'array'`);
  return value.map((n: unknown) => {
    if (!n || typeof n !== 'object' || Array.isArray(n)) throw field('networks', value, 'Each network must be an object');
    const r = n as Record<string, unknown>;
    const unknownKeys = Object.keys(r).filter((k) => !['uuid', 'port', 'fixed_ip', 'tag'].includes(k));
    if (unknownKeys.length) throw field('networks', value, `Additional properties are not allowed ('${unknownKeys[0]}' was unexpected)`);
    for (const k of ['uuid', 'port', 'fixed_ip', 'tag'] as const) {
      if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') throw field(`networks/${k}`, r[k], 'It must be a string');
    }
    if (r.port && !UUID.test(String(r.port))) throw invalid(`Bad networks format: port uuid ${String(r.port)} is not in proper format`);
    if (!r.port && !r.uuid) throw invalid('Bad networks format: network uuid is not in proper format (None)');
    if (r.tag !== undefined && minor < 32) throw field('networks', value, "Additional properties are not allowed ('tag' was unexpected)");
    return { uuid: (r.uuid as string | undefined) || undefined, port: (r.port as string | undefined) || undefined, fixed_ip: (r.fixed_ip as string | undefined) || undefined, tag: (r.tag as string | undefined) || undefined };
  });
}

function securityGroupNames(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw field('security_groups', value, `${JSON.stringify(value)} is not of type 'array'`);
  return [...new Set(value.map((g: unknown) => {
    const name = (g as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !name) throw field('security_groups', value, "Each security group must be an object with a 'name'");
    return name;
  }))];
}

/** The last path segment of an href, as Nova accepts ids and links for imageRef and flavorRef. */
const refId = (value: string) => value.replace(/\/+$/, '').split('/').at(-1) ?? '';

export interface CreatedServers {
  rows: InstanceRow[];
  adminPass: string;
  reservationId: string;
}

export async function createServers(deps: ComputeDeps, caller: Caller, input: ServerCreateInput, minor: number, hints: Record<string, unknown>): Promise<CreatedServers> {
  const unknown = Object.keys(input).filter((k) => !SERVER_KEYS.has(k));
  if (unknown.length) throw field('server', input, `Additional properties are not allowed ('${unknown.join("', '")}' ${unknown.length > 1 ? 'were' : 'was'} unexpected)`);
  if (input.block_device_mapping_v2 !== undefined && input.block_device_mapping !== undefined) {
    throw invalid('Using different block_device_mapping syntaxes is not allowed in the same request.');
  }
  const bdms = input.block_device_mapping_v2 !== undefined && input.block_device_mapping_v2 !== null ? parseBlockDeviceMappingV2(input.block_device_mapping_v2, minor)
    : input.block_device_mapping !== undefined && input.block_device_mapping !== null ? parseLegacyBlockDeviceMapping(input.block_device_mapping) : [];
  if (input.personality !== undefined && minor >= 57) throw field('server', input, "Additional properties are not allowed ('personality' was unexpected)");
  if (input.description !== undefined && minor < 19) throw field('server', input, "Additional properties are not allowed ('description' was unexpected)");
  if (input.hostname !== undefined && minor < 90) throw field('server', input, "Additional properties are not allowed ('hostname' was unexpected)");
  if (input.tags !== undefined && minor < 52) throw field('server', input, "Additional properties are not allowed ('tags' was unexpected)");
  if ((input.host !== undefined || input.hypervisor_hostname !== undefined) && minor < 74) throw field('server', input, "Additional properties are not allowed ('host' was unexpected)");

  const name = checkServerName(input.name);
  if (typeof input.flavorRef !== 'string' && typeof input.flavorRef !== 'number') throw field('flavorRef', input.flavorRef, input.flavorRef === undefined ? "'flavorRef' is a required property" : 'It must be a string');
  if (input.imageRef !== undefined && typeof input.imageRef !== 'string') throw field('imageRef', input.imageRef, 'It must be a string');
  const description = input.description === undefined || input.description === null ? null : String(input.description);
  if (description !== null && description.length > 255) throw field('description', input.description, 'It must be at most 255 characters');
  const metadata = checkMetadata(input.metadata);
  const userData = checkUserData(input.user_data);
  const configDrive = boolParam('config_drive', input.config_drive);
  const minCount = intParam('min_count', input.min_count, 1);
  const maxCount = intParam('max_count', input.max_count, minCount);
  if (minCount > maxCount) throw invalid(`min_count must be <= max_count`);
  const nets = networkRequests(input.networks, minor);
  const groups = securityGroupNames(input.security_groups);
  const tags = input.tags === undefined ? [] : checkTagList(input.tags);
  let hostname: string | null = null;
  if (input.hostname !== undefined) {
    if (typeof input.hostname !== 'string' || !/^[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$/.test(input.hostname)) throw field('hostname', input.hostname, 'It must be a valid hostname (RFC 1123)');
    if (maxCount > 1) throw invalid('Unable to launch multiple instances with a single configured hostname.');
    hostname = input.hostname;
  }
  let forcedHost: string | undefined;
  if (input.availability_zone !== undefined && input.availability_zone !== null && input.availability_zone !== '') {
    if (typeof input.availability_zone !== 'string') throw field('availability_zone', input.availability_zone, 'It must be a string');
    const [zone, host] = input.availability_zone.split(':');
    if (zone !== AVAILABILITY_ZONE && zone !== '') throw invalid(`The requested availability zone is not available`);
    if (host) {
      if (!caller.isAdmin) throw adminOnly('os_compute_api:servers:create:forced_host');
      forcedHost = host;
    }
  }
  const accessIpv4 = accessIp('accessIPv4', input.accessIPv4) ?? null;
  const accessIpv6 = accessIp('accessIPv6', input.accessIPv6) ?? null;
  const serverGroup = hints.group === undefined ? null : String(hints.group);

  const flavorId = refId(String(input.flavorRef));
  const flavorRow = await getFlavor(deps, caller, flavorId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw invalid(`Flavor ${flavorId} could not be found.`);
    throw err;
  });
  if (flavorRow.disabled) throw invalid(`Flavor ${flavorId} could not be found.`);
  const flavor = await flavorRecord(deps, flavorRow);
  const imageRef = input.imageRef ? refId(input.imageRef) : '';
  const blockDevices = planBlockDevices(bdms, imageRef);
  // Images a volume is made from must exist and be active too; only the one booted directly must fit the flavor's disk.
  for (const v of blockDevices.volumes) {
    if (v.kind === 'new' && v.imageId) {
      const source = await bootImage(deps, caller, v.imageId).catch((err: unknown) => {
        if (err instanceof KumoError && err.status === 404) throw imageNotFound(v.imageId!);
        throw err;
      });
      if (source.status !== 'active') throw invalid(`Image ${source.id} is not active.`);
    }
  }
  const image = blockDevices.bootImageId === null ? null : await bootImage(deps, caller, blockDevices.bootImageId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw imageNotFound(blockDevices.bootImageId!);
    throw err;
  });
  if (image) checkImageFitsFlavor(image, flavor);

  let keyData: string | null = null;
  const keyName = input.key_name === undefined || input.key_name === null ? null : String(input.key_name);
  if (keyName !== null) {
    keyData = (await getKeypair(deps, caller, keyName).catch((err: unknown) => {
      if (err instanceof KumoError && err.status === 404) throw invalid('Invalid key_name provided.');
      throw err;
    })).public_key;
  }
  await checkMetadataQuota(deps, caller.projectId, Object.keys(metadata).length);
  if (serverGroup) await checkGroupForNewMember(deps, caller, serverGroup, maxCount);
  // Nova makes as many as the quota allows between min_count and max_count.
  const count = Math.min(maxCount, await serversAllowed(deps.db, caller.projectId, flavor.vcpus, flavor.ram));
  if (count < minCount) await checkServerQuota(deps.db, caller.projectId, minCount, flavor.vcpus, flavor.ram);
  if (nets !== 'auto' && nets !== 'none' && count > 1 && nets.some((n) => n.port || n.fixed_ip)) {
    throw invalid('Unable to launch multiple instances with a single configured port ID or fixed IP. Please launch your instance one by one with different ports.');
  }
  // Volumes and networks are checked before anything is made, so a bad one changes nothing.
  const volumeHost = await checkServerVolumes(deps, caller, blockDevices, count);
  if (volumeHost && forcedHost && volumeHost !== forcedHost) throw invalid(`The server's volumes are on host ${volumeHost}, not on ${forcedHost}.`);
  const resolvedNets = nets === 'auto' ? await autoNetwork(deps, caller) : nets === 'none' ? [] : await Promise.all(nets.map(async (n) => {
    if (n.port) return n;
    const network = await resolveNetworkRef(deps.network, caller, n.uuid!).catch((err: unknown) => {
      if (err instanceof KumoError && err.status === 404) throw invalid(`Network ${n.uuid} could not be found.`);
      throw err;
    });
    return { ...n, uuid: network.id };
  }));

  const reservationId = `r-${randomBytes(4).toString('hex')}`;
  const adminPass = newAdminPass(input.adminPass);
  const rows: InstanceRow[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const uuid = deps.newId();
      const now = new Date(deps.now()).toISOString();
      const ports: PortRecord[] = [];
      const portTags: Record<string, string> = {};
      const row: InstanceRow = {
        uuid, name: count > 1 ? `${name}-${index + 1}` : name, project_id: caller.projectId, user_id: caller.userId,
        hostname: hostname ?? sanitizeHostname(count > 1 ? `${name}-${index + 1}` : name), description, host: null, image_id: image?.id ?? null,
        flavor: JSON.stringify(flavor), key_name: keyName, key_data: keyData, user_data: userData, spec: '', availability_zone: AVAILABILITY_ZONE,
        desired: 'running', pending_action: null, vm_state: 'building', task_state: 'scheduling', power_state: POWER.NOSTATE, locked: 0, locked_reason: null,
        fault: null, port_ids: '[]', access_ipv4: accessIpv4, access_ipv6: accessIpv6,
        launched_at: null, created_at: now, updated_at: now,
      };
      await deps.db.insertInto('compute_instance').values({ ...row, spec: JSON.stringify(specRecord()) }).execute();
      rows.push(row);
      for (const n of resolvedNets) {
        const id = n.port
          ? await adoptWorkloadPort(deps.network, caller, n.port, uuid, NOVA_DEVICE_OWNER)
          : await createWorkloadPort(deps.network, caller, { networkId: n.uuid!, fixedIps: n.fixed_ip ? [n.fixed_ip] : [], securityGroups: groups, deviceId: uuid, deviceOwner: NOVA_DEVICE_OWNER })
            .catch((err: unknown) => {
              // What the port refers to (a security group) was not found: a bad create request to Nova, 400.
              if (err instanceof KumoError && err.status === 404) throw invalid(err.message);
              throw err;
            });
        ports.push({ id, adopted: Boolean(n.port) });
        if (n.tag) portTags[id] = n.tag;
      }
      row.port_ids = JSON.stringify(ports);
      row.spec = JSON.stringify({ ...specRecord(), port_tags: portTags, launch_index: index });
      await deps.db.transaction().execute(async (tx) => {
        await tx.updateTable('compute_instance').set({ port_ids: row.port_ids, spec: row.spec }).where('uuid', '=', uuid).execute();
        for (const [key, value] of Object.entries(metadata)) await tx.insertInto('compute_instance_metadata').values({ instance_id: uuid, key, value }).execute();
        for (const tag of tags) await tx.insertInto('compute_instance_tag').values({ instance_id: uuid, tag }).execute();
        if (serverGroup) await tx.insertInto('compute_server_group_member').values({ group_id: serverGroup, instance_id: uuid }).execute();
      });
      await addServerVolumes(deps, caller, uuid, row.name, blockDevices);
      await recordAction(deps, caller, uuid, 'create');
    }
  } catch (err) {
    for (const row of rows) await discardServer(deps, row).catch(() => undefined);
    throw err;
  }
  for (const row of rows) Object.assign(row, await scheduleServer(deps, row, flavor, { forcedHost: forcedHost ?? volumeHost ?? undefined, serverGroup }));
  return { rows, adminPass, reservationId };

  function specRecord(): InstanceSpecRecord {
    return { security_groups: groups.length ? groups : ['default'], config_drive: configDrive, server_group: serverGroup, reservation_id: reservationId, launch_index: 0, old_flavor: null, port_tags: {} };
  }
}

/** Nova: the image must fit the flavor's root disk (a flavor with disk 0 takes any image) and its min_ram/min_disk. */
export function checkImageFitsFlavor(image: BootImage, flavor: FlavorRecord): void {
  if (image.status !== 'active') throw invalid(`Image ${image.id} is not active.`);
  const gib = 1024 ** 3;
  const size = Math.max(image.size ?? 0, image.virtualSize ?? 0);
  if (flavor.disk > 0 && size > flavor.disk * gib) {
    throw invalid(`Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * gib} bytes, image is ${size} bytes.`);
  }
  if (flavor.disk > 0 && image.minDisk > flavor.disk) throw invalid("Flavor's disk is too small for requested image.");
  if (image.minRam > flavor.ram) throw invalid("Flavor's memory is too small for requested image.");
}

/** Before 2.37 an omitted `networks` means the project's only network; several is Nova's 409. */
async function autoNetwork(deps: ComputeDeps, caller: Caller): Promise<NetworkRequest[]> {
  const rows = await deps.db.selectFrom('network_network').select(['id', 'project_id', 'shared', 'external']).execute();
  const usable = rows.filter((n) => n.external !== 1 && (n.project_id === caller.projectId || n.shared === 1));
  if (usable.length > 1) throw novaError('ERR_CONFLICT', 'Multiple possible networks found, use a Network ID to be more specific.');
  return usable.map((n) => ({ uuid: n.id }));
}

/** Removes a server that never reached a host: its ports, rows, allocation. */
export async function discardServer(deps: ComputeDeps, row: InstanceRow): Promise<void> {
  await releaseServerVolumes(deps, row.uuid);
  await releaseWorkloadPorts(deps.network, portsOf(row));
  await releaseServerResources(deps, row.uuid);
  await deleteServerRows(deps.db, row.uuid);
}

export async function deleteServerRows(db: Db, uuid: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('compute_instance_metadata').where('instance_id', '=', uuid).execute();
    await tx.deleteFrom('compute_instance_tag').where('instance_id', '=', uuid).execute();
    await tx.deleteFrom('compute_server_group_member').where('instance_id', '=', uuid).execute();
    await tx.deleteFrom('compute_instance').where('uuid', '=', uuid).execute();
  });
}

// ---- tags ----

export function checkTagList(value: unknown): string[] {
  if (!Array.isArray(value)) throw field('tags', value, `${JSON.stringify(value)} is not of type 'array'`);
  if (value.length > 50) throw field('tags', value, 'A server may have at most 50 tags');
  return [...new Set(value.map((t: unknown) => checkTag(t)))];
}

export function checkTag(t: unknown): string {
  if (typeof t !== 'string' || t.length < 1 || t.length > 60 || t.includes(',') || t.includes('/')) {
    throw field('tags', t, "Tags must be 1 to 60 characters without ',' or '/'");
  }
  return t;
}

export { flavorNotFound };
