/**
 * What other services (containers now, servers later) use to give their workloads network
 * ports: name-or-id resolution, the project's default network, port creation and adoption,
 * binding to a host and a namespace, addresses for display, release. The only door into the
 * network service's tables for them.
 * @module
 */
import { fromJsonArray, neutronError } from './context.js';
import type { Caller, NetworkDeps } from './context.js';
import { ipVersion } from './ip.js';
import { networkNotFound, visibleNetworks } from './networks.js';
import { createPort, deletePort, fixedIpsByPort, getPort, updatePort } from './ports.js';
import type { FixedIpRequest } from './ports.js';
import type { NetworkTable } from './schema.js';
import { listGroups } from './security-groups.js';

export interface WorkloadPortRequest {
  readonly networkId: string;
  readonly fixedIps: readonly string[];
  /** Security group names or ids of the caller's project; empty: the project's default group. */
  readonly securityGroups: readonly string[];
  readonly deviceId: string;
  readonly deviceOwner: string;
}

export interface WorkloadAddress {
  readonly addr: string;
  readonly version: 4 | 6;
  readonly port: string;
  readonly subnet_id: string;
  readonly preserve_on_delete: boolean;
}

/** A network the caller may attach to, by id or by unique name. */
export async function resolveNetworkRef(deps: NetworkDeps, caller: Caller, ref: string): Promise<NetworkTable> {
  const visible = (await visibleNetworks(deps.db, caller)).filter((n) => caller.isAdmin || n.project_id === caller.projectId || n.shared === 1);
  const byId = visible.find((n) => n.id === ref);
  if (byId) return byId;
  const byName = visible.filter((n) => n.name === ref);
  if (byName.length > 1) throw neutronError('ERR_CONFLICT', 'Conflict', `Multiple networks exist with name ${ref}; use the network id.`);
  if (!byName.length) throw networkNotFound(ref);
  return byName[0];
}

/** The project's own network when it has exactly one (external ones do not count). */
export async function defaultProjectNetwork(deps: NetworkDeps, caller: Caller): Promise<NetworkTable> {
  const own = (await visibleNetworks(deps.db, caller)).filter((n) => n.project_id === caller.projectId && n.external !== 1);
  if (own.length === 1) return own[0];
  throw neutronError('ERR_VALIDATION', 'BadRequest', own.length === 0
    ? 'The project has no network; create one or name one with --net network=NAME.'
    : `The project has ${own.length} networks; say which with --net network=NAME.`);
}

export async function groupIds(deps: NetworkDeps, caller: Caller, refs: readonly string[]): Promise<string[] | undefined> {
  if (!refs.length) return undefined;
  const { groups } = await listGroups(deps, caller);
  const own = groups.filter((g) => g.project_id === caller.projectId);
  return refs.map((ref) => {
    const byId = own.find((g) => g.id === ref);
    if (byId) return byId.id;
    const byName = own.filter((g) => g.name === ref);
    if (byName.length !== 1) {
      throw neutronError(byName.length ? 'ERR_CONFLICT' : 'ERR_NOT_FOUND', 'SecurityGroupNotFound', byName.length ? `Multiple security groups are named ${ref}; use the id.` : `Security group ${ref} not found.`);
    }
    return byName[0].id;
  });
}

export async function createWorkloadPort(deps: NetworkDeps, caller: Caller, request: WorkloadPortRequest): Promise<string> {
  const fixed_ips: FixedIpRequest[] | undefined = request.fixedIps.length ? request.fixedIps.map((ip) => ({ ip_address: ip })) : undefined;
  const { port } = await createPort(deps, caller, {
    network_id: request.networkId,
    fixed_ips,
    security_groups: await groupIds(deps, caller, request.securityGroups),
    device_id: request.deviceId,
    device_owner: request.deviceOwner,
  });
  return port.id;
}

