/**
 * Nova's os-interface: the ports of a server, and attaching or detaching one while it exists.
 * The API records the change (a new port in `port_ids`, or the port moved to `detaching`); the
 * compute controller hot-plugs or unplugs the NIC of a running VM and releases detached ports.
 * @module
 */
import { KumoError } from '../errors.js';
import { adoptWorkloadPort, createWorkloadPort, inactivePorts, resolveNetworkRef, vmPortDetails } from '../network/workload-ports.js';
import { invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { recordAction } from './instance-actions.js';
import { checkLock, checkState, getServer, NOVA_DEVICE_OWNER, portsOf, specOf } from './servers.js';
import type { PortRecord } from './servers.js';

export interface InterfaceAttachment {
  port_state: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  port_id: string;
  net_id: string;
  mac_addr: string;
  tag?: string | null;
}

export async function listInterfaces(deps: ComputeDeps, caller: Caller, serverId: string, minor: number): Promise<InterfaceAttachment[]> {
  const row = await getServer(deps.db, caller, serverId);
  const ids = portsOf(row).map((p) => p.id);
  const down = new Set(await inactivePorts(deps.network, ids));
  const tags = specOf(row).port_tags;
  return (await vmPortDetails(deps.network, ids)).map((p) => ({
    port_state: down.has(p.id) ? 'DOWN' : 'ACTIVE',
    fixed_ips: p.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
    port_id: p.id, net_id: p.networkId, mac_addr: p.macAddress,
    ...(minor >= 70 ? { tag: tags[p.id] ?? null } : {}),
  }));
}

export async function attachInterface(deps: ComputeDeps, caller: Caller, serverId: string, input: Record<string, unknown>, minor: number): Promise<InterfaceAttachment> {
  const row = await getServer(deps.db, caller, serverId);
  const netId = input.net_id;
  const portId = input.port_id;
  if (netId !== undefined && typeof netId !== 'string') throw invalid('Invalid input for field/attribute net_id.');
  if (portId !== undefined && typeof portId !== 'string') throw invalid('Invalid input for field/attribute port_id.');
  if (netId && portId) throw invalid('Must not input both network_id and port_id');
  if (!netId && !portId) throw invalid('Must input network_id or port_id');
  if (input.tag !== undefined && (minor < 49 || typeof input.tag !== 'string')) throw invalid("Invalid input for field/attribute interfaceAttachment. Additional properties are not allowed ('tag' was unexpected)");
  const fixedIps = input.fixed_ips === undefined ? [] : Array.isArray(input.fixed_ips) ? input.fixed_ips.map((f: unknown) => {
    const ip = (f as { ip_address?: unknown } | null)?.ip_address;
    if (typeof ip !== 'string') throw invalid('Invalid input for field/attribute fixed_ips. Each needs an ip_address');
    return ip;
  }) : (() => {
    throw invalid('Invalid input for field/attribute fixed_ips. It must be a list');
  })();
  if (fixedIps.length > 1) throw invalid('Invalid input for field/attribute fixed_ips. At most one address');
  checkLock(row, caller);
  checkState(row, 'attach_interface', ['active', 'paused', 'stopped']);
  let id: string;
  try {
    id = portId
      ? await adoptWorkloadPort(deps.network, caller, portId, row.uuid, NOVA_DEVICE_OWNER)
      : await createWorkloadPort(deps.network, caller, { networkId: (await resolveNetworkRef(deps.network, caller, netId as string)).id, fixedIps, securityGroups: specOf(row).security_groups, deviceId: row.uuid, deviceOwner: NOVA_DEVICE_OWNER });
  } catch (err) {
    if (err instanceof KumoError && err.status === 404) throw novaError('ERR_NOT_FOUND', portId ? `Port ${portId} could not be found.` : `Network ${String(netId)} could not be found.`);
    if (err instanceof KumoError && err.status === 409) throw novaError('ERR_CONFLICT', err.message);
    throw err;
  }
  const ports: PortRecord[] = [...portsOf(row), { id, adopted: Boolean(portId) }];
  const spec = specOf(row);
  if (typeof input.tag === 'string') spec.port_tags[id] = input.tag;
  await deps.db.updateTable('compute_instance').set({ port_ids: JSON.stringify(ports), spec: JSON.stringify(spec), updated_at: new Date(deps.now()).toISOString() }).where('uuid', '=', row.uuid).execute();
  await recordAction(deps, caller, row.uuid, 'attach_interface');
  return (await listInterfaces(deps, caller, serverId, minor)).find((a) => a.port_id === id)!;
}

export async function detachInterface(deps: ComputeDeps, caller: Caller, serverId: string, portId: string): Promise<void> {
  const row = await getServer(deps.db, caller, serverId);
  const port = portsOf(row).find((p) => p.id === portId);
  if (!port) throw novaError('ERR_NOT_FOUND', `Port ${portId} is not attached`);
  checkLock(row, caller);
  checkState(row, 'detach_interface', ['active', 'paused', 'stopped']);
  const spec = specOf(row);
  spec.detaching = [...(spec.detaching ?? []), port];
  delete spec.port_tags[portId];
  await deps.db.updateTable('compute_instance').set({
    port_ids: JSON.stringify(portsOf(row).filter((p) => p.id !== portId)), spec: JSON.stringify(spec), updated_at: new Date(deps.now()).toISOString(),
  }).where('uuid', '=', row.uuid).execute();
  await recordAction(deps, caller, row.uuid, 'detach_interface');
}
