import type { Db } from '../store/database.js';
import type { NetworkTable, SubnetTable } from './schema.js';
import { badInput, fromJsonArray, markChanged, neutronError, neutronTime } from './context.js';
import { checkQuota } from './quotas.js';
import type { Caller, NetworkDeps } from './context.js';
import { bigIntToIp, cidrContains, cidrsOverlap, formatCidr, hostRange, ipToBigInt, ipVersion, parseCidr } from './ip.js';
import type { Cidr } from './ip.js';
import { getNetwork, getOwnNetwork } from './networks.js';

export interface Pool { start: string; end: string }
export interface HostRoute { destination: string; nexthop: string }

export interface SubnetInput {
  network_id?: string;
  name?: string;
  description?: string;
  ip_version?: number;
  cidr?: string;
  gateway_ip?: string | null;
  enable_dhcp?: boolean;
  allocation_pools?: Pool[];
  dns_nameservers?: string[];
  host_routes?: HostRoute[];
  ipv6_ra_mode?: string | null;
  ipv6_address_mode?: string | null;
  tenant_id?: string;
  project_id?: string;
}

export const subnetNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'SubnetNotFound', `Subnet ${id} could not be found.`);

export function renderSubnet(row: SubnetTable) {
  return {
    id: row.id,
    name: row.name,
    tenant_id: row.project_id,
    project_id: row.project_id,
    network_id: row.network_id,
    ip_version: row.ip_version,
    subnetpool_id: null,
    enable_dhcp: row.enable_dhcp === 1,
    ipv6_ra_mode: row.ipv6_ra_mode,
    ipv6_address_mode: row.ipv6_address_mode,
    gateway_ip: row.gateway_ip,
    cidr: row.cidr,
    allocation_pools: fromJsonArray<Pool>(row.allocation_pools),
    host_routes: fromJsonArray<HostRoute>(row.host_routes),
    dns_nameservers: fromJsonArray<string>(row.dns_nameservers),
    description: row.description,
    service_types: [] as string[],
    tags: fromJsonArray<string>(row.tags),
    created_at: row.created_at,
    updated_at: row.updated_at,
    revision_number: row.revision_number,
  };
}

export async function visibleSubnets(db: Db, caller: Caller): Promise<SubnetTable[]> {
  let q = db.selectFrom('network_subnet').innerJoin('network_network', 'network_network.id', 'network_subnet.network_id').selectAll('network_subnet');
  if (!caller.isAdmin) {
    // Neutron's get_subnet policy: owner or shared network; an external network alone is not enough.
    q = q.where((eb) => eb.or([eb('network_subnet.project_id', '=', caller.projectId), eb('network_network.shared', '=', 1)]));
  }
  return q.execute();
}

export async function getSubnet(db: Db, caller: Caller, id: string): Promise<SubnetTable> {
  const row = await db.selectFrom('network_subnet').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw subnetNotFound(id);
  let network: NetworkTable;
  try {
    network = await getNetwork(db, caller, row.network_id);
  } catch {
    throw subnetNotFound(id);
  }
  if (!caller.isAdmin && row.project_id !== caller.projectId && network.shared !== 1) throw subnetNotFound(id);
  return row;
}

// ---- validation ----

function checkAddress(field: string, address: string, cidr: Cidr): void {
  if (ipVersion(address) !== cidr.version) throw badInput(`'${address}' is not a valid IPv${cidr.version} address for ${field}.`);
}

/** Pools: inside the CIDR, start ≤ end, not overlapping each other, not containing the gateway. */
export function validatePools(pools: Pool[], cidr: Cidr, gateway: string | null): Pool[] {
  const ranges = pools.map((p) => {
    if (!p || typeof p.start !== 'string' || typeof p.end !== 'string') throw badInput('allocation_pools entries need start and end.');
    checkAddress('allocation_pools', p.start, cidr);
    checkAddress('allocation_pools', p.end, cidr);
    const start = ipToBigInt(p.start);
    const end = ipToBigInt(p.end);
    if (!cidrContains(cidr, p.start) || !cidrContains(cidr, p.end)) {
      throw neutronError('ERR_VALIDATION', 'OutOfBoundsAllocationPool', `The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${formatCidr(cidr)}.`);
    }
    if (start > end) throw neutronError('ERR_VALIDATION', 'InvalidAllocationPool', `The allocation pool ${p.start}-${p.end} is not valid.`);
    return { start, end, pool: { start: bigIntToIp(start, cidr.version), end: bigIntToIp(end, cidr.version) } };
  });
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].start <= ranges[i - 1].end) {
      throw neutronError('ERR_VALIDATION', 'OverlappingAllocationPools', `Found overlapping allocation pools: ${ranges[i - 1].pool.start}-${ranges[i - 1].pool.end} and ${ranges[i].pool.start}-${ranges[i].pool.end} for subnet ${formatCidr(cidr)}.`);
    }
  }
  if (gateway !== null) {
    const g = ipToBigInt(gateway);
    const hit = ranges.find((r) => g >= r.start && g <= r.end);
    if (hit) throw neutronError('ERR_CONFLICT', 'GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${hit.pool.start}-${hit.pool.end}.`);
  }
  return ranges.map((r) => r.pool);
}

