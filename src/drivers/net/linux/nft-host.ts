/**
 * The host's nftables ruleset for one owner: security groups and anti-spoofing for every port
 * with port security, as one text applied with one `nft -f` (see `hostRulesetScript`).
 *
 * Why it is built this way (measured on the target kernel, 6.18 without loadable modules):
 * - `ct state` in the `bridge` family is refused ("Protocol error"): there is no
 *   nf_conntrack_bridge (CONFIG_NF_CONNTRACK_BRIDGE is not set), so bridge rules cannot be stateful.
 * - br_netfilter is built in (CONFIG_BRIDGE_NETFILTER=y). With it, bridged IPv4/IPv6 packets run
 *   through the `inet` prerouting/forward hooks and conntrack, but there `iifname`/`oifname` are the
 *   bridge, never the port, and nft has no native physdev match. It is enabled per bridge
 *   (`nf_call_iptables 1`, measured to work with the global sysctl at 0), so Kumo changes no host
 *   sysctl for the bridges it owns.
 * - So the two families split the work. `inet kumo_<owner>`: in prerouting (raw) a conntrack zone
 *   per network bridge, so two projects with the same CIDR never share conntrack entries; in
 *   forward (run by br_netfilter from the bridge forward hook at priority 0) the conntrack verdict
 *   is copied into two bits of the packet mark. `bridge kumo_<owner>`: anti-spoofing in prerouting
 *   at -300 (before br_netfilter, so spoofed packets never create conntrack entries), and the
 *   security groups in forward at priorities 100 (egress, by input port) and 110 (ingress, by
 *   output port), after br_netfilter, reading the mark bits. Egress and ingress are two base
 *   chains because an `accept` ends only its own base chain: a packet allowed out of one port
 *   must still pass the ingress rules of the port it goes to.
 * - The rules are the same few whatever the number of ports; what differs per port is data in
 *   named sets and maps keyed by interface name: which ports are filtered, their (MAC, address)
 *   pairs as concatenations (`ifname . ether_addr . ipv4_addr`, intervals for allowed-pair CIDRs),
 *   and verdict maps sending each port to its security group chains. Each group is one egress and
 *   one ingress chain shared by its ports, its members a named set per IP version
 *   (remote_group_id). Measured: per-port chains with anonymous sets made the ruleset for 100
 *   ports ~800 kernel set objects and `nft -f` took 120 ms; the whole ruleset is applied on every
 *   change, so its size per port is what plugging speed depends on.
 * @module
 */
import { createHash } from 'node:crypto';
import type { PortSpec, SecurityGroupRuleSpec, SecurityGroupSpec } from '../types.js';
import { isMac, linkLocalFromMac, nftAddress, parseCidr, type IpVersion } from './ipaddr.js';
import { nftTableName, shortId, tapName } from './naming.js';

/**
 * Packet mark bits the inet forward chain sets for bridged traffic on Kumo's bridges. Only these
 * two bits are touched (cleared, then set), so other users of the mark keep theirs.
 */
export const CT_MARK = { established: 0x00100000, invalid: 0x00200000 } as const;
const CT_MARK_CLEAR = (~(CT_MARK.established | CT_MARK.invalid) >>> 0).toString(16).padStart(8, '0');
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export interface HostRulesetInput {
  readonly owner: string;
  /** Ports with port security enabled, each with the bridge it is plugged into. */
  readonly ports: readonly { readonly port: PortSpec; readonly bridge: string }[];
  readonly securityGroups: readonly SecurityGroupSpec[];
  /** Every bridge carrying filtered ports (owned or mapped): their conntrack verdicts go into the mark. */
  readonly bridges: readonly string[];
  /** Owned bridges → conntrack zone. Mapped host bridges keep the host's zone. */
  readonly zones: ReadonlyMap<string, number>;
}

/** Protocol names Neutron accepts, as IP protocol numbers (nft gets numbers: no name lookups). */
const PROTOCOLS: Readonly<Record<string, number>> = {
  hopopt: 0, icmp: 1, igmp: 2, ipip: 4, tcp: 6, egp: 8, udp: 17, 'ipv6-encap': 41, 'ipv6-route': 43, 'ipv6-frag': 44,
  rsvp: 46, gre: 47, esp: 50, ah: 51, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, ospf: 89,
  pgm: 113, vrrp: 112, sctp: 132, udplite: 136, dccp: 33,
};
const PORT_PROTOCOLS = new Set([6, 17, 33, 132, 136]);

