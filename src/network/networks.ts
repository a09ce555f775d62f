import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import type { NetworkTable } from './schema.js';
import { badInput, markChanged, neutronError, neutronTime, standardAttributes } from './context.js';
import { checkQuota } from './quotas.js';
import type { Caller, NetworkDeps } from './context.js';

const VXLAN_MTU = 1450;
const FLAT_MTU = 1500;
const MAX_VNI = 2 ** 24 - 1;

export interface NetworkInput {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  shared?: boolean;
  'router:external'?: boolean;
  mtu?: number;
  port_security_enabled?: boolean;
  'provider:network_type'?: string;
  'provider:physical_network'?: string | null;
  'provider:segmentation_id'?: number | null;
  tenant_id?: string;
  project_id?: string;
}

export const networkNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'NetworkNotFound', `Network ${id} could not be found.`);

export function renderNetwork(row: NetworkTable, subnetIds: string[], caller: Caller) {
  return {
    id: row.id,
    name: row.name,
    tenant_id: row.project_id,
    project_id: row.project_id,
    admin_state_up: row.admin_state_up === 1,
    mtu: row.mtu,
    status: 'ACTIVE',
    subnets: subnetIds,
    shared: row.shared === 1,
    availability_zone_hints: [] as string[],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    'router:external': row.external === 1,
    port_security_enabled: row.port_security_enabled === 1,
    is_default: false,
    l2_adjacency: true,
    qos_policy_id: null,
    dns_domain: '',
    // Neutron shows provider attributes to admins only.
    ...(caller.isAdmin
      ? { 'provider:network_type': row.network_type, 'provider:physical_network': row.physical_network, 'provider:segmentation_id': row.segmentation_id }
      : {}),
    ...standardAttributes(row),
  };
}

/** Networks the caller may see: its own, shared and external ones (all for admins). */
export async function visibleNetworks(db: Db, caller: Caller): Promise<NetworkTable[]> {
  let q = db.selectFrom('network_network').selectAll();
  if (!caller.isAdmin) q = q.where((eb) => eb.or([eb('project_id', '=', caller.projectId), eb('shared', '=', 1), eb('external', '=', 1)]));
  return q.execute();
}

export async function getNetwork(db: Db, caller: Caller, id: string): Promise<NetworkTable> {
  const row = await db.selectFrom('network_network').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId && row.shared !== 1 && row.external !== 1)) throw networkNotFound(id);
  return row;
}

/** A network the caller may change: its own (or any, for admins). Others' visible networks give 403, invisible ones 404. */
export async function getOwnNetwork(db: Db, caller: Caller, id: string): Promise<NetworkTable> {
  const row = await getNetwork(db, caller, id);
  if (!caller.isAdmin && row.project_id !== caller.projectId) {
    throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `The request you have made requires authorization on network ${id}.`);
  }
  return row;
}

export async function subnetIdsByNetwork(db: Db, networkIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (networkIds.length === 0) return out;
  const rows = await db.selectFrom('network_subnet').select(['id', 'network_id']).where('network_id', 'in', networkIds).orderBy('created_at').execute();
  for (const r of rows) out.set(r.network_id, [...(out.get(r.network_id) ?? []), r.id]);
  return out;
}

function adminOnly(caller: Caller, input: NetworkInput, attrs: (keyof NetworkInput)[]): void {
  if (caller.isAdmin) return;
  for (const a of attrs) {
    if (input[a] !== undefined && !(a === 'shared' && input.shared === false) && !(a === 'router:external' && input['router:external'] === false)) {
      throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `(rule:create_network:${a}) is disallowed by policy.`);
    }
  }
}

