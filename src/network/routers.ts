/**
 * Neutron routers (the `router` and `ext-gw-mode` extensions). A router's interfaces are ports
 * it owns (device_owner network:router_interface, device_id = router); its external gateway is
 * a port on the external network that belongs to no project, as in Neutron.
 * @module
 */
import type { Db } from '../store/database.js';
import type { FloatingIpTable, NetworkTable, PortTable, RouterTable, SubnetTable } from './schema.js';
import { badInput, markChanged, neutronError, neutronTime, retryOnUniqueViolation, standardAttributes } from './context.js';
import type { Caller, NetworkDeps } from './context.js';
import { cidrsOverlap, parseCidr } from './ip.js';
import { getNetwork, networkNotFound } from './networks.js';
import { fixedIpsByPort, getPort, insertPort, portNotFound, removePortRows } from './ports.js';
import type { FixedIp, FixedIpRequest } from './ports.js';
import { checkQuota } from './quotas.js';
import { getSubnet } from './subnets.js';

export const ROUTER_INTERFACE = 'network:router_interface';
export const ROUTER_GATEWAY = 'network:router_gateway';

export interface GatewayInfo { network_id?: string; enable_snat?: boolean; external_fixed_ips?: FixedIpRequest[] }

export interface RouterInput {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  external_gateway_info?: GatewayInfo | null;
  tenant_id?: string;
  project_id?: string;
}

export const routerNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'RouterNotFound', `Router ${id} could not be found`);
const badRouterRequest = (id: string, why: string) => neutronError('ERR_VALIDATION', 'BadRequest', `Bad router request: ${why}`);

export function renderRouter(row: RouterTable, gatewayIps: FixedIp[]) {
  return {
    id: row.id,
    name: row.name,
    tenant_id: row.project_id,
    project_id: row.project_id,
    admin_state_up: row.admin_state_up === 1,
    status: 'ACTIVE',
    external_gateway_info: row.gw_network_id
      ? { network_id: row.gw_network_id, enable_snat: row.enable_snat === 1, external_fixed_ips: gatewayIps }
      : null,
    routes: [] as unknown[],
    availability_zone_hints: [] as string[],
    availability_zones: ['nova'],
    ...standardAttributes(row),
  };
}

/** The gateway addresses of each router, for rendering. */
export async function gatewayIpsByRouter(db: Db, routers: RouterTable[]): Promise<Map<string, FixedIp[]>> {
  const byPort = await fixedIpsByPort(db, routers.map((r) => r.gw_port_id).filter((p): p is string => !!p));
  return new Map(routers.map((r) => [r.id, r.gw_port_id ? (byPort.get(r.gw_port_id) ?? []) : []]));
}

export async function visibleRouters(db: Db, caller: Caller): Promise<RouterTable[]> {
  let q = db.selectFrom('network_router').selectAll();
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

export async function getRouter(db: Db, caller: Caller, id: string): Promise<RouterTable> {
  const row = await db.selectFrom('network_router').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw routerNotFound(id);
  return row;
}

export async function routerInterfacePorts(db: Db, routerId: string): Promise<PortTable[]> {
  return db.selectFrom('network_port').selectAll().where('device_id', '=', routerId).where('device_owner', '=', ROUTER_INTERFACE).execute();
}

function checkGatewayPolicy(caller: Caller, info: GatewayInfo | null | undefined, op: 'create' | 'update'): void {
  if (!info || caller.isAdmin) return;
  for (const attr of ['enable_snat', 'external_fixed_ips'] as const) {
    if (info[attr] !== undefined) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `(rule:${op}_router:external_gateway_info:${attr}) is disallowed by policy.`);
  }
}

const unusedAttribute = (info: GatewayInfo) => Object.keys(info).find((k) => !['network_id', 'enable_snat', 'external_fixed_ips'].includes(k));

