/**
 * Ports and IPAM. An address is handed out by inserting (subnet_id, ip_address) into
 * network_ip_allocation inside the port's transaction: the primary key makes a second holder
 * impossible, and a create that loses a race on PostgreSQL is retried from the start.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { NetworkTable, PortTable, SubnetTable } from './schema.js';
import { badInput, fromJsonArray, markChanged, neutronError, neutronTime, retryOnUniqueViolation } from './context.js';
import { checkQuota } from './quotas.js';
import type { Caller, NetworkDeps } from './context.js';
import { bigIntToIp, cidrContains, ipToBigInt, ipVersion, parseCidr } from './ip.js';
import { getNetwork } from './networks.js';
import { portSecurityGroups } from './security-groups.js';
import type { Pool } from './subnets.js';

export interface FixedIpRequest { subnet_id?: string; ip_address?: string }
export interface AddressPair { ip_address: string; mac_address?: string }

export interface PortInput {
  network_id?: string;
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  mac_address?: string;
  fixed_ips?: FixedIpRequest[];
  device_id?: string;
  device_owner?: string;
  'binding:host_id'?: string;
  'binding:profile'?: Record<string, unknown>;
  port_security_enabled?: boolean;
  allowed_address_pairs?: AddressPair[];
  security_groups?: string[];
  tenant_id?: string;
  project_id?: string;
}

export interface FixedIp { subnet_id: string; ip_address: string }

export const portNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'PortNotFound', `Port ${id} could not be found.`);
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

export function renderPort(row: PortTable, fixedIps: FixedIp[], caller: Caller) {
  return {
    id: row.id,
    name: row.name,
    network_id: row.network_id,
    tenant_id: row.project_id,
    project_id: row.project_id,
    mac_address: row.mac_address,
    admin_state_up: row.admin_state_up === 1,
    status: row.status,
    device_id: row.device_id,
    device_owner: row.device_owner,
    fixed_ips: fixedIps,
    allowed_address_pairs: fromJsonArray<AddressPair>(row.allowed_address_pairs),
    extra_dhcp_opts: [] as unknown[],
    security_groups: fromJsonArray<string>(row.security_groups),
    port_security_enabled: row.port_security_enabled === 1,
    description: row.description,
    dns_name: '',
    ip_allocation: 'immediate',
    // Neutron shows binding details to admins only.
    ...(caller.isAdmin
      ? {
        'binding:host_id': row.host_id,
        'binding:vif_type': row.vif_type,
        'binding:vnic_type': 'normal',
        'binding:profile': JSON.parse(row.binding_profile) as Record<string, unknown>,
        'binding:vif_details': row.vif_type === 'unbound' ? {} : { port_filter: row.port_security_enabled === 1 },
      }
      : {}),
    tags: fromJsonArray<string>(row.tags),
    created_at: row.created_at,
    updated_at: row.updated_at,
    revision_number: row.revision_number,
  };
}

export async function fixedIpsByPort(db: Db, portIds: string[]): Promise<Map<string, FixedIp[]>> {
  const out = new Map<string, FixedIp[]>();
  if (portIds.length === 0) return out;
  const rows = await db.selectFrom('network_ip_allocation').selectAll().where('owner', 'in', portIds).execute();
  for (const r of rows) out.set(r.owner, [...(out.get(r.owner) ?? []), { subnet_id: r.subnet_id, ip_address: r.ip_address }]);
  return out;
}

export async function visiblePorts(db: Db, caller: Caller): Promise<PortTable[]> {
  let q = db.selectFrom('network_port').selectAll();
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

export async function getPort(db: Db, caller: Caller, id: string): Promise<PortTable> {
  const row = await db.selectFrom('network_port').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw portNotFound(id);
  return row;
}

function checkBindingPolicy(caller: Caller, input: PortInput, op: 'create' | 'update'): void {
  for (const attr of ['binding:host_id', 'binding:profile'] as const) {
    if (input[attr] !== undefined && !caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `(rule:${op}_port:${attr}) is disallowed by policy.`);
  }
  const profile = input['binding:profile'];
  if (profile !== undefined && profile !== null && (typeof profile !== 'object' || Array.isArray(profile))) throw badInput('binding:profile must be a dictionary.');
}

function randomMac(): string {
  // fa:16:3e is the prefix OpenStack uses for the MACs it generates.
  return `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

function nextFreeAddress(subnet: SubnetTable, taken: Set<string>): string | undefined {
  const version = subnet.ip_version as 4 | 6;
  for (const pool of fromJsonArray<Pool>(subnet.allocation_pools)) {
    for (let a = ipToBigInt(pool.start), end = ipToBigInt(pool.end); a <= end; a++) {
      const ip = bigIntToIp(a, version);
      if (!taken.has(ip) && ip !== subnet.gateway_ip) return ip;
    }
  }
  return undefined;
}

/** Resolves the requested fixed IPs (or the default: one address per IP version) and inserts them for `owner`. */
export async function allocate(trx: Db, network: NetworkTable, requests: FixedIpRequest[] | undefined, owner: string, isRouterPort: boolean): Promise<FixedIp[]> {
  const subnets = await trx.selectFrom('network_subnet').selectAll().where('network_id', '=', network.id).orderBy('created_at').execute();
  const wanted: FixedIpRequest[] = requests
    ?? [4, 6].map((v) => subnets.find((s) => s.ip_version === v)).filter((s): s is SubnetTable => !!s).map((s) => ({ subnet_id: s.id }));
  const out: FixedIp[] = [];
  for (const req of wanted) {
    let subnet: SubnetTable | undefined;
    if (req.subnet_id) {
      subnet = subnets.find((s) => s.id === req.subnet_id);
      if (!subnet) throw badInput(`Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${req.subnet_id}.`);
    } else if (req.ip_address) {
      if (!ipVersion(req.ip_address)) throw badInput(`'${req.ip_address}' is not a valid IP address.`);
      subnet = subnets.find((s) => cidrContains(parseCidr(s.cidr)!, req.ip_address!));
      if (!subnet) throw neutronError('ERR_VALIDATION', 'InvalidIpForNetwork', `IP address ${req.ip_address} is not a valid IP for any of the subnets on the specified network.`);
    } else throw badInput('Each fixed_ips entry needs a subnet_id or an ip_address.');
    const taken = new Set((await trx.selectFrom('network_ip_allocation').select('ip_address').where('subnet_id', '=', subnet.id).execute()).map((r) => r.ip_address));
    let ip: string;
    if (req.ip_address) {
      const cidr = parseCidr(subnet.cidr)!;
      if (!cidrContains(cidr, req.ip_address)) throw neutronError('ERR_VALIDATION', 'InvalidIpForSubnet', `IP address ${req.ip_address} is not a valid IP for the specified subnet.`);
      ip = bigIntToIp(ipToBigInt(req.ip_address), cidr.version);
      const n = ipToBigInt(ip);
      if (cidr.version === 4 && cidr.prefix <= 30 && (n === cidr.network || n === cidr.network + cidr.size - 1n)) {
        throw neutronError('ERR_VALIDATION', 'InvalidIpForSubnet', `IP address ${ip} is the network or broadcast address of ${subnet.cidr}.`);
      }
      if (taken.has(ip) || (ip === subnet.gateway_ip && !isRouterPort)) {
        throw neutronError('ERR_CONFLICT', 'IpAddressAlreadyAllocated', `IP address ${ip} already allocated in subnet ${subnet.id}.`);
      }
    } else {
      const free = nextFreeAddress(subnet, taken);
      if (!free) throw neutronError('ERR_CONFLICT', 'IpAddressGenerationFailure', `No more IP addresses available on network ${network.id}.`);
      ip = free;
    }
    await trx.insertInto('network_ip_allocation').values({ subnet_id: subnet.id, ip_address: ip, owner }).execute();
    out.push({ subnet_id: subnet.id, ip_address: ip });
  }
  return out;
}

