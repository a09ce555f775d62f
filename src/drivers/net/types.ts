/**
 * The host networking an agent drives: the only contract between the network service's
 * reconciler and the code that touches Linux. Everything here is plain data; no library
 * types cross it.
 *
 * The driver is level-triggered: `sync` receives the whole desired state of this host and
 * converges the objects Kumo owns to it, creating what is missing, fixing what drifted and
 * removing what is no longer wanted. Ownership is by name (a kind prefix plus the first 11
 * hex characters of the resource UUID) together with the driver's `owner` label, so two Kumo
 * instances on one host never touch each other's objects, and nothing else is ever touched.
 * @module
 */

/** A subnet as the data plane needs it. */
export interface SubnetSpec {
  readonly id: string;
  readonly cidr: string;
  readonly ipVersion: 4 | 6;
  readonly gatewayIp: string | null;
  readonly enableDhcp: boolean;
  readonly dnsNameservers: readonly string[];
  readonly hostRoutes: readonly { readonly destination: string; readonly nexthop: string }[];
}

/** A network present on this host because something on it (port, DHCP, router) is. */
export interface NetworkSpec {
  readonly id: string;
  readonly type: 'vxlan' | 'flat';
  /** The VNI for vxlan; null for flat. */
  readonly segmentationId: number | null;
  /** For flat networks: the physical network name, mapped to a host bridge by the driver's options. */
  readonly physicalNetwork: string | null;
  readonly mtu: number;
  readonly subnets: readonly SubnetSpec[];
  /** VTEP addresses of the other hosts that carry this vxlan segment (empty on one host). */
  readonly vxlanPeers: readonly string[];
  /** The network's DHCP port, when one of its IPv4 subnets has DHCP enabled: dnsmasq listens on it in its own namespace. */
  readonly dhcpPort: DhcpPortSpec | null;
}

export interface FixedIpSpec {
  readonly subnetId: string;
  readonly ipAddress: string;
}

export interface DhcpPortSpec {
  readonly portId: string;
  readonly macAddress: string;
  readonly fixedIps: readonly FixedIpSpec[];
  /** The static leases dnsmasq serves: every port of the network with an address on a DHCP subnet. */
  readonly hosts: readonly { readonly portId: string; readonly macAddress: string; readonly ipAddress: string; readonly hostname: string }[];
}

/**
 * Where a port's far end goes. `veth`: a veth pair whose bridge end is named `tap<11>` and whose
 * other end is moved into the named network namespace (a container's, or a test endpoint's)
 * as `ifname` with the port's MAC. `tap`: a tap device `tap<11>` on the bridge for QEMU to open.
 */
export type PortPlug =
  | {
    readonly kind: 'veth';
    readonly netns: string;
    readonly ifname: string;
    /**
     * Addresses (CIDR form) and default gateway the driver configures on the far end when the
     * veth is made: containers have no DHCP client. Absent: the endpoint asks DHCP.
     */
    readonly static?: { readonly addresses: readonly string[]; readonly gateway: string | null };
  }
  | { readonly kind: 'tap' };

export interface PortSpec {
  readonly id: string;
  readonly networkId: string;
  readonly macAddress: string;
  readonly fixedIps: readonly FixedIpSpec[];
  readonly plug: PortPlug;
  readonly adminStateUp: boolean;
  /** false: no filtering and no anti-spoofing at all for this port. */
  readonly portSecurityEnabled: boolean;
  /** Extra source addresses (single IPs or CIDRs) this port may send from, with an optional other MAC. */
  readonly allowedAddressPairs: readonly { readonly ipAddress: string; readonly macAddress: string | null }[];
  readonly securityGroupIds: readonly string[];
}

export interface SecurityGroupRuleSpec {
  readonly id: string;
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  /** null: any protocol. Otherwise a name (tcp, udp, icmp, ipv6-icmp, ...) or a number as a string. */
  readonly protocol: string | null;
  /** For tcp/udp/sctp: the port range; for icmp: type (min) and code (max); null means any. */
  readonly portRangeMin: number | null;
  readonly portRangeMax: number | null;
  readonly remoteIpPrefix: string | null;
  /** Traffic from/to the addresses of the ports in this group (its `memberAddresses`). */
  readonly remoteGroupId: string | null;
}

