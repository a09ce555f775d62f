/**
 * Floating IPs: an address on an external network, held by a port that belongs to no project
 * (device_owner network:floatingip), and optionally mapped 1:1 to a fixed IPv4 address of a
 * tenant port through the router that joins the two networks.
 * @module
 */
import type { Db } from '../store/database.js';
import type { FloatingIpTable } from './schema.js';
import { badInput, markChanged, neutronError, neutronTime, retryOnUniqueViolation, standardAttributes } from './context.js';
import type { Caller, NetworkDeps } from './context.js';
import { ipVersion } from './ip.js';
import { getNetwork, networkNotFound } from './networks.js';
import { fixedIpsByPort, getPort, insertPort, portNotFound, removePortRows } from './ports.js';
import { checkQuota } from './quotas.js';
import { routerBetween } from './routers.js';

export const FLOATING_IP_OWNER = 'network:floatingip';

export interface FloatingIpInput {
  floating_network_id?: string;
  floating_ip_address?: string;
  subnet_id?: string;
  port_id?: string | null;
  fixed_ip_address?: string | null;
  description?: string;
  tenant_id?: string;
  project_id?: string;
}

export const floatingIpNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'FloatingIPNotFound', `Floating IP ${id} could not be found`);
const badFloatingIpRequest = (why: string) => neutronError('ERR_VALIDATION', 'BadRequest', `Bad floatingip request: ${why}`);

export function renderFloatingIp(row: FloatingIpTable) {
  return {
    id: row.id,
    tenant_id: row.project_id,
    project_id: row.project_id,
    floating_network_id: row.floating_network_id,
    floating_ip_address: row.floating_ip_address,
    router_id: row.router_id,
    port_id: row.port_id,
    fixed_ip_address: row.fixed_ip_address,
    status: row.status,
    qos_policy_id: null,
    port_forwardings: [] as unknown[],
    ...standardAttributes(row),
  };
}