/** Replaces the router's gateway inside `trx` (info null or without network_id: removes it). */
async function setGateway(deps: NetworkDeps, trx: Db, caller: Caller, router: RouterTable, info: GatewayInfo | null): Promise<RouterTable> {
  const wanted = info && info.network_id ? info : null;
  if (info && unusedAttribute(info)) throw badInput(`Unrecognized attribute '${unusedAttribute(info)!}' in external_gateway_info.`);
  if (info && Object.keys(info).length > 0 && !info.network_id) throw badInput('external_gateway_info needs a network_id.');
  const next = { ...router };
  const sameNetwork = wanted && router.gw_network_id === wanted.network_id && !wanted.external_fixed_ips;
  if (router.gw_port_id && !sameNetwork) {
    const inUse = await trx.selectFrom('network_floating_ip').select('id').where('router_id', '=', router.id).executeTakeFirst();
    if (inUse) {
      throw neutronError('ERR_CONFLICT', 'RouterExternalGatewayInUseByFloatingIp',
        `Gateway cannot be updated for router ${router.id}, since a gateway to external network ${router.gw_network_id!} is required by one or more floating IPs.`);
    }
    await removePortRows(trx, router.gw_port_id);
    next.gw_port_id = null;
    next.gw_network_id = null;
  }
  if (wanted && !sameNetwork) {
    let network: NetworkTable;
    try {
      network = await getNetwork(trx, caller, wanted.network_id!);
    } catch {
      throw networkNotFound(wanted.network_id!);
    }
    if (network.external !== 1) throw badRouterRequest(router.id, `Network ${network.id} is not an external network`);
    const v4 = await trx.selectFrom('network_subnet').select('id').where('network_id', '=', network.id).where('ip_version', '=', 4).executeTakeFirst();
    if (!v4 && !wanted.external_fixed_ips) throw badRouterRequest(router.id, `No IPv4 subnet on external network ${network.id}`);
    const { port } = await insertPort(deps, trx, {
      network,
      projectId: '',
      input: { device_owner: ROUTER_GATEWAY, device_id: router.id, fixed_ips: wanted.external_fixed_ips ?? [{ subnet_id: v4!.id }] },
      groups: [],
      portSecurity: false,
      pairs: [],
    });
    next.gw_port_id = port.id;
    next.gw_network_id = network.id;
  }
  if (wanted?.enable_snat !== undefined) next.enable_snat = wanted.enable_snat ? 1 : 0;
  else if (!wanted) next.enable_snat = 1;
  return next;
}

const exhausted = () => neutronError('ERR_CONFLICT', 'IpAddressAlreadyAllocated', 'An address was taken concurrently; try again.');

export async function createRouter(deps: NetworkDeps, caller: Caller, input: RouterInput): Promise<RouterTable> {
  const projectId = input.project_id ?? input.tenant_id ?? caller.projectId;
  if (!caller.isAdmin && projectId !== caller.projectId) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', 'Only admins may create routers for other projects.');
  checkGatewayPolicy(caller, input.external_gateway_info, 'create');
  return retryOnUniqueViolation(() => deps.db.transaction().execute(async (trx) => {
    await checkQuota(deps, trx, projectId, 'router');
    const now = neutronTime(deps.now());
    let row: RouterTable = {
      id: deps.newId(), project_id: projectId, name: input.name ?? '', description: input.description ?? '',
      admin_state_up: input.admin_state_up === false ? 0 : 1, gw_network_id: null, gw_port_id: null, enable_snat: 1,
      tags: '[]', created_at: now, updated_at: now, revision_number: 1,
    };
    if (input.external_gateway_info) row = await setGateway(deps, trx, caller, row, input.external_gateway_info);
    await trx.insertInto('network_router').values(row).execute();
    await markChanged(trx);
    return row;
  }), exhausted);
}

export async function updateRouter(deps: NetworkDeps, caller: Caller, id: string, patch: RouterInput): Promise<RouterTable> {
  for (const fixed of ['tenant_id', 'project_id'] as const) if (patch[fixed] !== undefined) throw badInput(`Cannot update read-only attribute ${fixed}.`);
  checkGatewayPolicy(caller, patch.external_gateway_info, 'update');
  return retryOnUniqueViolation(() => deps.db.transaction().execute(async (trx) => {
    const row = await getRouter(trx, caller, id);
    let next: RouterTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      admin_state_up: patch.admin_state_up === undefined ? row.admin_state_up : patch.admin_state_up ? 1 : 0,
      updated_at: neutronTime(deps.now()),
      revision_number: row.revision_number + 1,
    };
    if (patch.external_gateway_info !== undefined) next = await setGateway(deps, trx, caller, next, patch.external_gateway_info);
    await trx.updateTable('network_router').set(next).where('id', '=', id).execute();
    await markChanged(trx);
    return next;
  }), exhausted);
}