/** The IP protocol number of a rule's protocol for its ethertype; null = any; undefined = unknown. */
export function protocolNumber(protocol: string | null, version: IpVersion): number | null | undefined {
  if (protocol === null || protocol === '' || protocol === 'any') return null;
  let n = /^\d+$/.test(protocol) ? Number(protocol) : PROTOCOLS[protocol.toLowerCase()];
  if (n === undefined || n > 255) return undefined;
  // Neutron lets an IPv6 rule say "icmp" and means ICMPv6.
  if (version === 6 && n === 1) n = 58;
  return n;
}

const setName = (groupId: string, version: IpVersion) => `sg${version}_${shortId(groupId)}`;
const chain = {
  groupEgress: (groupId: string) => `sge_${shortId(groupId)}`,
  groupIngress: (groupId: string) => `sgi_${shortId(groupId)}`,
};

/** One security group rule as an nft rule inside the group's chain; null when it can never match. */
export function securityGroupRule(rule: SecurityGroupRuleSpec, knownGroups: ReadonlySet<string>): string | null {
  const version: IpVersion = rule.ethertype === 'IPv6' ? 6 : 4;
  const l3 = version === 4 ? 'ip' : 'ip6';
  const parts = [version === 4 ? 'ether type ip' : 'ether type ip6'];
  const side = rule.direction === 'ingress' ? 'saddr' : 'daddr';
  if (rule.remoteIpPrefix) {
    const cidr = parseCidr(rule.remoteIpPrefix);
    if (!cidr || cidr.version !== version) return null;
    if (cidr.prefix > 0) parts.push(`${l3} ${side} ${nftAddress(cidr)}`);
  } else if (rule.remoteGroupId) {
    if (!knownGroups.has(rule.remoteGroupId)) return null;
    parts.push(`${l3} ${side} @${setName(rule.remoteGroupId, version)}`);
  }
  const proto = protocolNumber(rule.protocol, version);
  if (proto === undefined) return null;
  if (proto !== null) {
    parts.push(`meta l4proto ${proto}`);
    const min = rule.portRangeMin;
    const max = rule.portRangeMax;
    // Out-of-range values would make the one nft transaction, and so every port's rules, fail.
    const within = (n: number | null, top: number) => n === null || (Number.isInteger(n) && n >= 0 && n <= top);
    if (PORT_PROTOCOLS.has(proto) && (min !== null || max !== null)) {
      const lo = min ?? 1;
      const hi = max ?? lo;
      if (!within(lo, 65535) || !within(hi, 65535) || lo > hi) return null;
      parts.push(`th dport ${lo === hi ? lo : `${lo}-${hi}`}`);
    } else if (proto === 1 || proto === 58) {
      const icmp = proto === 1 ? 'icmp' : 'icmpv6';
      if (!within(min, 255) || !within(max, 255)) return null;
      if (min !== null) parts.push(`${icmp} type ${min}`);
      if (min !== null && max !== null) parts.push(`${icmp} code ${max}`);
    }
  }
  parts.push('accept');
  return parts.join(' ');
}

interface SourcePair {
  readonly mac: string;
  readonly address: string;
}

/** The (MAC, source address) pairs a port may send from: its fixed IPs and its allowed address pairs. */
export function allowedSources(port: PortSpec): { macs: string[]; v4: SourcePair[]; v6: SourcePair[] } {
  const mac = port.macAddress.toLowerCase();
  const macs = new Set([mac]);
  const v4 = new Map<string, SourcePair>();
  const v6 = new Map<string, SourcePair>();
  const add = (m: string, text: string) => {
    const cidr = parseCidr(text);
    if (!cidr) return;
    const pair = { mac: m, address: nftAddress(cidr) };
    (cidr.version === 4 ? v4 : v6).set(`${pair.mac} . ${pair.address}`, pair);
  };
  for (const ip of port.fixedIps) add(mac, ip.ipAddress);
  for (const pair of port.allowedAddressPairs) {
    const m = (pair.macAddress ?? mac).toLowerCase();
    if (!isMac(m)) continue;
    macs.add(m);
    add(m, pair.ipAddress);
  }
  // IPv6 endpoints speak ND from the link-local address their MAC gives them.
  for (const m of macs) add(m, linkLocalFromMac(m));
  return { macs: [...macs], v4: [...v4.values()], v6: [...v6.values()] };
}

function block(header: string, body: readonly string[], indent = '  '): string[] {
  return [`${indent}${header} {`, ...body.map((l) => `${indent}  ${l}`), `${indent}}`];
}

