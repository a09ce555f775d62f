/**
 * Names of the host objects the Linux network driver owns, and how ownership is read back.
 *
 * Interface names hold at most 15 bytes, so a link is named by a short kind prefix plus the first
 * 11 hex characters of its resource UUID (as Neutron does), and carries its full ownership in the
 * link alias `kumo:<owner>:<resource uuid>`. Namespaces, nftables tables and state files carry the
 * owner label in their names. Only objects whose alias or name carries this owner's label are ever
 * changed or removed; a Kumo-looking name alone proves nothing.
 * @module
 */

/** Kind prefixes of link names (each plus 11 hex characters = 14 bytes). */
export const LINK_PREFIX = {
  /** A network's own Linux bridge. */
  bridge: 'kbr',
  /** A vxlan network's VXLAN device, enslaved to the network's bridge. */
  vxlan: 'kvx',
  /** The bridge end of a port: a veth end or a tap device. */
  port: 'tap',
  /** A router's interface on a tenant subnet, inside the router's namespace. */
  routerInterface: 'qr-',
  /** A router's external gateway interface, inside the router's namespace. */
  routerGateway: 'qg-',
  /** The DHCP port's interface inside the DHCP namespace. */
  dhcpInterface: 'ns-',
} as const;

const OWNER_PATTERN = /^[a-z0-9]{1,8}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidOwner(owner: string): boolean {
  return OWNER_PATTERN.test(owner);
}

/** The first 11 hex characters of a UUID (dashes dropped), the id part of every link name. */
export function shortId(uuid: string): string {
  const hex = uuid.toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{11,}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return hex.slice(0, 11);
}

export const bridgeName = (networkId: string): string => LINK_PREFIX.bridge + shortId(networkId);
export const vxlanName = (networkId: string): string => LINK_PREFIX.vxlan + shortId(networkId);
export const tapName = (portId: string): string => LINK_PREFIX.port + shortId(portId);
export const routerInterfaceName = (portId: string): string => LINK_PREFIX.routerInterface + shortId(portId);
export const routerGatewayName = (portId: string): string => LINK_PREFIX.routerGateway + shortId(portId);
export const dhcpInterfaceName = (portId: string): string => LINK_PREFIX.dhcpInterface + shortId(portId);

/** The alias that marks a link as this owner's, for the resource (network, port) it implements. */
export function linkAlias(owner: string, resourceId: string): string {
  return `kumo:${owner}:${resourceId}`;
}

export function parseLinkAlias(alias: string | null | undefined): { owner: string; resourceId: string } | null {
  const m = /^kumo:([a-z0-9]{1,8}):([0-9a-f-]{36})$/.exec(alias ?? '');
  return m ? { owner: m[1], resourceId: m[2] } : null;
}

export type NamespaceKind = 'dhcp' | 'router';

/** `kumo-dhcp-<owner>-<network uuid>` / `kumo-router-<owner>-<router uuid>`. */
export function namespaceName(kind: NamespaceKind, owner: string, resourceId: string): string {
  return `kumo-${kind}-${owner}-${resourceId}`;
}

export function parseNamespaceName(name: string): { kind: NamespaceKind; owner: string; resourceId: string } | null {
  const m = /^kumo-(dhcp|router)-([a-z0-9]{1,8})-([0-9a-f-]{36})$/.exec(name);
  if (!m || !UUID_PATTERN.test(m[3])) return null;
  return { kind: m[1] as NamespaceKind, owner: m[2], resourceId: m[3] };
}

/** The nftables table (one per family) that holds everything of this owner in a network namespace. */
export function nftTableName(owner: string): string {
  return `kumo_${owner}`;
}

/** State files under the state dir: one directory per DHCP network, one file per router. */
export const STATE_FILE = {
  dhcpDir: (networkId: string): string => `dhcp-${networkId}`,
  routerFile: (routerId: string): string => `router-${routerId}.json`,
  zones: 'conntrack-zones.json',
} as const;

export function parseStateEntry(entry: string): { kind: 'dhcp' | 'router'; resourceId: string } | null {
  const dhcp = /^dhcp-([0-9a-f-]{36})$/.exec(entry);
  if (dhcp && UUID_PATTERN.test(dhcp[1])) return { kind: 'dhcp', resourceId: dhcp[1] };
  const router = /^router-([0-9a-f-]{36})\.json$/.exec(entry);
  if (router && UUID_PATTERN.test(router[1])) return { kind: 'router', resourceId: router[1] };
  return null;
}