export async function deleteRouter(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const row = await getRouter(trx, caller, id);
    if ((await routerInterfacePorts(trx, id)).length) throw neutronError('ERR_CONFLICT', 'RouterInUse', `Router ${id} still has ports`);
    if (row.gw_port_id) await setGateway(deps, trx, caller, row, null);
    await trx.deleteFrom('network_router').where('id', '=', id).execute();
    await markChanged(trx);
  });
}

export interface InterfaceInfo { subnet_id?: string; port_id?: string }

function interfaceResponse(router: RouterTable, port: PortTable, fixedIps: FixedIp[]) {
  return {
    id: router.id,
    tenant_id: router.project_id,
    project_id: router.project_id,
    port_id: port.id,
    network_id: port.network_id,
    subnet_id: fixedIps[0]?.subnet_id ?? '',
    subnet_ids: fixedIps.map((f) => f.subnet_id),
  };
}

function checkInterfaceBody(routerId: string, info: InterfaceInfo): void {
  if (!info || typeof info !== 'object') throw badInput('Body must be a JSON object.');
  const extra = Object.keys(info).filter((k) => k !== 'subnet_id' && k !== 'port_id');
  if (extra.length) throw badRouterRequest(routerId, `Unrecognized attribute(s) '${extra.join(', ')}'`);
  if (info.subnet_id && info.port_id) throw badRouterRequest(routerId, 'Cannot specify both subnet-id and port-id');
  if (!info.subnet_id && !info.port_id) throw badRouterRequest(routerId, 'Either subnet_id or port_id must be specified');
}

/** A new interface's subnets must not overlap the router's other subnets, nor be on the gateway's network. */
async function checkNewInterfaceSubnets(trx: Db, router: RouterTable, subnets: SubnetTable[]): Promise<void> {
  const existing = await routerInterfacePorts(trx, router.id);
  const ips = await fixedIpsByPort(trx, existing.map((p) => p.id));
  const attachedIds = [...ips.values()].flat().map((f) => f.subnet_id);
  const attached = attachedIds.length ? await trx.selectFrom('network_subnet').selectAll().where('id', 'in', attachedIds).execute() : [];
  for (const s of subnets) {
    if (s.network_id === router.gw_network_id) throw badRouterRequest(router.id, `Router already has a port on the external network ${s.network_id}`);
    if (attached.some((a) => a.id === s.id)) throw badRouterRequest(router.id, `Router already has a port on subnet ${s.id}`);
    const clash = attached.find((a) => cidrsOverlap(parseCidr(a.cidr)!, parseCidr(s.cidr)!));
    if (clash) throw badRouterRequest(router.id, `Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${clash.cidr} of subnet ${clash.id}`);
  }
}

export async function addRouterInterface(deps: NetworkDeps, caller: Caller, id: string, info: InterfaceInfo) {
  checkInterfaceBody(id, info);
  return retryOnUniqueViolation(() => deps.db.transaction().execute(async (trx) => {
    const router = await getRouter(trx, caller, id);
    let port: PortTable;
    let fixedIps: FixedIp[];
    if (info.port_id) {
      port = await getPort(trx, caller, info.port_id);
      if (port.device_id || port.device_owner) {
        throw neutronError('ERR_CONFLICT', 'PortInUse', `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an attached device ${port.device_id || port.device_owner}.`);
      }
      fixedIps = (await fixedIpsByPort(trx, [port.id])).get(port.id) ?? [];
      if (fixedIps.length === 0) throw badRouterRequest(id, `Router port must have at least one fixed IP`);
      const subnets = await trx.selectFrom('network_subnet').selectAll().where('id', 'in', fixedIps.map((f) => f.subnet_id)).execute();
      await checkNewInterfaceSubnets(trx, router, subnets);
      port = { ...port, device_id: router.id, device_owner: ROUTER_INTERFACE, security_groups: '[]', updated_at: neutronTime(deps.now()), revision_number: port.revision_number + 1 };
      await trx.updateTable('network_port').set(port).where('id', '=', port.id).execute();
    } else {
      const subnet = await getSubnet(trx, caller, info.subnet_id!);
      const network = await getNetwork(trx, caller, subnet.network_id);
      if (!caller.isAdmin && network.project_id !== caller.projectId && network.shared !== 1) throw neutronError('ERR_NOT_FOUND', 'SubnetNotFound', `Subnet ${subnet.id} could not be found.`);
      if (!subnet.gateway_ip) throw badRouterRequest(id, `Subnet for router interface must have a gateway IP`);
      await checkNewInterfaceSubnets(trx, router, [subnet]);
      ({ port, fixedIps } = await insertPort(deps, trx, {
        network,
        projectId: router.project_id,
        input: { device_owner: ROUTER_INTERFACE, device_id: router.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }] },
        groups: [],
        portSecurity: false,
        pairs: [],
      }));
    }
    await markChanged(trx);
    return interfaceResponse(router, port, fixedIps);
  }), exhausted);
}