const quote = (name: string) => `"${name}"`;

/**
 * The name of the empty set each table carries as its revision marker. `nft list set` of it is
 * cheap whatever the table holds (3 ms with 9000 rules), while `nft list tables` in nft 1.0.6
 * fetches every rule first (190 ms with the same 9000): so an unchanged ruleset costs two
 * cheap probes per sync instead of a listing.
 */
export function revisionSetName(body: string): string {
  return `rev_${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
}

/** A set or map of the bridge table whose elements follow the ports. */
interface ElementSet {
  /** The declaration up to its elements: `  set NAME { type ...; flags ...;`. */
  readonly head: string;
  readonly items: readonly string[];
  /** Changed elements replace the whole set (flush, then add) instead of a delta. */
  readonly replaceWhole: boolean;
}

/**
 * The owner's host ruleset in two layers. The frame is everything but the per-port elements:
 * tables, chains, rules and set declarations, with the revision marker named after it. Two
 * rulesets with the same frame differ only in elements, so one becomes the other with
 * `add element`/`delete element` (see `elementChangeScript`), whose cost follows the ports that
 * changed, not the ports there are.
 */
export interface HostRuleset {
  /** Both tables as nft text, elements included. */
  readonly text: string;
  readonly frame: string;
  readonly elements: ReadonlyMap<string, ElementSet>;
}

/** The ruleset with its frame and elements apart; null when no port needs filtering. */
export function buildHostRulesetLayers(input: HostRulesetInput): HostRuleset | null {
  const sets = new Map<string, ElementSet>();
  const withPlaceholders = buildTables(input, sets);
  if (!withPlaceholders) return null;
  const fill = (withItems: boolean) => withPlaceholders.replace(/^@@(\S+)@@$/gm, (_, name: string) => {
    const e = sets.get(name)!;
    return `${e.head}${withItems && e.items.length ? ` elements = { ${e.items.join(', ')} }` : ''} }`;
  });
  const frameBody = fill(false);
  const marker = `  set ${revisionSetName(frameBody)} { type ipv4_addr; }`;
  const addMarker = (body: string) => body.replace(/^(table (?:inet|bridge) \S+ \{)$/gm, `$1\n${marker}`);
  return { text: addMarker(fill(true)), frame: addMarker(frameBody), elements: sets };
}

/**
 * The `nft -f -` script that turns the applied ruleset `from` into `to` by element changes, in one
 * transaction (deletes before adds, so a port whose groups changed gets its new verdict); null when
 * the frames differ and the whole ruleset must be applied. '' when nothing changed.
 */
export function elementChangeScript(owner: string, from: HostRuleset, to: HostRuleset): string | null {
  if (from.frame !== to.frame) return null;
  const table = `bridge ${nftTableName(owner)}`;
  const deletes: string[] = [];
  const adds: string[] = [];
  // Map elements are deleted by key.
  const key = (item: string) => item.replace(/ : .*$/, '');
  for (const [name, want] of to.elements) {
    const had = from.elements.get(name)?.items ?? [];
    const before = new Set(had);
    const after = new Set(want.items);
    const gone = had.filter((i) => !after.has(i));
    const added = want.items.filter((i) => !before.has(i));
    if (!gone.length && !added.length) continue;
    if (want.replaceWhole) {
      deletes.push(`flush set ${table} ${name}`);
      if (want.items.length) adds.push(`add element ${table} ${name} { ${want.items.join(', ')} }`);
      continue;
    }
    if (gone.length) deletes.push(`delete element ${table} ${name} { ${[...new Set(gone.map(key))].join(', ')} }`);
    if (added.length) adds.push(`add element ${table} ${name} { ${added.join(', ')} }`);
  }
  return deletes.length || adds.length ? [...deletes, ...adds].join('\n') + '\n' : '';
}

function buildTables(input: HostRulesetInput, sets: Map<string, ElementSet>): string {
  if (input.ports.length === 0) return '';
  const table = nftTableName(input.owner);
  const groups = new Map(input.securityGroups.map((g) => [g.id, g]));
  const known = new Set(groups.keys());
  const ports = [...input.ports].sort((a, b) => a.port.id.localeCompare(b.port.id));
  const lines: string[] = [];

  // inet: conntrack zones and the conntrack verdict for the bridge rules.
  const inet: string[] = [];
  const zoned = [...input.zones].filter(([bridge]) => input.bridges.includes(bridge)).sort(([a], [b]) => a.localeCompare(b));
  if (zoned.length) {
    inet.push(
      ...block('chain prerouting', [
        'type filter hook prerouting priority raw; policy accept;',
        `ct zone set iifname map { ${zoned.map(([b, z]) => `${quote(b)} : ${z}`).join(', ')} }`,
      ]),
    );
  }
  inet.push(
    ...block('chain forward', [
      'type filter hook forward priority filter; policy accept;',
      `iifname != { ${[...new Set(input.bridges)].sort().map(quote).join(', ')} } return`,
      `meta mark set meta mark & 0x${CT_MARK_CLEAR}`,
      `ct state established,related meta mark set meta mark | ${hex(CT_MARK.established)}`,
      `ct state invalid meta mark set meta mark | ${hex(CT_MARK.invalid)}`,
    ]),
  );
  lines.push(`table inet ${table} {`, ...inet, '}');

  // bridge: per-port facts live in named sets and maps keyed by interface name; the rules are
  // the same few whatever the number of ports (anonymous sets per port made nft -f ~2x slower).
  const bridge: string[] = [];
  const elements = { filtered: [] as string[], macs: [] as string[], arp4: [] as string[], src4: [] as string[], src6: [] as string[], egress: [] as string[], ingress: [] as string[] };
  const combos = new Map<string, string[]>();
  for (const { port } of ports) {
    const tap = quote(tapName(port.id));
    const { macs, v4, v6 } = allowedSources(port);
    elements.filtered.push(tap);
    for (const mac of macs) {
      elements.macs.push(`${tap} . ${mac}`);
      // ARP probes (duplicate address detection) carry 0.0.0.0 as sender address.
      elements.arp4.push(`${tap} . ${mac} . 0.0.0.0`);
    }
    for (const p of v4) {
      elements.arp4.push(`${tap} . ${p.mac} . ${p.address}`);
      elements.src4.push(`${tap} . ${p.mac} . ${p.address}`);
    }
    for (const p of v6) elements.src6.push(`${tap} . ${p.mac} . ${p.address}`);
    const ids = [...new Set(port.securityGroupIds)].filter((id) => known.has(id)).sort();
    if (ids.length === 0) continue; // no group: nothing in the maps, so everything but the basics is dropped
    const combo = ids.length === 1 ? null : `g_${createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 12)}`;
    if (combo) combos.set(combo, ids);
    elements.egress.push(`${tap} : jump ${combo ? `${combo}_e` : chain.groupEgress(ids[0])}`);
    elements.ingress.push(`${tap} : jump ${combo ? `${combo}_i` : chain.groupIngress(ids[0])}`);
  }
  // Each declaration is a placeholder line in the frame; the full text puts the elements in.
  const set = (kind: 'set' | 'map', name: string, type: string, items: string[], flags = '', replaceWhole = false) => {
    sets.set(name, { head: `  ${kind} ${name} { type ${type};${flags}`, items, replaceWhole });
    return `@@${name}@@`;
  };
  bridge.push(
    set('set', 'filtered', 'ifname', elements.filtered),
    set('set', 'macs', 'ifname . ether_addr', elements.macs),
    set('set', 'arp4', 'ifname . ether_addr . ipv4_addr', elements.arp4, ' flags interval;'),
    set('set', 'src4', 'ifname . ether_addr . ipv4_addr', elements.src4, ' flags interval;'),
    set('set', 'src6', 'ifname . ether_addr . ipv6_addr', elements.src6, ' flags interval;'),
    set('map', 'egress', 'ifname : verdict', elements.egress),
    set('map', 'ingress', 'ifname : verdict', elements.ingress),
  );

  // Member sets of the groups that rules reference (remote_group_id).
  const usedGroups = new Set<string>();
  for (const { port } of ports) for (const id of port.securityGroupIds) if (known.has(id)) usedGroups.add(id);
  const setGroups = new Set<string>();
  for (const id of usedGroups) for (const r of groups.get(id)!.rules) if (r.remoteGroupId && known.has(r.remoteGroupId)) setGroups.add(r.remoteGroupId);
  for (const id of [...setGroups].sort()) {
    const members: Record<IpVersion, Set<string>> = { 4: new Set(), 6: new Set() };
    for (const a of groups.get(id)!.memberAddresses) {
      const cidr = parseCidr(a);
      if (cidr) members[cidr.version].add(nftAddress(cidr));
    }
    // auto-merge: member addresses may overlap (a pair's CIDR containing a fixed IP).
    // Replaced whole on change: one address may have been merged into a neighbour's range.
    for (const version of [4, 6] as const) bridge.push(set('set', setName(id, version), `ipv${version}_addr`, [...members[version]], ' flags interval; auto-merge;', true));
  }

  const established = `meta mark & ${hex(CT_MARK.established)} == ${hex(CT_MARK.established)} accept`;
  const invalid = `meta mark & ${hex(CT_MARK.invalid)} == ${hex(CT_MARK.invalid)} drop`;
  bridge.push(
    // Before br_netfilter (0): spoofed packets never reach conntrack.
    ...block('chain prerouting', [
      'type filter hook prerouting priority -300; policy accept;',
      'iifname != @filtered accept',
      'ether type != { ip, arp, ip6 } drop',
      'iifname . ether saddr != @macs drop',
      'ether type arp iifname . arp saddr ether . arp saddr ip != @arp4 drop',
      // A DHCP client asks before it has an address.
      'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept',
      'ether type ip iifname . ether saddr . ip saddr != @src4 drop',
      // Duplicate address detection and MLD reports come from the unspecified address.
      'ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } accept',
      'ether type ip6 iifname . ether saddr . ip6 saddr != @src6 drop',
      // An instance must not answer as a DHCP server or an IPv6 router on its network.
      'udp sport 67 udp dport 68 drop',
      'udp sport 547 udp dport 546 drop',
      'icmpv6 type nd-router-advert drop',
    ]),
    // Egress by input port, after br_netfilter has marked the conntrack state.
    ...block('chain egress', [
      'type filter hook forward priority 100; policy accept;',
      'iifname != @filtered accept',
      established,
      'ether type arp accept',
      'udp sport 68 udp dport 67 accept',
      'udp sport 546 udp dport 547 accept',
      'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report } accept',
      invalid,
      'iifname vmap @egress',
      'drop',
    ]),
    // Ingress by output port: a separate base chain, since an accept ends only its own chain.
    ...block('chain ingress', [
      'type filter hook forward priority 110; policy accept;',
      'oifname != @filtered accept',
      established,
      'ether type arp accept',
      'udp sport 67 udp dport 68 accept',
      'udp sport 547 udp dport 546 accept',
      'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query, mld-listener-report, mld2-listener-report } accept',
      invalid,
      'oifname vmap @ingress',
      'drop',
    ]),
  );
  for (const id of [...usedGroups].sort()) {
    const rules = groups.get(id)!.rules;
    const rendered = (direction: 'ingress' | 'egress') =>
      rules.filter((r) => r.direction === direction).map((r) => securityGroupRule(r, setGroups)).filter((r): r is string => r !== null);
    bridge.push(...block(`chain ${chain.groupEgress(id)}`, rendered('egress')), ...block(`chain ${chain.groupIngress(id)}`, rendered('ingress')));
  }
  // A port in several groups: each group's rules in turn. The maps jump (not goto): a chain
  // entered by goto from a base chain that falls off its end takes the base chain's policy,
  // accept, instead of returning to the drop after the map.
  for (const [name, ids] of [...combos].sort(([a], [b]) => a.localeCompare(b))) {
    bridge.push(...block(`chain ${name}_e`, ids.map((id) => `jump ${chain.groupEgress(id)}`)), ...block(`chain ${name}_i`, ids.map((id) => `jump ${chain.groupIngress(id)}`)));
  }
  lines.push(`table bridge ${table} {`, ...bridge, '}');
  return lines.join('\n') + '\n';
}

/** Every nftables family a table of the owner could be in. */
export const NFT_FAMILIES = ['inet', 'bridge', 'ip', 'ip6', 'arp', 'netdev'] as const;

/**
 * The `nft -f -` script that replaces the owner's tables in one transaction. Each table is
 * declared first (a no-op when it exists), so deleting it cannot fail; tables of the owner in
 * any other family are deleted the same way, whether they exist or not. An empty ruleset just
 * deletes.
 */
export function hostRulesetScript(owner: string, ruleset: string): string {
  const table = nftTableName(owner);
  const lines = NFT_FAMILIES.flatMap((family) => [`table ${family} ${table}`, `delete table ${family} ${table}`]);
  return lines.join('\n') + '\n' + ruleset;
}

/** The revision marker of a ruleset's text or frame built by `buildHostRulesetLayers`. */
export function rulesetRevision(ruleset: string): string | null {
  return /set (rev_[0-9a-f]{16}) \{/.exec(ruleset)?.[1] ?? null;
}