/** Takes over an existing, unattached port of the caller's (`--net port=`). */
export async function adoptWorkloadPort(deps: NetworkDeps, caller: Caller, portId: string, deviceId: string, deviceOwner: string): Promise<string> {
  const port = await getPort(deps.db, caller, portId);
  if (port.device_id || port.device_owner) {
    throw neutronError('ERR_CONFLICT', 'PortInUse', `Port ${port.id} is in use by ${port.device_owner || 'another device'} ${port.device_id}.`);
  }
  await updatePort(deps, caller, port.id, { device_id: deviceId, device_owner: deviceOwner });
  return port.id;
}

const system = (projectId: string): Caller => ({ projectId, isAdmin: true });

/** Binds ports to `host`, with their far ends in `netns` and their addresses set there (no DHCP client in a container); the network agent plugs them and reports ACTIVE. */
export async function bindWorkloadPorts(deps: NetworkDeps, portIds: readonly string[], host: string, netns: string): Promise<void> {
  let bound = 0;
  for (const id of portIds) {
    const port = await getPort(deps.db, system(''), id);
    const profile = JSON.parse(port.binding_profile) as { kumo_netns?: string };
    if (port.host_id === host && profile.kumo_netns === netns) continue;
    await updatePort(deps, system(port.project_id), id, { 'binding:host_id': host, 'binding:profile': { kumo_netns: netns, kumo_ifname: `eth${portIds.indexOf(id)}`, kumo_static: true } });
    bound++;
  }
  // An agent binds (no API request announces it): the local network agent plugs them at once rather than at its next poll.
  if (bound) deps.changes.notify();
}

/** Rows per `in (...)` list: well under SQLite's and PostgreSQL's limits on bound parameters. */
const IN_CHUNK = 500;

/** Ports of `portIds` that are not (yet) ACTIVE; missing ports count as not active. */
export async function inactivePorts(deps: NetworkDeps, portIds: readonly string[]): Promise<string[]> {
  const status = new Map<string, string>();
  for (let i = 0; i < portIds.length; i += IN_CHUNK) {
    const rows = await deps.db.selectFrom('network_port').select(['id', 'status']).where('id', 'in', portIds.slice(i, i + IN_CHUNK)).execute();
    for (const r of rows) status.set(r.id, r.status);
  }
  return portIds.filter((id) => status.get(id) !== 'ACTIVE');
}

/** Deletes the ports Kumo created for a workload and gives adopted ones back (unbound, no device). */
export async function releaseWorkloadPorts(deps: NetworkDeps, ports: readonly { readonly id: string; readonly adopted: boolean }[]): Promise<void> {
  for (const p of ports) {
    const row = await deps.db.selectFrom('network_port').select(['id', 'project_id']).where('id', '=', p.id).executeTakeFirst();
    if (!row) continue;
    if (p.adopted) {
      await updatePort(deps, system(row.project_id), p.id, { device_id: '', device_owner: '', 'binding:host_id': '', 'binding:profile': {} });
    } else {
      await deletePort(deps, system(row.project_id), p.id);
    }
  }
}

/** Zun's `addresses`: network id → the ports' addresses. */
export async function workloadAddresses(deps: NetworkDeps, portIds: readonly string[]): Promise<Record<string, WorkloadAddress[]>> {
  return (await workloadAddressesOfMany(deps, [portIds]))[0];
}

/**
 * `workloadAddresses` for many workloads with two queries per 500 ports, not two per workload: a
 * list of hundreds of containers otherwise queues hundreds of queries on the one SQLite connection.
 */
