/**
 * What one host's data plane should look like, computed from the network service's tables,
 * and the write-back of what the agent observed. This is the network service's side of the
 * agent protocol: the agent never reads these tables itself.
 * @module
 */
import type {
  DhcpPortSpec, HostNetworkState, NetworkSpec, PortSpec, RouterSpec, SecurityGroupSpec, SyncReport,
} from '../drivers/net/types.js';
import type { Db } from '../store/database.js';
import { bumpRevision } from '../store/revision.js';
import { fromJsonArray, neutronTime, PORT_STATUS_REVISION, retryOnUniqueViolation } from './context.js';
import type { NetworkDeps } from './context.js';
import { parseCidr } from './ip.js';
import { allocate, fixedIpsByPort, insertPort } from './ports.js';
import type { AddressPair, FixedIp } from './ports.js';
import { ROUTER_GATEWAY, ROUTER_INTERFACE } from './routers.js';
import type { HostRoute } from './subnets.js';
import type { NetworkTable, PortTable, SubnetTable } from './schema.js';
import { KumoError } from '../errors.js';

export const DHCP_OWNER = 'network:dhcp';

export interface HostScope {
  /** The host name ports are bound to (`binding:host_id`). */
  readonly host: string;
  /** This host also runs every router and every network's DHCP server. */
  readonly networkNode: boolean;
}

/** The desired state plus what the write-back needs to know about it. */
export interface HostPlan {
  readonly state: HostNetworkState;
  /** Ports bound to this host that the driver plugs. */
  readonly boundPortIds: readonly string[];
  /** Router and DHCP ports this host realises, with the resource whose failure would make them DOWN. */
  readonly servicePorts: readonly { readonly portId: string; readonly resourceId: string }[];
  /** Floating IPs this host NATs, with their router. */
  readonly floatingIps: readonly { readonly id: string; readonly routerId: string }[];
}

const SERVICE_OWNERS = [ROUTER_INTERFACE, ROUTER_GATEWAY, 'network:floatingip', DHCP_OWNER];
const withPrefix = (ip: string, cidr: string) => `${ip}/${parseCidr(cidr)!.prefix}`;

function plugOf(port: PortTable, fixedIps: FixedIp[], subnets: Map<string, SubnetTable>): PortSpec['plug'] {
  const profile = JSON.parse(port.binding_profile) as { kumo_netns?: unknown; kumo_ifname?: unknown; kumo_static?: unknown };
  if (typeof profile.kumo_netns === 'string' && profile.kumo_netns) {
    const ifname = typeof profile.kumo_ifname === 'string' && profile.kumo_ifname ? profile.kumo_ifname : 'eth0';
    if (profile.kumo_static !== true) return { kind: 'veth', netns: profile.kumo_netns, ifname };
    const known = fixedIps.filter((f) => subnets.has(f.subnet_id));
    const gateway = known.map((f) => subnets.get(f.subnet_id)!).find((s) => s.ip_version === 4 && s.gateway_ip)?.gateway_ip ?? null;
    return { kind: 'veth', netns: profile.kumo_netns, ifname, static: { addresses: known.map((f) => withPrefix(f.ip_address, subnets.get(f.subnet_id)!.cidr)), gateway } };
  }
  return { kind: 'tap' };
}

function subnetSpec(s: SubnetTable) {
  return {
    id: s.id,
    cidr: s.cidr,
    ipVersion: s.ip_version as 4 | 6,
    gatewayIp: s.gateway_ip,
    enableDhcp: s.enable_dhcp === 1,
    dnsNameservers: fromJsonArray<string>(s.dns_nameservers),
    hostRoutes: fromJsonArray<HostRoute>(s.host_routes),
  };
}

/** Adds the DHCP port of a network, or the addresses it lacks on its DHCP subnets. */
async function ensureDhcpPort(deps: NetworkDeps, network: NetworkTable, dhcpSubnets: SubnetTable[], existing: PortTable | undefined, held: FixedIp[]): Promise<void> {
  const missing = dhcpSubnets.filter((s) => !held.some((f) => f.subnet_id === s.id));
  if (existing && missing.length === 0) return;
  await retryOnUniqueViolation(() => deps.db.transaction().execute(async (trx) => {
    if (!existing) {
      await insertPort(deps, trx, {
        network,
        projectId: network.project_id,
        input: { device_owner: DHCP_OWNER, device_id: `dhcp-${network.id}`, fixed_ips: dhcpSubnets.map((s) => ({ subnet_id: s.id })) },
        groups: [],
        portSecurity: false,
        pairs: [],
      });
    } else {
      await allocate(trx, network, missing.map((s) => ({ subnet_id: s.id })), existing.id, false);
    }
  }), () => new KumoError('ERR_CONFLICT', `could not allocate a DHCP address on network ${network.id}`));
}