/** The host range minus the gateway, as one or two pools. */
export function defaultPools(cidr: Cidr, gateway: string | null): Pool[] {
  const [first, last] = hostRange(cidr);
  const g = gateway === null ? undefined : ipToBigInt(gateway);
  const ranges: [bigint, bigint][] = [];
  if (g === undefined || g < first || g > last) ranges.push([first, last]);
  else {
    if (g > first) ranges.push([first, g - 1n]);
    if (g < last) ranges.push([g + 1n, last]);
  }
  return ranges.map(([s, e]) => ({ start: bigIntToIp(s, cidr.version), end: bigIntToIp(e, cidr.version) }));
}

function validateDns(servers: unknown): string[] {
  if (!Array.isArray(servers)) throw badInput('dns_nameservers must be a list of IP addresses.');
  for (const s of servers) if (typeof s !== 'string' || !ipVersion(s)) throw badInput(`'${String(s)}' is not a valid nameserver.`);
  if (new Set(servers).size !== servers.length) throw badInput('Duplicate nameserver in dns_nameservers.');
  return servers as string[];
}

function validateRoutes(routes: unknown, cidr: Cidr): HostRoute[] {
  if (!Array.isArray(routes)) throw badInput('host_routes must be a list of {destination, nexthop}.');
  return routes.map((r: HostRoute) => {
    const dest = typeof r?.destination === 'string' ? parseCidr(r.destination) : undefined;
    if (!dest || dest.version !== cidr.version) throw badInput(`Invalid host route destination '${String(r?.destination)}'.`);
    if (typeof r.nexthop !== 'string' || ipVersion(r.nexthop) !== cidr.version) throw badInput(`Invalid host route nexthop '${String(r?.nexthop)}'.`);
    return { destination: formatCidr(dest), nexthop: r.nexthop };
  });
}

export async function createSubnet(deps: NetworkDeps, caller: Caller, input: SubnetInput): Promise<SubnetTable> {
  if (!input.network_id) throw badInput("'network_id' is required.");
  if (typeof input.cidr !== 'string') throw badInput("'cidr' is required (subnet pools are not supported).");
  const version = input.ip_version ?? 4;
  if (version !== 4 && version !== 6) throw badInput(`ip_version must be 4 or 6, got ${String(input.ip_version)}.`);
  const cidr = parseCidr(input.cidr);
  if (!cidr) throw badInput(`'${input.cidr}' is not a valid IP subnet.`);
  if (cidr.version !== version) throw badInput(`Cidr ${input.cidr} does not match the ip_version ${version}.`);
  if (formatCidr(cidr) !== input.cidr.trim().toLowerCase() && formatCidr(cidr) !== input.cidr.trim()) {
    throw badInput(`'${input.cidr}' isn't a recognized IP subnet cidr, '${formatCidr(cidr)}' is recommended.`);
  }
  if (version === 4 && cidr.prefix > 30 && input.gateway_ip !== null) throw badInput(`The subnet ${input.cidr} is too small for a gateway and hosts.`);
  let gateway: string | null;
  if (input.gateway_ip === null) gateway = null;
  else if (input.gateway_ip === undefined) gateway = bigIntToIp(hostRange(cidr)[0], version);
  else {
    checkAddress('gateway_ip', input.gateway_ip, cidr);
    if (!cidrContains(cidr, input.gateway_ip)) throw badInput(`Gateway IP ${input.gateway_ip} is outside the subnet ${formatCidr(cidr)}.`);
    const g = ipToBigInt(input.gateway_ip);
    if (g === cidr.network || (version === 4 && g === cidr.network + cidr.size - 1n)) throw badInput(`Gateway IP ${input.gateway_ip} is the network or broadcast address of ${formatCidr(cidr)}.`);
    gateway = bigIntToIp(g, version);
  }
  const pools = input.allocation_pools === undefined ? defaultPools(cidr, gateway) : validatePools(input.allocation_pools, cidr, gateway);
  const dns = input.dns_nameservers === undefined ? [] : validateDns(input.dns_nameservers);
  const routes = input.host_routes === undefined ? [] : validateRoutes(input.host_routes, cidr);
  const now = neutronTime(deps.now());
  return deps.db.transaction().execute(async (trx) => {
    const network = await getOwnNetwork(trx, caller, input.network_id!);
    const projectId = input.project_id ?? input.tenant_id ?? network.project_id;
    if (!caller.isAdmin && projectId !== caller.projectId) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', 'Only admins may create subnets for other projects.');
    const siblings = await trx.selectFrom('network_subnet').select(['id', 'cidr']).where('network_id', '=', network.id).execute();
    for (const s of siblings) {
      const other = parseCidr(s.cidr)!;
      if (cidrsOverlap(other, cidr)) throw badInput(`Requested subnet with cidr: ${formatCidr(cidr)} for network: ${network.id} overlaps with another subnet (${s.cidr}).`);
    }
    const row: SubnetTable = {
      id: deps.newId(),
      project_id: projectId,
      network_id: network.id,
      name: input.name ?? '',
      description: input.description ?? '',
      ip_version: version,
      cidr: formatCidr(cidr),
      gateway_ip: gateway,
      enable_dhcp: input.enable_dhcp === false ? 0 : 1,
      allocation_pools: JSON.stringify(pools),
      dns_nameservers: JSON.stringify(dns),
      host_routes: JSON.stringify(routes),
      tags: '[]',
      ipv6_ra_mode: input.ipv6_ra_mode ?? null,
      ipv6_address_mode: input.ipv6_address_mode ?? null,
      created_at: now,
      updated_at: now,
      revision_number: 1,
    };
    await checkQuota(deps, trx, projectId, 'subnet');
    await trx.insertInto('network_subnet').values(row).execute();
    await markChanged(trx);
    return row;
  });
}