export async function visibleFloatingIps(db: Db, caller: Caller): Promise<FloatingIpTable[]> {
  let q = db.selectFrom('network_floating_ip').selectAll();
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

export async function getFloatingIp(db: Db, caller: Caller, id: string): Promise<FloatingIpTable> {
  const row = await db.selectFrom('network_floating_ip').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw floatingIpNotFound(id);
  return row;
}

/** Resolves port/fixed address/router for an association, with Neutron's errors; `portId` null disassociates. */
async function association(trx: Db, caller: Caller, fip: FloatingIpTable, portId: string | null | undefined, fixedIp: string | null | undefined) {
  if (!portId) {
    if (fixedIp) throw badFloatingIpRequest('fixed_ip_address cannot be specified without a port_id');
    return { port_id: null, fixed_ip_address: null, router_id: null };
  }
  const port = await getPort(trx, caller, portId).catch(() => { throw portNotFound(portId); });
  if (!caller.isAdmin && port.project_id !== fip.project_id) throw portNotFound(portId);
  const v4 = ((await fixedIpsByPort(trx, [port.id])).get(port.id) ?? []).filter((f) => ipVersion(f.ip_address) === 4);
  let chosen = v4[0];
  if (fixedIp) {
    chosen = v4.find((f) => f.ip_address === fixedIp)!;
    if (!chosen) throw badFloatingIpRequest(`Port ${port.id} does not have fixed ip ${fixedIp}`);
  } else if (v4.length > 1) {
    throw badFloatingIpRequest(`Port ${port.id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP`);
  }
  if (!chosen) throw badFloatingIpRequest(`Port ${port.id} does not have any IPv4 address`);
  const router = await routerBetween(trx, chosen.subnet_id, fip.floating_network_id);
  if (!router) {
    throw neutronError('ERR_NOT_FOUND', 'ExternalGatewayForFloatingIPNotFound',
      `External network ${fip.floating_network_id} is not reachable from subnet ${chosen.subnet_id}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`);
  }
  const taken = await trx.selectFrom('network_floating_ip').select('id').where('port_id', '=', port.id).where('fixed_ip_address', '=', chosen.ip_address).where('id', '!=', fip.id).executeTakeFirst();
  if (taken) {
    throw neutronError('ERR_CONFLICT', 'FloatingIPPortAlreadyAssociated',
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ${chosen.ip_address}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`);
  }
  return { port_id: port.id, fixed_ip_address: chosen.ip_address, router_id: router.id };
}

const exhausted = () => neutronError('ERR_CONFLICT', 'IpAddressAlreadyAllocated', 'The floating address was taken concurrently; try again.');

export async function createFloatingIp(deps: NetworkDeps, caller: Caller, input: FloatingIpInput): Promise<FloatingIpTable> {
  if (!input.floating_network_id) throw badInput("'floating_network_id' is required.");
  const projectId = input.project_id ?? input.tenant_id ?? caller.projectId;
  if (!caller.isAdmin && projectId !== caller.projectId) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', 'Only admins may create floating IPs for other projects.');
  if (input.floating_ip_address !== undefined && !caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', '(rule:create_floatingip:floating_ip_address) is disallowed by policy.');
  if (input.floating_ip_address !== undefined && ipVersion(input.floating_ip_address) !== 4) throw badInput(`'${input.floating_ip_address}' is not a valid IPv4 address.`);
  return retryOnUniqueViolation(() => deps.db.transaction().execute(async (trx) => {
    const network = await getNetwork(trx, caller, input.floating_network_id!).catch(() => { throw networkNotFound(input.floating_network_id!); });
    if (network.external !== 1) throw badFloatingIpRequest(`Network ${network.id} is not a valid external network`);
    await checkQuota(deps, trx, projectId, 'floatingip');
    const subnets = await trx.selectFrom('network_subnet').select(['id', 'ip_version']).where('network_id', '=', network.id).execute();
    const subnet = input.subnet_id ? subnets.find((s) => s.id === input.subnet_id) : subnets.find((s) => s.ip_version === 4);
    if (input.subnet_id && (!subnet || subnet.ip_version !== 4)) throw badFloatingIpRequest(`Subnet ${input.subnet_id} is not an IPv4 subnet of network ${network.id}`);
    if (!subnet && input.floating_ip_address === undefined) throw badFloatingIpRequest(`Network ${network.id} has no IPv4 subnet`);
    const id = deps.newId();
    const { port: floatingPort, fixedIps } = await insertPort(deps, trx, {
      network,
      projectId: '',
      input: {
        device_owner: FLOATING_IP_OWNER,
        device_id: id,
        fixed_ips: [input.floating_ip_address !== undefined ? { ip_address: input.floating_ip_address, ...(subnet ? { subnet_id: subnet.id } : {}) } : { subnet_id: subnet!.id }],
      },
      groups: [],
      portSecurity: false,
      pairs: [],
    });
    const now = neutronTime(deps.now());
    let row: FloatingIpTable = {
      id, project_id: projectId, floating_network_id: network.id, floating_ip_address: fixedIps[0].ip_address, floating_port_id: floatingPort.id,
      port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN', description: input.description ?? '', tags: '[]',
      created_at: now, updated_at: now, revision_number: 1,
    };
    row = { ...row, ...(await association(trx, caller, row, input.port_id, input.fixed_ip_address)) };
    await trx.insertInto('network_floating_ip').values(row).execute();
    await markChanged(trx);
    return row;
  }), exhausted);
}

export async function updateFloatingIp(deps: NetworkDeps, caller: Caller, id: string, patch: FloatingIpInput): Promise<FloatingIpTable> {
  for (const fixed of ['floating_network_id', 'floating_ip_address', 'subnet_id', 'tenant_id', 'project_id'] as const) {
    if (patch[fixed] !== undefined) throw badInput(`Cannot update read-only attribute ${fixed}.`);
  }
  return deps.db.transaction().execute(async (trx) => {
    const row = await getFloatingIp(trx, caller, id);
    let next: FloatingIpTable = { ...row, description: patch.description ?? row.description, updated_at: neutronTime(deps.now()), revision_number: row.revision_number + 1 };
    if (patch.port_id !== undefined) {
      const assoc = await association(trx, caller, row, patch.port_id, patch.fixed_ip_address);
      // A changed mapping is applied by the agent again before it reports ACTIVE.
      next = { ...next, ...assoc, status: assoc.port_id === row.port_id && assoc.fixed_ip_address === row.fixed_ip_address ? row.status : 'DOWN' };
    } else if (patch.fixed_ip_address !== undefined) {
      throw badFloatingIpRequest('fixed_ip_address cannot be changed without a port_id');
    }
    await trx.updateTable('network_floating_ip').set(next).where('id', '=', id).execute();
    await markChanged(trx);
    return next;
  });
}

export async function deleteFloatingIp(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const row = await getFloatingIp(trx, caller, id);
    await trx.deleteFrom('network_floating_ip').where('id', '=', id).execute();
    await removePortRows(trx, row.floating_port_id);
  });
}