/**
 * The desired data plane of `scope.host`. On the network node this may first create or
 * complete DHCP ports (a write of its own, which moves the revision once more).
 */
export async function planHostNetwork(deps: NetworkDeps, scope: HostScope, dhcpPortsEnsured = false): Promise<HostPlan> {
  const { db } = deps;
  const allPorts = await db.selectFrom('network_port').selectAll().execute();
  const bound = allPorts.filter((p) => p.host_id === scope.host && !SERVICE_OWNERS.includes(p.device_owner));
  const routers = scope.networkNode ? await db.selectFrom('network_router').selectAll().execute() : [];
  const routerIds = new Set(routers.map((r) => r.id));
  const routerPorts = allPorts.filter((p) => (p.device_owner === ROUTER_INTERFACE || p.device_owner === ROUTER_GATEWAY) && routerIds.has(p.device_id));
  const activeRouters = routers.filter((r) => r.gw_port_id || routerPorts.some((p) => p.device_id === r.id));

  const networkIds = new Set([...bound, ...routerPorts].map((p) => p.network_id));
  // The network node serves DHCP for every network with a port bound anywhere.
  if (scope.networkNode) for (const p of allPorts) if (p.host_id && !SERVICE_OWNERS.includes(p.device_owner)) networkIds.add(p.network_id);
  const networks = networkIds.size ? await db.selectFrom('network_network').selectAll().where('id', 'in', [...networkIds]).execute() : [];
  const subnets = networkIds.size ? await db.selectFrom('network_subnet').selectAll().where('network_id', 'in', [...networkIds]).execute() : [];

  const ips = await fixedIpsByPort(db, allPorts.map((p) => p.id));
  if (scope.networkNode && !dhcpPortsEnsured) {
    let created = false;
    for (const n of networks) {
      const dhcpSubnets = subnets.filter((s) => s.network_id === n.id && s.enable_dhcp === 1 && s.ip_version === 4);
      if (!dhcpSubnets.length) continue;
      const existing = allPorts.find((p) => p.network_id === n.id && p.device_owner === DHCP_OWNER);
      const before = existing ? (ips.get(existing.id) ?? []) : [];
      if (!existing || dhcpSubnets.some((s) => !before.some((f) => f.subnet_id === s.id))) {
        try {
          await ensureDhcpPort(deps, n, dhcpSubnets, existing, before);
          created = true;
        } catch (err) {
          // A full subnet must not stop the rest of the host: that network goes without DHCP until an address frees up.
          deps.logger.warn({ err, network: n.id }, 'no address for the DHCP port');
        }
      }
    }
    if (created) return planHostNetwork(deps, scope, true);
  }

  const subnetById = new Map(subnets.map((s) => [s.id, s]));
  const dhcpSubnetIds = new Set(subnets.filter((s) => s.enable_dhcp === 1 && s.ip_version === 4).map((s) => s.id));
  const networkSpecs: NetworkSpec[] = networks.map((n) => {
    const dhcp = scope.networkNode ? allPorts.find((p) => p.network_id === n.id && p.device_owner === DHCP_OWNER) : undefined;
    let dhcpPort: DhcpPortSpec | null = null;
    if (dhcp) {
      const hosts = allPorts
        .filter((p) => p.network_id === n.id && !SERVICE_OWNERS.includes(p.device_owner))
        .flatMap((p) => (ips.get(p.id) ?? []).filter((f) => dhcpSubnetIds.has(f.subnet_id))
          .map((f) => ({ portId: p.id, macAddress: p.mac_address, ipAddress: f.ip_address, hostname: `host-${f.ip_address.replaceAll('.', '-')}` })));
      dhcpPort = { portId: dhcp.id, macAddress: dhcp.mac_address, fixedIps: (ips.get(dhcp.id) ?? []).map((f) => ({ subnetId: f.subnet_id, ipAddress: f.ip_address })), hosts };
    }
    return {
      id: n.id,
      type: n.network_type as 'flat' | 'vxlan',
      segmentationId: n.segmentation_id,
      physicalNetwork: n.physical_network,
      mtu: n.mtu,
      subnets: subnets.filter((s) => s.network_id === n.id).map(subnetSpec),
      vxlanPeers: [],
      dhcpPort,
    };
  });

  const portSpecs: PortSpec[] = bound.map((p) => ({
    id: p.id,
    networkId: p.network_id,
    macAddress: p.mac_address,
    fixedIps: (ips.get(p.id) ?? []).map((f) => ({ subnetId: f.subnet_id, ipAddress: f.ip_address })),
    plug: plugOf(p, ips.get(p.id) ?? [], subnetById),
    adminStateUp: p.admin_state_up === 1,
    portSecurityEnabled: p.port_security_enabled === 1,
    allowedAddressPairs: fromJsonArray<AddressPair>(p.allowed_address_pairs).map((a) => ({ ipAddress: a.ip_address, macAddress: a.mac_address ?? null })),
    securityGroupIds: p.port_security_enabled === 1 ? fromJsonArray<string>(p.security_groups) : [],
  }));

  const securityGroups = await groupSpecs(db, portSpecs, allPorts, ips);

  const fips = activeRouters.length ? await db.selectFrom('network_floating_ip').selectAll().where('router_id', 'in', activeRouters.map((r) => r.id)).execute() : [];
  const gatewaySubnets = new Map<string, SubnetTable>();
  const gwIds = routerPorts.filter((p) => p.device_owner === ROUTER_GATEWAY).flatMap((p) => (ips.get(p.id) ?? []).map((f) => f.subnet_id));
  if (gwIds.length) for (const s of await db.selectFrom('network_subnet').selectAll().where('id', 'in', gwIds).execute()) gatewaySubnets.set(s.id, s);
  const routerPortSpec = (p: PortTable, lookup: Map<string, SubnetTable>) => ({
    portId: p.id,
    networkId: p.network_id,
    macAddress: p.mac_address,
    addresses: (ips.get(p.id) ?? []).filter((f) => lookup.has(f.subnet_id)).map((f) => withPrefix(f.ip_address, lookup.get(f.subnet_id)!.cidr)),
  });
  const routerSpecs: RouterSpec[] = activeRouters.map((r) => {
    const gwPort = routerPorts.find((p) => p.id === r.gw_port_id);
    const gwSubnet = gwPort ? (ips.get(gwPort.id) ?? []).map((f) => gatewaySubnets.get(f.subnet_id)).find((s) => s && s.ip_version === 4) : undefined;
    return {
      id: r.id,
      interfaces: routerPorts.filter((p) => p.device_id === r.id && p.device_owner === ROUTER_INTERFACE).map((p) => routerPortSpec(p, subnetById)),
      gateway: gwPort ? { ...routerPortSpec(gwPort, gatewaySubnets), defaultGateway: gwSubnet?.gateway_ip ?? null, enableSnat: r.enable_snat === 1 } : null,
      floatingIps: fips.filter((f) => f.router_id === r.id && f.port_id && f.fixed_ip_address)
        .map((f) => ({ id: f.id, floatingIp: f.floating_ip_address, fixedIp: f.fixed_ip_address! })),
      routes: [],
    };
  });
  const dhcpPorts = allPorts.filter((p) => p.device_owner === DHCP_OWNER && networkSpecs.some((n) => n.dhcpPort?.portId === p.id));
  return {
    state: { networks: networkSpecs, ports: portSpecs, securityGroups, routers: routerSpecs },
    boundPortIds: bound.map((p) => p.id),
    servicePorts: [
      ...routerPorts.filter((p) => activeRouters.some((r) => r.id === p.device_id)).map((p) => ({ portId: p.id, resourceId: p.device_id })),
      ...dhcpPorts.map((p) => ({ portId: p.id, resourceId: p.network_id })),
    ],
    floatingIps: fips.map((f) => ({ id: f.id, routerId: f.router_id! })),
  };
}