export interface SecurityGroupSpec {
  readonly id: string;
  readonly rules: readonly SecurityGroupRuleSpec[];
  /** The fixed IPs (and allowed address pairs) of every port in the group, on any host. */
  readonly memberAddresses: readonly string[];
}

export interface RouterPortSpec {
  readonly portId: string;
  readonly networkId: string;
  readonly macAddress: string;
  /** Address and prefix length, e.g. 10.0.0.1/24. */
  readonly addresses: readonly string[];
}

export interface RouterSpec {
  readonly id: string;
  /** Interfaces on tenant subnets, named `qr-<11>` inside the router's namespace. */
  readonly interfaces: readonly RouterPortSpec[];
  /** The external gateway, `qg-<11>` inside the namespace, with the external subnet's gateway as default route. */
  readonly gateway: (RouterPortSpec & { readonly defaultGateway: string | null; readonly enableSnat: boolean }) | null;
  /** 1:1 NAT in the router's namespace: DNAT floatingIp→fixedIp and SNAT fixedIp→floatingIp. */
  readonly floatingIps: readonly { readonly id: string; readonly floatingIp: string; readonly fixedIp: string }[];
  readonly routes: readonly { readonly destination: string; readonly nexthop: string }[];
}

export interface HostNetworkState {
  readonly networks: readonly NetworkSpec[];
  readonly ports: readonly PortSpec[];
  readonly securityGroups: readonly SecurityGroupSpec[];
  readonly routers: readonly RouterSpec[];
}

export interface SyncReport {
  /** Ports whose far end is in place and up: the reconciler reports them ACTIVE. */
  readonly activePorts: readonly string[];
  /** Resources that could not be converged, with what went wrong; the next sync retries them. */
  readonly failures: readonly { readonly resourceId: string; readonly message: string }[];
  /** Host objects removed because nothing in the desired state wanted them (orphans), by name. */
  readonly removed: readonly string[];
}

/** What Kumo owns on the host now, by kind, as resource id prefixes (11 hex chars) or names. */
export interface HostInventory {
  readonly bridges: readonly string[];
  readonly links: readonly string[];
  readonly namespaces: readonly string[];
  readonly nftTables: readonly string[];
  readonly dnsmasqPids: readonly number[];
  /** The metadata proxies (haproxy, one per DHCP namespace) when `metadataSocket` is set. */
  readonly metadataProxyPids: readonly number[];
}

export interface NetDriver {
  /**
   * Converges the host to `desired`. Idempotent; safe to call concurrently with nothing else
   * (the agent serialises calls). On failure of one resource the others still converge and the
   * failure is reported; a thrown error means the host could not be read at all and nothing
   * was changed.
   */
  sync(desired: HostNetworkState): Promise<SyncReport>;
  /** Lists what this owner has on the host; reads only. */
  inventory(): Promise<HostInventory>;
  /** Removes everything this owner created on the host (used by `kumo down --purge` and tests). */
  removeAll(): Promise<void>;
}

export interface NetDriverOptions {
  /** Short label (<= 8 chars, [a-z0-9]) that marks this instance's objects. */
  readonly owner: string;
  /** Where pid files, dnsmasq configs and leases live. */
  readonly stateDir: string;
  /** physical network name → existing host bridge; a flat network without a mapping gets its own bridge. */
  readonly physicalBridges: Readonly<Record<string, string>>;
  /** Local VTEP address for vxlan. */
  readonly vxlanLocalIp: string;
  /**
   * Absolute path of the UNIX socket Kumo's metadata server listens on. When set, every DHCP
   * namespace also serves http://169.254.169.254/ (routed there by DHCP option 121) through a
   * proxy that adds `X-Forwarded-For: <instance address>` and `X-Neutron-Network-ID: <network>`.
   */
  readonly metadataSocket?: string;
}