export async function removeRouterInterface(deps: NetworkDeps, caller: Caller, id: string, info: InterfaceInfo) {
  checkInterfaceBody(id, info);
  return deps.db.transaction().execute(async (trx) => {
    const router = await getRouter(trx, caller, id);
    const ports = await routerInterfacePorts(trx, id);
    const ips = await fixedIpsByPort(trx, ports.map((p) => p.id));
    let port: PortTable | undefined;
    if (info.port_id) {
      port = ports.find((p) => p.id === info.port_id);
      if (!port) {
        await getPort(trx, caller, info.port_id).catch(() => { throw portNotFound(info.port_id!); });
        throw neutronError('ERR_NOT_FOUND', 'RouterInterfaceNotFound', `Router ${id} does not have an interface with id ${info.port_id}`);
      }
      if (info.subnet_id && !(ips.get(port.id) ?? []).some((f) => f.subnet_id === info.subnet_id)) {
        throw neutronError('ERR_CONFLICT', 'SubnetMismatchForPort', `Subnet ${info.subnet_id} does not match the interface port ${port.id}`);
      }
    } else {
      await getSubnet(trx, caller, info.subnet_id!);
      port = ports.find((p) => (ips.get(p.id) ?? []).some((f) => f.subnet_id === info.subnet_id));
      if (!port) throw neutronError('ERR_NOT_FOUND', 'RouterInterfaceNotFoundForSubnet', `Router ${id} has no interface on subnet ${info.subnet_id!}`);
    }
    const fixedIps = ips.get(port.id) ?? [];
    if (await floatingIpsNeedingSubnets(trx, router.id, fixedIps.map((f) => f.subnet_id))) {
      throw neutronError('ERR_CONFLICT', 'RouterInterfaceInUseByFloatingIP',
        `Router interface for subnet ${fixedIps[0]?.subnet_id ?? ''} on router ${id} cannot be deleted, as it is required by one or more floating IPs.`);
    }
    await removePortRows(trx, port.id);
    return interfaceResponse(router, port, fixedIps);
  });
}

/** Whether a floating IP associated through `routerId` maps to an address on one of `subnetIds`. */
async function floatingIpsNeedingSubnets(trx: Db, routerId: string, subnetIds: string[]): Promise<boolean> {
  const fips: FloatingIpTable[] = await trx.selectFrom('network_floating_ip').selectAll().where('router_id', '=', routerId).execute();
  if (!fips.length || !subnetIds.length) return false;
  const held = await trx.selectFrom('network_ip_allocation').select(['owner', 'ip_address', 'subnet_id']).where('subnet_id', 'in', subnetIds).execute();
  return fips.some((f) => held.some((h) => h.owner === f.port_id && h.ip_address === f.fixed_ip_address));
}

/** The router that connects `subnetId` to the external network `externalNetworkId`, if any (for floating IPs). */
export async function routerBetween(trx: Db, subnetId: string, externalNetworkId: string): Promise<RouterTable | undefined> {
  const routers = await trx.selectFrom('network_router').selectAll().where('gw_network_id', '=', externalNetworkId).execute();
  if (!routers.length) return undefined;
  const ports = await trx.selectFrom('network_port').select(['id', 'device_id']).where('device_owner', '=', ROUTER_INTERFACE).where('device_id', 'in', routers.map((r) => r.id)).execute();
  if (!ports.length) return undefined;
  const onSubnet = await trx.selectFrom('network_ip_allocation').select('owner').where('subnet_id', '=', subnetId).where('owner', 'in', ports.map((p) => p.id)).executeTakeFirst();
  return onSubnet ? routers.find((r) => r.id === ports.find((p) => p.id === onSubnet.owner)!.device_id) : undefined;
}
