/**
 * The network service's tables (same conventions as identity: 0/1 booleans, ISO text times, JSON text).
 * @module
 */

export interface NetworkTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  shared: number;
  external: number;
  mtu: number;
  port_security_enabled: number;
  /** `flat` or `vxlan`. */
  network_type: string;
  /** Set for flat networks bound to a host bridge (e.g. the external network). */
  physical_network: string | null;
  /** The VXLAN VNI; unique among vxlan networks. */
  segmentation_id: number | null;
  /** JSON array of strings. */
  tags: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface SubnetTable {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  description: string;
  ip_version: number;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: number;
  /** JSON arrays: [{start, end}], [string], [{destination, nexthop}], [string]. */
  allocation_pools: string;
  dns_nameservers: string;
  host_routes: string;
  tags: string;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

/** One row per address handed out; the primary key is what makes IPAM safe under concurrency. */
export interface IpAllocationTable {
  subnet_id: string;
  ip_address: string;
  /** The port holding it, or `gateway` for a subnet's gateway address. */
  owner: string;
}

export interface PortTable {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  /** Unique per network. */
  mac_address: string;
  device_id: string;
  device_owner: string;
  host_id: string;
  /** `unbound` until an agent plugs the port on a host, then `bridge`. */
  vif_type: string;
  /**
   * JSON object, set by admins (Nova, Zun, tests): `{"kumo_netns": NAME, "kumo_ifname": IF}` asks
   * for a veth whose far end goes into that network namespace; otherwise a tap is made for QEMU.
   */
  binding_profile: string;
  /** DOWN until plugged, then ACTIVE. */
  status: string;
  port_security_enabled: number;
  /** JSON arrays: [{ip_address, mac_address}], [security group id], [tag]. */
  allowed_address_pairs: string;
  security_groups: string;
  tags: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface SecurityGroupTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  stateful: number;
  tags: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface SecurityGroupRuleTable {
  id: string;
  project_id: string;
  security_group_id: string;
  direction: string;
  ethertype: string;
  /** A protocol name or number as given (normalized to lower case), or null for any. */
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface RouterTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  /** The external network of the gateway, and the gateway's port (owned by no project), or null. */
  gw_network_id: string | null;
  gw_port_id: string | null;
  enable_snat: number;
  tags: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface FloatingIpTable {
  id: string;
  project_id: string;
  floating_network_id: string;
  floating_ip_address: string;
  /** The port on the external network that holds the address (device_owner network:floatingip). */
  floating_port_id: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  /** The router whose namespace does the NAT, while associated. */
  router_id: string | null;
  status: string;
  description: string;
  tags: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
}

/** Only overrides are stored; a missing row means the default. */
export interface QuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface NetworkTables {
  network_router: RouterTable;
  network_floating_ip: FloatingIpTable;
  network_quota: QuotaTable;
  network_security_group: SecurityGroupTable;
  network_security_group_rule: SecurityGroupRuleTable;
  network_port: PortTable;
  network_network: NetworkTable;
  network_subnet: SubnetTable;
  network_ip_allocation: IpAllocationTable;
}