export async function updateSubnet(deps: NetworkDeps, caller: Caller, id: string, patch: SubnetInput): Promise<SubnetTable> {
  for (const fixed of ['network_id', 'cidr', 'ip_version', 'tenant_id', 'project_id'] as const) {
    if (patch[fixed] !== undefined) throw badInput(`Cannot update read-only attribute ${fixed}.`);
  }
  return deps.db.transaction().execute(async (trx) => {
    const row = await getSubnet(trx, caller, id);
    await getOwnNetwork(trx, caller, row.network_id);
    const cidr = parseCidr(row.cidr)!;
    let gateway = row.gateway_ip;
    if (patch.gateway_ip !== undefined) {
      if (patch.gateway_ip !== null) {
        checkAddress('gateway_ip', patch.gateway_ip, cidr);
        if (!cidrContains(cidr, patch.gateway_ip)) throw badInput(`Gateway IP ${patch.gateway_ip} is outside the subnet ${row.cidr}.`);
      }
      gateway = patch.gateway_ip;
    }
    const pools = patch.allocation_pools !== undefined
      ? validatePools(patch.allocation_pools, cidr, gateway)
      : validatePools(fromJsonArray<Pool>(row.allocation_pools), cidr, gateway);
    const next: SubnetTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      gateway_ip: gateway,
      enable_dhcp: patch.enable_dhcp === undefined ? row.enable_dhcp : patch.enable_dhcp ? 1 : 0,
      allocation_pools: JSON.stringify(pools),
      dns_nameservers: patch.dns_nameservers === undefined ? row.dns_nameservers : JSON.stringify(validateDns(patch.dns_nameservers)),
      host_routes: patch.host_routes === undefined ? row.host_routes : JSON.stringify(validateRoutes(patch.host_routes, cidr)),
      updated_at: neutronTime(deps.now()),
      revision_number: row.revision_number + 1,
    };
    await trx.updateTable('network_subnet').set(next).where('id', '=', id).execute();
    await markChanged(trx);
    return next;
  });
}

export async function deleteSubnet(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const row = await getSubnet(trx, caller, id);
    await getOwnNetwork(trx, caller, row.network_id);
    // Addresses of the network's DHCP port are released with the subnet, as in Neutron.
    const dhcpPorts = (await trx.selectFrom('network_port').select('id').where('network_id', '=', row.network_id).where('device_owner', '=', 'network:dhcp').execute()).map((p) => p.id);
    let usedQuery = trx.selectFrom('network_ip_allocation').select('owner').where('subnet_id', '=', id).where('owner', '!=', 'gateway');
    if (dhcpPorts.length) usedQuery = usedQuery.where('owner', 'not in', dhcpPorts);
    const used = await usedQuery.executeTakeFirst();
    if (used) throw neutronError('ERR_CONFLICT', 'SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
    await trx.deleteFrom('network_ip_allocation').where('subnet_id', '=', id).execute();
    await trx.deleteFrom('network_subnet').where('id', '=', id).execute();
    await markChanged(trx);
  });
}