/** The groups the bound ports use, plus the groups their rules name as remote, with member addresses. */
async function groupSpecs(db: Db, ports: PortSpec[], allPorts: PortTable[], ips: Map<string, FixedIp[]>): Promise<SecurityGroupSpec[]> {
  const direct = [...new Set(ports.flatMap((p) => p.securityGroupIds))];
  if (!direct.length) return [];
  const rules = await db.selectFrom('network_security_group_rule').selectAll().where('security_group_id', 'in', direct).execute();
  const ids = [...new Set([...direct, ...rules.map((r) => r.remote_group_id).filter((g): g is string => !!g)])];
  const moreRules = ids.length > direct.length ? await db.selectFrom('network_security_group_rule').selectAll().where('security_group_id', 'in', ids.filter((g) => !direct.includes(g))).execute() : [];
  const members = new Map<string, string[]>(ids.map((g) => [g, []]));
  for (const p of allPorts) {
    if (p.port_security_enabled !== 1) continue;
    const addresses = [...(ips.get(p.id) ?? []).map((f) => f.ip_address), ...fromJsonArray<AddressPair>(p.allowed_address_pairs).map((a) => a.ip_address)];
    for (const g of fromJsonArray<string>(p.security_groups)) members.get(g)?.push(...addresses);
  }
  return ids.map((g) => ({
    id: g,
    rules: [...rules, ...moreRules].filter((r) => r.security_group_id === g).map((r) => ({
      id: r.id,
      direction: r.direction as 'ingress' | 'egress',
      ethertype: r.ethertype as 'IPv4' | 'IPv6',
      protocol: r.protocol,
      portRangeMin: r.port_range_min,
      portRangeMax: r.port_range_max,
      remoteIpPrefix: r.remote_ip_prefix,
      remoteGroupId: r.remote_group_id,
    })),
    memberAddresses: members.get(g) ?? [],
  }));
}