function validatePairs(pairs: unknown): AddressPair[] {
  if (!Array.isArray(pairs)) throw badInput('allowed_address_pairs must be a list.');
  return pairs.map((p: AddressPair) => {
    const ip = typeof p?.ip_address === 'string' ? p.ip_address : '';
    if (!ipVersion(ip) && !parseCidr(ip)) throw badInput(`'${ip}' is not a valid IP address or CIDR for allowed_address_pairs.`);
    if (p.mac_address !== undefined && !MAC.test(String(p.mac_address).toLowerCase())) throw badInput(`'${String(p.mac_address)}' is not a valid MAC address.`);
    return { ip_address: ip, ...(p.mac_address ? { mac_address: p.mac_address.toLowerCase() } : {}) };
  });
}

/** A port about to be inserted: everything resolved that needs no transaction of its own. */
export interface NewPort {
  network: NetworkTable;
  projectId: string;
  input: PortInput;
  groups: string[];
  portSecurity: boolean;
  pairs: AddressPair[];
}

/** Inserts a port and its addresses inside `trx`; routers and floating IPs use it for the ports they own. */
export async function insertPort(deps: NetworkDeps, trx: Db, p: NewPort): Promise<{ port: PortTable; fixedIps: FixedIp[] }> {
  const { input, network } = p;
  const now = neutronTime(deps.now());
  const port: PortTable = {
    id: deps.newId(),
    project_id: p.projectId,
    network_id: network.id,
    name: input.name ?? '',
    description: input.description ?? '',
    admin_state_up: input.admin_state_up === false ? 0 : 1,
    mac_address: input.mac_address?.toLowerCase() ?? randomMac(),
    device_id: input.device_id ?? '',
    device_owner: input.device_owner ?? '',
    host_id: input['binding:host_id'] ?? '',
    vif_type: 'unbound',
    binding_profile: JSON.stringify(input['binding:profile'] ?? {}),
    status: 'DOWN',
    port_security_enabled: p.portSecurity ? 1 : 0,
    allowed_address_pairs: JSON.stringify(p.pairs),
    security_groups: JSON.stringify(p.groups),
    tags: '[]',
    created_at: now,
    updated_at: now,
    revision_number: 1,
  };
  if (input.mac_address && (await trx.selectFrom('network_port').select('id').where('network_id', '=', network.id).where('mac_address', '=', port.mac_address).executeTakeFirst())) {
    throw neutronError('ERR_CONFLICT', 'MacAddressInUse', `Unable to complete operation for network ${network.id}. The mac address ${port.mac_address} is in use.`);
  }
  if (!port.device_owner.startsWith('network:')) await checkQuota(deps, trx, p.projectId, 'port');
  await trx.insertInto('network_port').values(port).execute();
  const fixedIps = await allocate(trx, network, input.fixed_ips, port.id, port.device_owner === 'network:router_interface');
  await markChanged(trx);
  return { port, fixedIps };
}