export async function workloadAddressesOfMany(deps: NetworkDeps, workloads: readonly (readonly string[])[]): Promise<Record<string, WorkloadAddress[]>[]> {
  const all = [...new Set(workloads.flat())];
  const networkOf = new Map<string, string>();
  const ips = new Map<string, { subnet_id: string; ip_address: string }[]>();
  for (let i = 0; i < all.length; i += IN_CHUNK) {
    const chunk = all.slice(i, i + IN_CHUNK);
    for (const p of await deps.db.selectFrom('network_port').select(['id', 'network_id']).where('id', 'in', chunk).execute()) networkOf.set(p.id, p.network_id);
    for (const [id, list] of await fixedIpsByPort(deps.db, chunk)) ips.set(id, list);
  }
  return workloads.map((portIds) => {
    const out: Record<string, WorkloadAddress[]> = {};
    for (const id of portIds) {
      const network = networkOf.get(id);
      if (!network) continue;
      for (const f of ips.get(id) ?? []) {
        (out[network] ??= []).push({ addr: f.ip_address, version: ipVersion(f.ip_address) ?? 4, port: id, subnet_id: f.subnet_id, preserve_on_delete: false });
      }
    }
    return out;
  });
}

/** The DNS servers and gateway of a port's first IPv4 subnet, for the workload's /etc/resolv.conf. */
export async function workloadDns(deps: NetworkDeps, portIds: readonly string[]): Promise<string[]> {
  const ips = await fixedIpsByPort(deps.db, [...portIds]);
  const subnetIds = [...ips.values()].flat().map((f) => f.subnet_id);
  if (!subnetIds.length) return [];
  const subnets = await deps.db.selectFrom('network_subnet').select(['dns_nameservers']).where('id', 'in', subnetIds).execute();
  return [...new Set(subnets.flatMap((s) => fromJsonArray<string>(s.dns_nameservers)))];
}

/** Adds or removes a security group (name or id of the caller's project) on every one of `portIds`. */
export async function changeWorkloadGroup(deps: NetworkDeps, caller: Caller, portIds: readonly string[], ref: string, add: boolean): Promise<void> {
  const [groupId] = (await groupIds(deps, caller, [ref]))!;
  for (const id of portIds) {
    const port = await getPort(deps.db, caller, id);
    const current = fromJsonArray<string>(port.security_groups);
    if (add === current.includes(groupId)) {
      throw neutronError('ERR_CONFLICT', 'Conflict', add ? `Security group ${ref} is already on port ${id}.` : `Security group ${ref} is not on port ${id}.`);
    }
    await updatePort(deps, caller, id, { security_groups: add ? [...current, groupId] : current.filter((g) => g !== groupId) });
  }
}

/** The networks of a workload's ports with their addresses (Zun's network_list). */
export async function workloadNetworks(deps: NetworkDeps, portIds: readonly string[]) {
  if (!portIds.length) return [];
  const ports = await deps.db.selectFrom('network_port').select(['id', 'network_id']).where('id', 'in', [...portIds]).execute();
  const ips = await fixedIpsByPort(deps.db, ports.map((p) => p.id));
  return ports.map((p) => ({
    net_id: p.network_id,
    port_id: p.id,
    fixed_ips: (ips.get(p.id) ?? []).map((f) => ({ ip_address: f.ip_address, subnet_id: f.subnet_id, version: ipVersion(f.ip_address) ?? 4 })),
  }));
}

/** Nova's `addresses` entry: fixed addresses of the port and the floating ones mapped to them. */
export interface ServerAddress {
  readonly version: 4 | 6;
  readonly addr: string;
  readonly 'OS-EXT-IPS:type': 'fixed' | 'floating';
  readonly 'OS-EXT-IPS-MAC:mac_addr': string;
}