/**
 * Writes what the agent observed: bound ports ACTIVE when plugged (DOWN otherwise), router and
 * DHCP ports ACTIVE unless their resource failed, floating IPs ACTIVE when their router's NAT is in
 * place. Rows are only written when something changes, and the network's revision is not moved:
 * status is observation, not desired state. Ports turning ACTIVE move PORT_STATUS_REVISION instead,
 * for the servers and containers waiting for them.
 */
export async function recordHostNetworkStatus(deps: NetworkDeps, scope: HostScope, plan: HostPlan, report: SyncReport): Promise<void> {
  const failed = new Set(report.failures.map((f) => f.resourceId));
  const active = new Set(report.activePorts);
  const now = neutronTime(deps.now());
  const bound = new Set(plan.boundPortIds);
  const want = new Map<string, { status: string; vif: string }>();
  for (const id of plan.boundPortIds) want.set(id, { status: active.has(id) && !failed.has(id) ? 'ACTIVE' : 'DOWN', vif: failed.has(id) ? 'binding_failed' : 'bridge' });
  for (const p of plan.servicePorts) want.set(p.portId, { status: failed.has(p.resourceId) ? 'DOWN' : 'ACTIVE', vif: 'bridge' });
  let activated = 0;
  if (want.size) {
    const rows = await deps.db.selectFrom('network_port').select(['id', 'status', 'vif_type', 'host_id', 'revision_number']).where('id', 'in', [...want.keys()]).execute();
    for (const row of rows) {
      const w = want.get(row.id)!;
      // A port unbound or moved since the plan was made is not this host's to report on.
      if (bound.has(row.id) && row.host_id !== scope.host) continue;
      if (row.status === w.status && row.vif_type === w.vif && row.host_id === scope.host) continue;
      let update = deps.db.updateTable('network_port')
        .set({ status: w.status, vif_type: w.vif, host_id: scope.host, updated_at: now, revision_number: row.revision_number + 1 })
        .where('id', '=', row.id);
      if (bound.has(row.id)) update = update.where('host_id', '=', scope.host);
      await update.execute();
      if (w.status === 'ACTIVE') activated++;
    }
  }
  if (activated) {
    await bumpRevision(deps.db, PORT_STATUS_REVISION);
    deps.changes.notify();
  }
  for (const f of plan.floatingIps) {
    const status = failed.has(f.routerId) ? 'DOWN' : 'ACTIVE';
    await deps.db.updateTable('network_floating_ip').set({ status }).where('id', '=', f.id).where('status', '!=', status).where('port_id', 'is not', null).execute();
  }
}