export async function createPort(deps: NetworkDeps, caller: Caller, input: PortInput): Promise<{ port: PortTable; fixedIps: FixedIp[] }> {
  if (!input.network_id) throw badInput("'network_id' is required.");
  if (input.mac_address !== undefined && !MAC.test(input.mac_address.toLowerCase())) throw badInput(`'${input.mac_address}' is not a valid MAC address.`);
  checkBindingPolicy(caller, input, 'create');
  const pairs = input.allowed_address_pairs === undefined ? [] : validatePairs(input.allowed_address_pairs);
  if (input.fixed_ips !== undefined && !Array.isArray(input.fixed_ips)) throw badInput('fixed_ips must be a list.');
  // Resolved before the port's transaction: it may create the project's default group in one of its own.
  const target = await getNetwork(deps.db, caller, input.network_id);
  // Neutron's policy: the network's owner (or an admin) may choose a port's MAC.
  if (input.mac_address !== undefined && !caller.isAdmin && target.project_id !== caller.projectId) {
    throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:create_port:mac_address) is disallowed by policy.');
  }
  const projectId = input.project_id ?? input.tenant_id ?? caller.projectId;
  const portSecurity = input.port_security_enabled ?? target.port_security_enabled === 1;
  const groups = await portSecurityGroups(deps, deps.db, caller, projectId, input.security_groups, portSecurity, input.device_owner ?? '');
  return retryOnUniqueViolation(
    () => deps.db.transaction().execute(async (trx) => {
      const network = await getNetwork(trx, caller, input.network_id!);
      if (!caller.isAdmin && (projectId !== caller.projectId || (network.project_id !== caller.projectId && network.shared !== 1))) {
        throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `(rule:create_port) is disallowed by policy on network ${network.id}.`);
      }
      return insertPort(deps, trx, { network, projectId, input, groups, portSecurity, pairs });
    }),
    () => neutronError('ERR_CONFLICT', 'IpAddressAlreadyAllocated', 'The requested address or MAC was taken concurrently; try again.'),
  );
}