/** Nova's `addresses` of many servers (network name → addresses), with a fixed number of queries per 500 ports. */
export async function serverAddressesOfMany(deps: NetworkDeps, servers: readonly (readonly string[])[]): Promise<Record<string, ServerAddress[]>[]> {
  const all = [...new Set(servers.flat())];
  const ports = new Map<string, { network_id: string; mac_address: string }>();
  const ips = new Map<string, { subnet_id: string; ip_address: string }[]>();
  const floating = new Map<string, { fixed: string | null; addr: string }[]>();
  const networkNames = new Map<string, string>();
  for (let i = 0; i < all.length; i += IN_CHUNK) {
    const chunk = all.slice(i, i + IN_CHUNK);
    for (const p of await deps.db.selectFrom('network_port').select(['id', 'network_id', 'mac_address']).where('id', 'in', chunk).execute()) ports.set(p.id, p);
    for (const [id, list] of await fixedIpsByPort(deps.db, chunk)) ips.set(id, list);
    for (const f of await deps.db.selectFrom('network_floating_ip').select(['port_id', 'fixed_ip_address', 'floating_ip_address']).where('port_id', 'in', chunk).execute()) {
      if (f.port_id) (floating.get(f.port_id) ?? floating.set(f.port_id, []).get(f.port_id)!).push({ fixed: f.fixed_ip_address, addr: f.floating_ip_address });
    }
  }
  const netIds = [...new Set([...ports.values()].map((p) => p.network_id))];
  for (let i = 0; i < netIds.length; i += IN_CHUNK) {
    for (const n of await deps.db.selectFrom('network_network').select(['id', 'name']).where('id', 'in', netIds.slice(i, i + IN_CHUNK)).execute()) networkNames.set(n.id, n.name || n.id);
  }
  return servers.map((portIds) => {
    const out: Record<string, ServerAddress[]> = {};
    for (const id of portIds) {
      const port = ports.get(id);
      if (!port) continue;
      const list = (out[networkNames.get(port.network_id) ?? port.network_id] ??= []);
      for (const f of ips.get(id) ?? []) {
        list.push({ version: ipVersion(f.ip_address) ?? 4, addr: f.ip_address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address });
      }
      for (const f of floating.get(id) ?? []) {
        list.push({ version: ipVersion(f.addr) ?? 4, addr: f.addr, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address });
      }
    }
    return out;
  });
}

/** What a hypervisor (and the metadata a VM reads) needs of its ports, in the order given. */
export interface VmPortDetail {
  readonly id: string;
  readonly networkId: string;
  readonly macAddress: string;
  readonly mtu: number;
  readonly fixedIps: readonly {
    readonly subnetId: string;
    readonly ipAddress: string;
    readonly version: 4 | 6;
    readonly cidr: string;
    readonly gateway: string | null;
    readonly dhcp: boolean;
    readonly dns: readonly string[];
    readonly routes: readonly { readonly destination: string; readonly nexthop: string }[];
  }[];
  readonly floatingIps: readonly string[];
}

export async function vmPortDetails(deps: NetworkDeps, portIds: readonly string[]): Promise<VmPortDetail[]> {
  if (!portIds.length) return [];
  const ports = await deps.db.selectFrom('network_port').select(['id', 'network_id', 'mac_address']).where('id', 'in', [...portIds]).execute();
  const nets = await deps.db.selectFrom('network_network').select(['id', 'mtu']).where('id', 'in', [...new Set(ports.map((p) => p.network_id))]).execute();
  const ips = await fixedIpsByPort(deps.db, ports.map((p) => p.id));
  const subnetIds = [...new Set([...ips.values()].flat().map((f) => f.subnet_id))];
  const subnets = new Map((subnetIds.length ? await deps.db.selectFrom('network_subnet').selectAll().where('id', 'in', subnetIds).execute() : []).map((s) => [s.id, s]));
  const floating = await deps.db.selectFrom('network_floating_ip').select(['port_id', 'floating_ip_address']).where('port_id', 'in', [...portIds]).execute();
  const byId = new Map(ports.map((p) => [p.id, p]));
  return portIds.flatMap((id) => {
    const p = byId.get(id);
    if (!p) return [];
    return [{
      id, networkId: p.network_id, macAddress: p.mac_address, mtu: nets.find((n) => n.id === p.network_id)?.mtu ?? 1500,
      fixedIps: (ips.get(id) ?? []).flatMap((f) => {
        const s = subnets.get(f.subnet_id);
        if (!s) return [];
        return [{
          subnetId: f.subnet_id, ipAddress: f.ip_address, version: (s.ip_version === 6 ? 6 : 4) as 4 | 6, cidr: s.cidr, gateway: s.gateway_ip, dhcp: s.enable_dhcp === 1,
          dns: fromJsonArray<string>(s.dns_nameservers), routes: fromJsonArray<{ destination: string; nexthop: string }>(s.host_routes),
        }];
      }),
      floatingIps: floating.filter((f) => f.port_id === id).map((f) => f.floating_ip_address),
    }];
  });
}

