/**
 * The diff of `sync`: from the desired state and a snapshot of the host, what to run. Pure: the
 * driver applies the plan (nft first, then one `ip -batch`, then per-namespace work).
 *
 * Rules it follows:
 * - A link is this owner's only when its alias says `kumo:<owner>:<resource>`; a link with a wanted
 *   name but no such alias is reported and left alone, never adopted or deleted.
 * - Every wanted name is reserved before anything is planned, so a resource that fails this time
 *   is retried next time, not removed as an orphan.
 * - A resource whose planning fails contributes no lines at all (no half-built objects).
 * - Deletions run first (orphan namespaces, then ports, VXLAN devices, bridges), then new
 *   namespaces, bridges, VXLAN devices, ports and the veths into DHCP and router namespaces.
 * @module
 */
import type { DhcpPortSpec, HostNetworkState, NetworkSpec, PortSpec, RouterSpec } from '../types.js';
import { assertSafeTokens, CommandBatch } from './command-batch.js';
import type { HostSnapshot, LinkState } from './host-state.js';
import { ipVersionOf, isMac } from './ipaddr.js';
import {
  bridgeName,
  dhcpInterfaceName,
  linkAlias,
  namespaceName,
  parseLinkAlias,
  parseNamespaceName,
  tapName,
  vxlanName,
} from './naming.js';
import type { EndpointWork } from './endpoints.js';
import { buildHostRulesetLayers, type HostRuleset } from './nft-host.js';
import { routerInterfaces } from './router.js';

export const VXLAN_PORT = 4789;
const ZERO_MAC = '00:00:00:00:00:00';

export interface PlanInput {
  readonly owner: string;
  readonly desired: HostNetworkState;
  readonly host: HostSnapshot;
  readonly physicalBridges: Readonly<Record<string, string>>;
  readonly vxlanLocalIp: string;
  /** Network id → conntrack zone (for the network's own bridge). */
  readonly zones: ReadonlyMap<string, number>;
  /** bridge-nf-call-iptables is on in this namespace: every bridge, mapped ones too, sends its traffic through conntrack. */
  readonly conntrackOnAllBridges: boolean;
  /** Whether nft is installed (filtered ports fail without it). */
  readonly nftAvailable: boolean;
}

interface NamespaceIntent {
  readonly resourceId: string;
  readonly namespace: string;
  /** The namespace or one of its veths is created by this plan: everything inside needs configuring. */
  readonly fresh: boolean;
}

export interface DhcpIntent extends NamespaceIntent {
  readonly network: NetworkSpec;
  readonly port: DhcpPortSpec;
}

export interface RouterIntent extends NamespaceIntent {
  readonly router: RouterSpec;
}

export interface Plan {
  /** The host's `ip -force -batch -` script. */
  readonly ip: CommandBatch;
  /** The `bridge -force -batch -` script for VXLAN flood entries. */
  readonly fdb: CommandBatch;
  /** The owner's host ruleset as wanted (null when no port is filtered); the driver decides whether and how it must be applied. */
  readonly ruleset: HostRuleset | null;
  /** Ports the ruleset filters: if it cannot be applied they must not be plugged or changed. */
  readonly securedPorts: ReadonlySet<string>;
  /** Failures known before anything runs. */
  readonly failures: ReadonlyMap<string, string>;
  /** Ports that are active once their lines have run without error. */
  readonly portsUp: readonly string[];
  readonly dhcp: readonly DhcpIntent[];
  readonly routers: readonly RouterIntent[];
  /** Orphan links and namespaces this plan removes, by name, with the resource whose failure means it is still there. */
  readonly removed: readonly { readonly name: string; readonly resourceId: string }[];
  /** Far ends made by this plan whose static addresses are configured inside their namespace: `ip -batch` lines for each. */
  readonly staticEndpoints: readonly EndpointWork[];
  /** Orphan namespaces the ip batch deletes; processes in them must be stopped first. */
  readonly removedNamespaces: readonly string[];
}

interface Placement {
  readonly bridge: string;
  readonly owned: boolean;
  /** Bridged traffic passes conntrack (br_netfilter), which stateful filtering needs. */
  readonly conntrack: boolean;
}

type StagedLine = { batch: CommandBatch; args: string[]; ignoreMissing: boolean };
type Add = (batch: CommandBatch, args: (string | number)[], options?: { ignoreMissing?: boolean }) => void;

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