export async function updatePort(deps: NetworkDeps, caller: Caller, id: string, patch: PortInput): Promise<{ port: PortTable; fixedIps: FixedIp[] }> {
  for (const fixed of ['network_id', 'tenant_id', 'project_id'] as const) if (patch[fixed] !== undefined) throw badInput(`Cannot update read-only attribute ${fixed}.`);
  if (patch.mac_address !== undefined && !caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:update_port:mac_address) is disallowed by policy.');
  checkBindingPolicy(caller, patch, 'update');
  if (patch.mac_address !== undefined && !MAC.test(patch.mac_address.toLowerCase())) throw badInput(`'${patch.mac_address}' is not a valid MAC address.`);
  const pairs = patch.allowed_address_pairs === undefined ? undefined : validatePairs(patch.allowed_address_pairs);
  return deps.db.transaction().execute(async (trx) => {
    const row = await getPort(trx, caller, id);
    const next: PortTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      admin_state_up: patch.admin_state_up === undefined ? row.admin_state_up : patch.admin_state_up ? 1 : 0,
      mac_address: patch.mac_address?.toLowerCase() ?? row.mac_address,
      device_id: patch.device_id ?? row.device_id,
      device_owner: patch.device_owner ?? row.device_owner,
      host_id: patch['binding:host_id'] ?? row.host_id,
      binding_profile: patch['binding:profile'] === undefined ? row.binding_profile : JSON.stringify(patch['binding:profile'] ?? {}),
      port_security_enabled: patch.port_security_enabled === undefined ? row.port_security_enabled : patch.port_security_enabled ? 1 : 0,
      allowed_address_pairs: pairs ? JSON.stringify(pairs) : row.allowed_address_pairs,
      updated_at: neutronTime(deps.now()),
      revision_number: row.revision_number + 1,
    };
    if (next.host_id !== row.host_id) {
      // A port moved or unbound is DOWN until the agent of its new host has plugged it.
      next.status = 'DOWN';
      next.vif_type = 'unbound';
    }
    if (patch.security_groups !== undefined) {
      next.security_groups = JSON.stringify(await portSecurityGroups(deps, trx, caller, row.project_id, patch.security_groups, next.port_security_enabled === 1, next.device_owner));
    }
    if (next.port_security_enabled === 0 && fromJsonArray<string>(next.security_groups).length > 0) {
      throw neutronError('ERR_CONFLICT', 'PortSecurityPortHasSecurityGroup', 'Port has security group associated. Cannot disable port security or ip address until security group is removed.');
    }
    await trx.updateTable('network_port').set(next).where('id', '=', id).execute();
    await markChanged(trx);
    if (patch.fixed_ips !== undefined) {
      // Keep addresses that are asked for again; release the rest; allocate the new ones.
      const current = (await fixedIpsByPort(trx, [id])).get(id) ?? [];
      const keep = current.filter((c) => patch.fixed_ips!.some((r) => r.ip_address === c.ip_address && (!r.subnet_id || r.subnet_id === c.subnet_id)));
      const release = current.filter((c) => !keep.includes(c));
      for (const r of release) await trx.deleteFrom('network_ip_allocation').where('subnet_id', '=', r.subnet_id).where('ip_address', '=', r.ip_address).execute();
      const fresh = patch.fixed_ips.filter((r) => !keep.some((k) => k.ip_address === r.ip_address));
      const network = await getNetwork(trx, caller, row.network_id);
      await allocate(trx, network, fresh, id, next.device_owner === 'network:router_interface');
    }
    return { port: next, fixedIps: (await fixedIpsByPort(trx, [id])).get(id) ?? [] };
  });
}

/** Ports that routers and floating IPs own are removed through those resources, as in Neutron. */
const SERVICE_OWNERS = ['network:router_interface', 'network:router_gateway', 'network:floatingip'];

export async function deletePort(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const port = await getPort(trx, caller, id);
    if (SERVICE_OWNERS.includes(port.device_owner)) {
      throw neutronError('ERR_CONFLICT', 'ServicePortInUse', `Port ${id} cannot be deleted directly via the port API: has device owner ${port.device_owner}.`);
    }
    await removePortRows(trx, id);
  });
}

/** Deletes a port's rows inside `trx`, releasing its addresses and any floating IP bound to it. */
export async function removePortRows(trx: Db, id: string): Promise<void> {
  await trx.updateTable('network_floating_ip').set({ port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' }).where('port_id', '=', id).execute();
  await trx.deleteFrom('network_ip_allocation').where('owner', '=', id).execute();
  await trx.deleteFrom('network_port').where('id', '=', id).execute();
  await markChanged(trx);
}