export async function createNetwork(deps: NetworkDeps, caller: Caller, input: NetworkInput): Promise<NetworkTable> {
  adminOnly(caller, input, ['shared', 'router:external', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id']);
  const projectId = input.project_id ?? input.tenant_id ?? caller.projectId;
  if (projectId !== caller.projectId && !caller.isAdmin) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', 'Only admins may create networks for other projects.');
  const type = input['provider:network_type'] ?? (input['provider:physical_network'] ? 'flat' : 'vxlan');
  if (type !== 'vxlan' && type !== 'flat') throw badInput(`provider:network_type ${type} is not supported (flat, vxlan).`);
  if (type === 'flat' && input['provider:segmentation_id'] != null) throw badInput('flat networks have no segmentation_id.');
  const vni = input['provider:segmentation_id'];
  if (vni != null && (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI)) throw badInput(`provider:segmentation_id must be between 1 and ${MAX_VNI}.`);
  const mtu = input.mtu ?? (type === 'vxlan' ? VXLAN_MTU : FLAT_MTU);
  if (!Number.isInteger(mtu) || mtu < 68) throw badInput('mtu must be an integer of at least 68.');
  const now = neutronTime(deps.now());
  // The VNI is chosen inside the transaction; a concurrent create on PostgreSQL that picks the
  // same one fails the unique constraint and is retried.
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.db.transaction().execute(async (trx) => {
        let segmentationId: number | null = null;
        if (type === 'vxlan') {
          if (vni != null) {
            const taken = await trx.selectFrom('network_network').select('id').where('segmentation_id', '=', vni).executeTakeFirst();
            if (taken) throw neutronError('ERR_CONFLICT', 'SegmentationIdInUse', `Unable to create the network. The VXLAN VNI ${vni} is in use.`);
            segmentationId = vni;
          } else {
            const max = await trx.selectFrom('network_network').select((eb) => eb.fn.max('segmentation_id').as('max')).executeTakeFirst();
            segmentationId = Number(max?.max ?? 0) + 1;
            if (segmentationId > MAX_VNI) throw neutronError('ERR_CONFLICT', 'NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
          }
        }
        const row: NetworkTable = {
          id: deps.newId(),
          project_id: projectId,
          name: input.name ?? '',
          description: input.description ?? '',
          admin_state_up: input.admin_state_up === false ? 0 : 1,
          shared: input.shared ? 1 : 0,
          external: input['router:external'] ? 1 : 0,
          mtu,
          port_security_enabled: input.port_security_enabled === false ? 0 : 1,
          network_type: type,
          physical_network: type === 'flat' ? (input['provider:physical_network'] ?? 'physnet1') : null,
          segmentation_id: segmentationId,
          tags: '[]',
          created_at: now,
          updated_at: now,
          revision_number: 1,
        };
        await checkQuota(deps, trx, projectId, 'network');
        await trx.insertInto('network_network').values(row).execute();
        await markChanged(trx);
        return row;
      });
    } catch (err) {
      if (attempt < 5 && isUniqueViolation(err) && vni == null) continue;
      throw err;
    }
  }
}

export async function updateNetwork(deps: NetworkDeps, caller: Caller, id: string, patch: NetworkInput): Promise<NetworkTable> {
  adminOnly(caller, patch, ['shared', 'router:external', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id']);
  for (const fixed of ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'tenant_id', 'project_id'] as const) {
    if (patch[fixed] !== undefined) throw badInput(`Cannot update read-only attribute ${fixed}.`);
  }
  return deps.db.transaction().execute(async (trx) => {
    const row = await getOwnNetwork(trx, caller, id);
    const next: NetworkTable = {
      ...row,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      admin_state_up: patch.admin_state_up === undefined ? row.admin_state_up : patch.admin_state_up ? 1 : 0,
      shared: patch.shared === undefined ? row.shared : patch.shared ? 1 : 0,
      external: patch['router:external'] === undefined ? row.external : patch['router:external'] ? 1 : 0,
      mtu: patch.mtu ?? row.mtu,
      port_security_enabled: patch.port_security_enabled === undefined ? row.port_security_enabled : patch.port_security_enabled ? 1 : 0,
      updated_at: neutronTime(deps.now()),
      revision_number: row.revision_number + 1,
    };
    await trx.updateTable('network_network').set(next).where('id', '=', id).execute();
    await markChanged(trx);
    return next;
  });
}

/** Deletes a network and its subnets; 409 NetworkInUse while any address on it is held by a port. */
export async function deleteNetwork(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await getOwnNetwork(trx, caller, id);
    // Floating IPs nobody uses go with their external network, as in Neutron.
    const idle = await trx.selectFrom('network_floating_ip').select(['id', 'floating_port_id']).where('floating_network_id', '=', id).where('port_id', 'is', null).execute();
    if (idle.length) {
      await trx.deleteFrom('network_floating_ip').where('id', 'in', idle.map((f) => f.id)).execute();
      await trx.deleteFrom('network_ip_allocation').where('owner', 'in', idle.map((f) => f.floating_port_id)).execute();
      await trx.deleteFrom('network_port').where('id', 'in', idle.map((f) => f.floating_port_id)).execute();
    }
    // DHCP ports belong to the network itself and go with it, as in Neutron.
    const dhcpPorts = (await trx.selectFrom('network_port').select('id').where('network_id', '=', id).where('device_owner', '=', 'network:dhcp').execute()).map((p) => p.id);
    if (dhcpPorts.length) {
      await trx.deleteFrom('network_ip_allocation').where('owner', 'in', dhcpPorts).execute();
      await trx.deleteFrom('network_port').where('id', 'in', dhcpPorts).execute();
    }
    if (await trx.selectFrom('network_port').select('id').where('network_id', '=', id).executeTakeFirst()) {
      throw neutronError('ERR_CONFLICT', 'NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
    }
    const subnetIds = (await trx.selectFrom('network_subnet').select('id').where('network_id', '=', id).execute()).map((s) => s.id);
    if (subnetIds.length) {
      const used = await trx.selectFrom('network_ip_allocation').select('owner').where('subnet_id', 'in', subnetIds).where('owner', '!=', 'gateway').executeTakeFirst();
      if (used) throw neutronError('ERR_CONFLICT', 'NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
      await trx.deleteFrom('network_ip_allocation').where('subnet_id', 'in', subnetIds).execute();
      await trx.deleteFrom('network_subnet').where('network_id', '=', id).execute();
    }
    await trx.deleteFrom('network_network').where('id', '=', id).execute();
    await markChanged(trx);
  });
}
