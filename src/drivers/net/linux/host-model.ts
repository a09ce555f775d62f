/**
 * The host as a sync that succeeded leaves it: every link and namespace the desired state asks for,
 * in the state the plan checks for (see plan.ts), so that buildPlan(desired, modelHost(desired))
 * plans nothing. A later plan made against this model instead of a read of the host contains the
 * lines of what changed since, which is how the driver plugs new ports without reading and planning
 * around thousands of links (driver.ts). Namespace ids are made up: a model's veths point at the
 * made-up ids of its own namespaces, which is all the plan compares.
 * @module
 */
import type { HostNetworkState, NetworkSpec } from '../types.js';
import type { HostSnapshot, LinkState } from './host-state.js';
import { bridgeName, linkAlias, namespaceName, tapName, vxlanName } from './naming.js';
import { VXLAN_PORT } from './plan.js';
import { routerInterfaces } from './router.js';

/** Above any id the kernel hands out on a host with fewer namespaces than that. */
const FIRST_MODEL_NSID = 1_000_000;

export interface HostModelInput {
  readonly owner: string;
  readonly desired: HostNetworkState;
  /** Links of the real host that are not this owner's (mapped physical bridges): kept as read. */
  readonly foreignLinks: ReadonlyMap<string, LinkState>;
  readonly physicalBridges: Readonly<Record<string, string>>;
  readonly vxlanLocalIp: string;
}

export function modelHost(input: HostModelInput): HostSnapshot {
  const { owner, desired } = input;
  const links = new Map<string, LinkState>(input.foreignLinks);
  const namespaces = new Map<string, number | null>();
  const vxlanFlood = new Map<string, readonly string[]>();
  const nsid = (ns: string): number => {
    let id = namespaces.get(ns);
    if (id === undefined || id === null) {
      id = FIRST_MODEL_NSID + namespaces.size;
      namespaces.set(ns, id);
    }
    return id;
  };
  const link = (l: Partial<LinkState> & Pick<LinkState, 'name' | 'kind' | 'alias' | 'mtu'>): void => {
    links.set(l.name, {
      ifindex: 0, master: null, up: true, address: null, linkNetnsId: null, addrGenModeNone: true, vxlan: null, bridge: null, tunType: null, ...l,
    });
  };
  const bridgeOf = new Map<string, string>();
  const mtuOf = new Map<string, number>();
  const placed = (net: NetworkSpec): string => {
    const mapped = net.type === 'flat' && net.physicalNetwork ? input.physicalBridges[net.physicalNetwork] : undefined;
    return mapped ?? bridgeName(net.id);
  };
  for (const net of desired.networks) {
    const br = placed(net);
    bridgeOf.set(net.id, br);
    mtuOf.set(net.id, net.mtu);
    if (br === bridgeName(net.id)) {
      link({ name: br, kind: 'bridge', alias: linkAlias(owner, net.id), mtu: net.mtu, bridge: { nfCallIptables: true, nfCallIp6tables: true } });
    }
    if (net.type === 'vxlan' && net.vxlanPeers.length) {
      const vx = vxlanName(net.id);
      link({
        name: vx, kind: 'vxlan', alias: linkAlias(owner, net.id), mtu: net.mtu, master: br,
        vxlan: { id: net.segmentationId ?? 0, local: input.vxlanLocalIp ? input.vxlanLocalIp : null, port: VXLAN_PORT, learning: false },
      });
      vxlanFlood.set(vx, [...net.vxlanPeers]);
    }
    if (net.dhcpPort) {
      const ns = namespaceName('dhcp', owner, net.id);
      link({ name: tapName(net.dhcpPort.portId), kind: 'veth', alias: linkAlias(owner, net.dhcpPort.portId), mtu: net.mtu, master: br, linkNetnsId: nsid(ns) });
    }
  }
  for (const port of desired.ports) {
    const common = { name: tapName(port.id), alias: linkAlias(owner, port.id), mtu: mtuOf.get(port.networkId) ?? 0, master: bridgeOf.get(port.networkId) ?? null, up: port.adminStateUp };
    if (port.plug.kind === 'veth') link({ ...common, kind: 'veth', linkNetnsId: nsid(port.plug.netns) });
    else link({ ...common, kind: 'tun', tunType: 'tap' });
  }
  for (const router of desired.routers) {
    const ns = namespaceName('router', owner, router.id);
    nsid(ns);
    for (const { spec } of routerInterfaces(router)) {
      link({ name: tapName(spec.portId), kind: 'veth', alias: linkAlias(owner, spec.portId), mtu: mtuOf.get(spec.networkId) ?? 0, master: bridgeOf.get(spec.networkId) ?? null, linkNetnsId: nsid(ns) });
    }
  }
  return { links, namespaces, vxlanFlood };
}