function checkMtu(mtu: number): string {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new Error(`invalid MTU ${mtu}`);
  return String(mtu);
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function buildPlan(input: PlanInput): Plan {
  const { owner, desired, host } = input;
  const failures = new Map<string, string>();
  const fail = (id: string, text: string) => {
    if (!failures.has(id)) failures.set(id, text);
  };

  const deletes = new CommandBatch();
  const nsDeletes = new CommandBatch();
  const nsAdds = new CommandBatch();
  const bridges = new CommandBatch();
  const vxlans = new CommandBatch();
  const ports = new CommandBatch();
  const nsLinks = new CommandBatch();
  const staticEndpoints: EndpointWork[] = [];
  const fdb = new CommandBatch();
  const removed: { name: string; resourceId: string }[] = [];

  // Runs one resource's planning; its lines land in the batches only if all of it succeeded.
  const stage = (resourceId: string, fn: (add: Add) => void): boolean => {
    const staged: StagedLine[] = [];
    try {
      fn((batch, args, options = {}) => {
        const text = args.map(String);
        assertSafeTokens(text);
        staged.push({ batch, args: text, ignoreMissing: options.ignoreMissing ?? false });
      });
    } catch (err) {
      fail(resourceId, message(err));
      return false;
    }
    for (const l of staged) l.batch.add(resourceId, l.args, { ignoreMissing: l.ignoreMissing });
    return true;
  };

  // Every name the desired state wants, reserved up front (see the module comment).
  const wantedLinks = new Map<string, string>();
  const wantedNamespaces = new Set<string>();
  const reserve = (name: () => string, resourceId: string) => {
    try {
      const n = name();
      const other = wantedLinks.get(n);
      if (other !== undefined && other !== resourceId) fail(resourceId, `${n} is also the name for ${other}`);
      else wantedLinks.set(n, resourceId);
    } catch (err) {
      fail(resourceId, message(err));
    }
  };
  const mappedBridge = (net: NetworkSpec) => (net.type === 'flat' && net.physicalNetwork ? input.physicalBridges[net.physicalNetwork] : undefined);
  for (const net of desired.networks) {
    if (!mappedBridge(net)) reserve(() => bridgeName(net.id), net.id);
    // Without peers a VXLAN device carries nothing; leaving it out also lets two owners on one host use the same VNI.
    if (net.type === 'vxlan' && net.vxlanPeers.length) reserve(() => vxlanName(net.id), net.id);
    if (net.dhcpPort) {
      const portId = net.dhcpPort.portId;
      reserve(() => tapName(portId), portId);
      wantedNamespaces.add(namespaceName('dhcp', owner, net.id));
    }
  }
  for (const port of desired.ports) reserve(() => tapName(port.id), port.id);
  for (const r of desired.routers) {
    wantedNamespaces.add(namespaceName('router', owner, r.id));
    for (const { spec } of safeRouterInterfaces(r)) reserve(() => tapName(spec.portId), spec.portId);
  }

  /** The existing link with this name if it is ours for this resource; throws if it is someone else's. */
  const ownLink = (name: string, aliasResource: string): LinkState | null => {
    if (wantedLinks.get(name) !== aliasResource) throw new Error(`${name} is also the name for ${wantedLinks.get(name)}`);
    const link = host.links.get(name);
    if (!link) return null;
    const alias = parseLinkAlias(link.alias);
    if (!alias || alias.owner !== owner) throw new Error(`${name} exists and is not this Kumo's (alias ${link.alias ?? 'none'}); not touching it`);
    if (alias.resourceId !== aliasResource) throw new Error(`${name} belongs to ${alias.resourceId}`);
    return link;
  };

  const fixSlave = (add: Add, link: LinkState, bridge: string, mtu: number, up: boolean) => {
    const args: string[] = [];
    if (link.master !== bridge) args.push('master', bridge);
    if (link.mtu !== mtu) args.push('mtu', String(mtu));
    if (!link.addrGenModeNone) args.push('addrgenmode', 'none');
    if (link.up !== up) args.push(up ? 'up' : 'down');
    if (args.length) add(ports, ['link', 'set', 'dev', link.name, ...args]);
  };

  // Networks: bridges and VXLAN devices.
  const placements = new Map<string, Placement>();
  for (const net of desired.networks) {
    stage(net.id, (add) => {
      const mtu = checkMtu(net.mtu);
      const mapped = mappedBridge(net);
      if (mapped) {
        const link = host.links.get(mapped);
        if (!link || link.kind !== 'bridge') throw new Error(`bridge ${mapped} of physical network ${net.physicalNetwork} does not exist`);
        placements.set(net.id, { bridge: mapped, owned: false, conntrack: (link.bridge?.nfCallIptables ?? false) || input.conntrackOnAllBridges });
        return;
      }
      const br = bridgeName(net.id);
      let link = ownLink(br, net.id);
      if (link && link.kind !== 'bridge') {
        add(deletes, ['link', 'del', 'dev', br], { ignoreMissing: true });
        link = null;
      }
      if (!link) {
        // nf_call_*: br_netfilter for this bridge only (conntrack for the security groups; see nft-host.ts).
        add(bridges, ['link', 'add', br, 'mtu', mtu, 'type', 'bridge', 'nf_call_iptables', '1', 'nf_call_ip6tables', '1']);
        add(bridges, ['link', 'set', 'dev', br, 'addrgenmode', 'none', 'alias', linkAlias(owner, net.id), 'up']);
      } else {
        const fix: string[] = [];
        if (link.mtu !== net.mtu) fix.push('mtu', mtu);
        if (!link.addrGenModeNone) fix.push('addrgenmode', 'none');
        if (!link.up) fix.push('up');
        if (fix.length) add(bridges, ['link', 'set', 'dev', br, ...fix]);
        if (!link.bridge?.nfCallIptables || !link.bridge.nfCallIp6tables) {
          add(bridges, ['link', 'set', 'dev', br, 'type', 'bridge', 'nf_call_iptables', '1', 'nf_call_ip6tables', '1']);
        }
      }
      if (net.type === 'vxlan' && net.vxlanPeers.length) planVxlan(add, net, br, mtu);
      placements.set(net.id, { bridge: br, owned: true, conntrack: true });
    });
  }

  function planVxlan(add: Add, net: NetworkSpec, br: string, mtu: string) {
    const vni = net.segmentationId;
    if (vni === null || !Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw new Error(`vxlan network without a valid VNI (${vni})`);
    const local = input.vxlanLocalIp ? input.vxlanLocalIp : null;
    if (local !== null && !ipVersionOf(local)) throw new Error(`vxlanLocalIp ${local} is not an address`);
    const vx = vxlanName(net.id);
    let link = ownLink(vx, net.id);
    const same = link?.kind === 'vxlan' && link.vxlan !== null && link.vxlan.id === vni && link.vxlan.port === VXLAN_PORT && !link.vxlan.learning && link.vxlan.local === local;
    if (link && !same) {
      add(deletes, ['link', 'del', 'dev', vx], { ignoreMissing: true });
      link = null;
    }
    if (!link) {
      // nolearning: remote MACs are not learnt from the underlay; flooding goes to the static peers below.
      add(vxlans, ['link', 'add', vx, 'mtu', mtu, 'type', 'vxlan', 'id', vni, 'dstport', VXLAN_PORT, ...(local ? ['local', local] : []), 'nolearning']);
      add(vxlans, ['link', 'set', 'dev', vx, 'master', br, 'addrgenmode', 'none', 'alias', linkAlias(owner, net.id), 'up']);
    } else {
      const fix: string[] = [];
      if (link.master !== br) fix.push('master', br);
      if (link.mtu !== net.mtu) fix.push('mtu', mtu);
      if (!link.addrGenModeNone) fix.push('addrgenmode', 'none');
      if (!link.up) fix.push('up');
      if (fix.length) add(vxlans, ['link', 'set', 'dev', vx, ...fix]);
    }
    const current = new Set(link ? host.vxlanFlood.get(vx) ?? [] : []);
    const wanted = new Set(net.vxlanPeers);
    for (const peer of wanted) {
      if (!ipVersionOf(peer)) throw new Error(`vxlan peer ${peer} is not an address`);
      if (!current.has(peer)) add(fdb, ['fdb', 'append', ZERO_MAC, 'dev', vx, 'dst', peer]);
    }
    for (const peer of current) if (!wanted.has(peer)) add(fdb, ['fdb', 'del', ZERO_MAC, 'dev', vx, 'dst', peer], { ignoreMissing: true });
  }

  const placementOf = (networkId: string): Placement => {
    const p = placements.get(networkId);
    if (p) return p;
    const why = failures.get(networkId);
    throw new Error(why ? `network ${networkId} failed: ${why}` : `network ${networkId} is not in the desired state of this host`);
  };

  // Ports.
  const securedPorts = new Set<string>();
  const filtered: { port: PortSpec; bridge: string }[] = [];
  const portsUp: string[] = [];
  for (const port of desired.ports) {
    stage(port.id, (add) => {
      const place = placementOf(port.networkId);
      const net = desired.networks.find((n) => n.id === port.networkId)!;
      const mtu = checkMtu(net.mtu);
      if (!isMac(port.macAddress)) throw new Error(`invalid MAC ${port.macAddress}`);
      for (const pair of port.allowedAddressPairs) {
        if (pair.macAddress !== null && !isMac(pair.macAddress)) throw new Error(`invalid MAC ${pair.macAddress} in an allowed address pair`);
      }
      if (port.portSecurityEnabled) {
        if (!place.conntrack) {
          throw new Error(`bridge ${place.bridge} does not pass bridged traffic to conntrack (nf_call_iptables off): security groups cannot be enforced`);
        }
        if (!input.nftAvailable) throw new Error('nft is not installed: security groups cannot be enforced');
      }
      const tap = tapName(port.id);
      const link = ownLink(tap, port.id);
      let ok: boolean;
      if (port.plug.kind === 'veth') {
        const { netns, ifname } = port.plug;
        if (!IFNAME.test(ifname)) throw new Error(`invalid interface name ${ifname}`);
        if (!host.namespaces.has(netns)) throw new Error(`namespace ${netns} does not exist`);
        const nsid = host.namespaces.get(netns);
        ok = link !== null && link.kind === 'veth' && link.linkNetnsId !== null && nsid !== null && nsid !== undefined && link.linkNetnsId === nsid;
        if (link && !ok) add(deletes, ['link', 'del', 'dev', tap], { ignoreMissing: true });
        if (!ok) {
          // An IPv4-only static far end gets no IPv6 link-local address: otherwise its duplicate address
          // detection, MLD reports and router solicitations are flooded by the bridge to every other port
          // of the network, kernel work that grows with the ports there are (a container's veth has no
          // IPv6 unless its port has an IPv6 address, as Docker does it). The link is then brought up by
          // the endpoint's own batch, after `addrgenmode none`; `ip link add` cannot set that mode.
          const quietV6 = port.plug.static !== undefined && !port.plug.static.addresses.some((a) => a.includes(':'));
          // Created in the endpoint's namespace with its final name and MAC (and UP, unless its batch brings it up).
          add(ports, ['link', 'add', 'name', ifname, 'netns', netns, 'address', port.macAddress.toLowerCase(), 'mtu', mtu, ...(quietV6 ? [] : ['up']), 'type', 'veth', 'peer', 'name', tap, 'mtu', mtu]);
          if (port.plug.static) {
            const { addresses, gateway } = port.plug.static;
            const lines = [
              ...(quietV6 ? [['link', 'set', 'dev', ifname, 'addrgenmode', 'none', 'up']] : []),
              ...addresses.map((a) => ['addr', 'replace', a, 'dev', ifname]),
              ...(gateway ? [['route', 'replace', 'default', 'via', gateway, 'dev', ifname]] : []),
            ];
            for (const l of lines) assertSafeTokens(l);
            staticEndpoints.push({ portId: port.id, netns, lines: lines.map((l) => l.join(' ')) });
          }
        }
      } else {
        ok = link !== null && link.kind === 'tun' && link.tunType === 'tap';
        if (link && !ok) add(deletes, ['link', 'del', 'dev', tap], { ignoreMissing: true });
        // The tap keeps its own random MAC: the port's MAC is the guest's, set by QEMU.
        if (!ok) add(ports, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      }
      if (!ok) {
        add(ports, ['link', 'set', 'dev', tap, 'master', place.bridge, 'mtu', mtu, 'addrgenmode', 'none', 'alias', linkAlias(owner, port.id), port.adminStateUp ? 'up' : 'down']);
      } else {
        fixSlave(add, link!, place.bridge, net.mtu, port.adminStateUp);
      }
      if (port.portSecurityEnabled) {
        securedPorts.add(port.id);
        filtered.push({ port, bridge: place.bridge });
      }
      if (port.adminStateUp) portsUp.push(port.id);
    });
  }

  // A veth from a bridge into one of our namespaces; true when it is (re)created.
  const namespaceVeth = (add: Add, portId: string, inner: string, ns: string, nsFresh: boolean, mac: string, networkId: string): boolean => {
    const place = placementOf(networkId);
    const net = desired.networks.find((n) => n.id === networkId)!;
    const mtu = checkMtu(net.mtu);
    if (!isMac(mac)) throw new Error(`invalid MAC ${mac}`);
    const tap = tapName(portId);
    const link = ownLink(tap, portId);
    const nsid = host.namespaces.get(ns);
    const ok = !nsFresh && link !== null && link.kind === 'veth' && link.linkNetnsId !== null && nsid !== null && nsid !== undefined && link.linkNetnsId === nsid;
    if (link && !ok) add(deletes, ['link', 'del', 'dev', tap], { ignoreMissing: true });
    if (ok) {
      fixSlave(add, link!, place.bridge, net.mtu, true);
      return false;
    }
    add(nsLinks, ['link', 'add', 'name', inner, 'netns', ns, 'address', mac.toLowerCase(), 'mtu', mtu, 'up', 'type', 'veth', 'peer', 'name', tap, 'mtu', mtu]);
    add(nsLinks, ['link', 'set', 'dev', tap, 'master', place.bridge, 'addrgenmode', 'none', 'alias', linkAlias(owner, portId), 'up']);
    return true;
  };

  const ensureNamespace = (add: Add, ns: string): boolean => {
    if (host.namespaces.has(ns)) return false;
    add(nsAdds, ['netns', 'add', ns]);
    return true;
  };

  // DHCP namespaces.
  const dhcp: DhcpIntent[] = [];
  for (const net of desired.networks) {
    const port = net.dhcpPort;
    if (!port || !placements.has(net.id)) continue;
    stage(net.id, (add) => {
      const ns = namespaceName('dhcp', owner, net.id);
      const nsFresh = ensureNamespace(add, ns);
      const vethFresh = namespaceVeth(add, port.portId, dhcpInterfaceName(port.portId), ns, nsFresh, port.macAddress, net.id);
      dhcp.push({ resourceId: net.id, namespace: ns, fresh: nsFresh || vethFresh, network: net, port });
    });
  }

  // Router namespaces.
  const routers: RouterIntent[] = [];
  for (const router of desired.routers) {
    stage(router.id, (add) => {
      const ns = namespaceName('router', owner, router.id);
      const nsFresh = ensureNamespace(add, ns);
      let fresh = nsFresh;
      for (const { name, spec } of routerInterfaces(router)) {
        if (namespaceVeth(add, spec.portId, name, ns, nsFresh, spec.macAddress, spec.networkId)) fresh = true;
      }
      routers.push({ resourceId: router.id, namespace: ns, fresh, router });
    });
  }

  // Orphans: links and namespaces with this owner's label that nothing wants.
  const rank = (name: string) => (name.startsWith('kvx') ? 1 : name.startsWith('kbr') ? 2 : 0);
  const orphanLinks = [...host.links.values()]
    .filter((l) => parseLinkAlias(l.alias)?.owner === owner && !wantedLinks.has(l.name))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  const orphanDeletes = new CommandBatch();
  for (const l of orphanLinks) {
    const resourceId = parseLinkAlias(l.alias)!.resourceId;
    orphanDeletes.add(resourceId, ['link', 'del', 'dev', l.name], { ignoreMissing: true });
    removed.push({ name: l.name, resourceId });
  }
  const removedNamespaces: string[] = [];
  for (const ns of host.namespaces.keys()) {
    const parsed = parseNamespaceName(ns);
    if (parsed?.owner !== owner || wantedNamespaces.has(ns)) continue;
    nsDeletes.add(parsed.resourceId, ['netns', 'del', ns], { ignoreMissing: true });
    removed.push({ name: ns, resourceId: parsed.resourceId });
    removedNamespaces.push(ns);
  }

  // nftables on the host.
  const zones = new Map<string, number>();
  for (const net of desired.networks) {
    const place = placements.get(net.id);
    const zone = input.zones.get(net.id);
    if (place?.owned && zone !== undefined) zones.set(place.bridge, zone);
  }
  const ruleset = buildHostRulesetLayers({
    owner,
    ports: filtered,
    securityGroups: desired.securityGroups,
    bridges: [...new Set(filtered.map((f) => f.bridge))],
    zones,
  });
  // Orphan namespaces go first: whoever watches sees them gone no later than their links (deleting
  // a veth takes ~20 ms, a batch of them long enough to be observed half done), and the explicit
  // deletes of their veths that follow tolerate the kernel having removed them already.
  const ip = new CommandBatch().append(nsDeletes).append(orphanDeletes).append(deletes).append(nsAdds).append(bridges).append(vxlans).append(ports).append(nsLinks);
  return { ip, fdb, ruleset, securedPorts, failures, portsUp, dhcp, routers, staticEndpoints, removed, removedNamespaces };
}

function safeRouterInterfaces(router: RouterSpec) {
  try {
    return routerInterfaces(router);
  } catch {
    return [];
  }
}