/** The workload port on `networkId` that holds `ipAddress` (who is asking the metadata service), or undefined. */
export async function portByAddress(deps: NetworkDeps, networkId: string, ipAddress: string): Promise<{ id: string; deviceId: string; deviceOwner: string } | undefined> {
  const row = await deps.db.selectFrom('network_ip_allocation')
    .innerJoin('network_port', 'network_port.id', 'network_ip_allocation.owner')
    .select(['network_port.id as id', 'network_port.device_id as deviceId', 'network_port.device_owner as deviceOwner'])
    .where('network_port.network_id', '=', networkId).where('network_ip_allocation.ip_address', '=', ipAddress)
    .executeTakeFirst();
  return row;
}

/** Binds a VM's ports to `host` as tap devices (`tap` + the port id's first 11 characters) for QEMU to open; the network agent plugs them. */
export async function bindVmPorts(deps: NetworkDeps, portIds: readonly string[], host: string): Promise<void> {
  for (const id of portIds) {
    const port = await getPort(deps.db, system(''), id);
    if (port.host_id === host && port.binding_profile === '{}') continue;
    await updatePort(deps, system(port.project_id), id, { 'binding:host_id': host, 'binding:profile': {} });
  }
}

/** A security group as Nova's os-security-groups proxy shows it (ingress rules only, Nova's field names). */
export interface NovaSecurityGroup {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly tenant_id: string;
  readonly rules: readonly {
    readonly id: string;
    readonly parent_group_id: string;
    readonly ip_protocol: string | null;
    readonly from_port: number | null;
    readonly to_port: number | null;
    readonly group: { readonly name?: string; readonly tenant_id?: string };
    readonly ip_range: { readonly cidr?: string };
  }[];
}

/** The caller's security groups for Nova's proxy API (the project's own; all for admins). */
export async function novaSecurityGroups(deps: NetworkDeps, caller: Caller): Promise<NovaSecurityGroup[]> {
  const { groups, rules } = await listGroups(deps, caller);
  const byId = new Map(groups.map((g) => [g.id, g]));
  return groups.map((g) => ({
    id: g.id, name: g.name, description: g.description, tenant_id: g.project_id,
    rules: rules.filter((r) => r.security_group_id === g.id && r.direction === 'ingress').map((r) => ({
      id: r.id, parent_group_id: g.id, ip_protocol: r.protocol, from_port: r.port_range_min ?? (r.protocol ? -1 : null), to_port: r.port_range_max ?? (r.protocol ? -1 : null),
      group: r.remote_group_id ? { name: byId.get(r.remote_group_id)?.name, tenant_id: byId.get(r.remote_group_id)?.project_id } : {},
      ip_range: r.remote_group_id ? {} : { cidr: r.remote_ip_prefix ?? (r.ethertype === 'IPv6' ? '::/0' : '0.0.0.0/0') },
    })),
  }));
}

/** The names of the security groups on a workload's ports (what Nova shows for a server). */
export async function workloadGroupNames(deps: NetworkDeps, portIds: readonly string[]): Promise<string[]> {
  if (!portIds.length) return [];
  const ports = await deps.db.selectFrom('network_port').select(['security_groups']).where('id', 'in', [...portIds]).execute();
  const ids = [...new Set(ports.flatMap((p) => fromJsonArray<string>(p.security_groups)))];
  if (!ids.length) return [];
  return [...new Set((await deps.db.selectFrom('network_security_group').select(['name']).where('id', 'in', ids).execute()).map((g) => g.name))].sort();
}
