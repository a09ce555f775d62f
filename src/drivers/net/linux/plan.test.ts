import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostNetworkState, NetworkSpec, PortSpec, RouterSpec } from '../types.js';
import type { HostSnapshot, LinkState } from './host-state.js';
import { bridgeName, dhcpInterfaceName, linkAlias, namespaceName, tapName, vxlanName } from './naming.js';
import { modelHost } from './host-model.js';
import { buildPlan, type PlanInput } from './plan.js';

const OWNER = 'ab';
const NET = '0c6f5b8e-1111-4222-8333-444455556666';
const EXT = '1c6f5b8e-1111-4222-8333-444455556666';
const SUB = '5b1c7d2e-aaaa-4bbb-8ccc-dddddddddddd';
const P1 = 'a1000000-0000-4000-8000-000000000001';
const P2 = 'a2000000-0000-4000-8000-000000000002';
const DP = 'a3000000-0000-4000-8000-000000000003';
const RP = 'a4000000-0000-4000-8000-000000000004';
const GP = 'a5000000-0000-4000-8000-000000000005';
const ROUTER = 'b1000000-0000-4000-8000-000000000001';
const SG = 'c1000000-0000-4000-8000-000000000001';

const net: NetworkSpec = {
  id: NET, type: 'vxlan', segmentationId: 4242, physicalNetwork: null, mtu: 1450, vxlanPeers: ['192.0.2.9'],
  subnets: [{ id: SUB, cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: '10.0.0.1', enableDhcp: true, dnsNameservers: [], hostRoutes: [] }],
  dhcpPort: { portId: DP, macAddress: 'fa:16:3e:00:00:02', fixedIps: [{ subnetId: SUB, ipAddress: '10.0.0.2' }], hosts: [] },
};
const ext: NetworkSpec = { id: EXT, type: 'flat', segmentationId: null, physicalNetwork: 'public', mtu: 1500, vxlanPeers: [], subnets: [], dhcpPort: null };
const port = (id: string, p: Partial<PortSpec> = {}): PortSpec => ({
  id, networkId: NET, macAddress: 'fa:16:3e:00:00:03', fixedIps: [{ subnetId: SUB, ipAddress: '10.0.0.3' }], plug: { kind: 'veth', netns: 'kt-1', ifname: 'eth0' },
  adminStateUp: true, portSecurityEnabled: true, allowedAddressPairs: [], securityGroupIds: [SG], ...p,
});
const router: RouterSpec = {
  id: ROUTER, routes: [], floatingIps: [],
  interfaces: [{ portId: RP, networkId: NET, macAddress: 'fa:16:3e:00:00:01', addresses: ['10.0.0.1/24'] }],
  gateway: { portId: GP, networkId: EXT, macAddress: 'fa:16:3e:00:01:01', addresses: ['203.0.113.5/24'], defaultGateway: '203.0.113.1', enableSnat: true },
};
const desired: HostNetworkState = {
  networks: [net, ext],
  ports: [port(P1), port(P2, { macAddress: 'fa:16:3e:00:00:04', plug: { kind: 'tap' }, portSecurityEnabled: false })],
  securityGroups: [{ id: SG, rules: [], memberAddresses: [] }],
  routers: [router],
};

const link = (name: string, l: Partial<LinkState>): LinkState => ({
  name, ifindex: 0, kind: null, alias: null, master: null, mtu: 1500, up: true, address: null, linkNetnsId: null, addrGenModeNone: true,
  vxlan: null, bridge: null, tunType: null, ...l,
});

/** What the host looks like after a successful sync of `desired`. */
function converged(): HostSnapshot {
  const links: LinkState[] = [
    link('eth0', {}),
    link(bridgeName(NET), { kind: 'bridge', alias: linkAlias(OWNER, NET), mtu: 1450, bridge: { nfCallIptables: true, nfCallIp6tables: true } }),
    link(vxlanName(NET), { kind: 'vxlan', alias: linkAlias(OWNER, NET), mtu: 1450, master: bridgeName(NET), vxlan: { id: 4242, local: '192.0.2.2', port: 4789, learning: false } }),
    link(bridgeName(EXT), { kind: 'bridge', alias: linkAlias(OWNER, EXT), mtu: 1500, bridge: { nfCallIptables: true, nfCallIp6tables: true } }),
    link(tapName(P1), { kind: 'veth', alias: linkAlias(OWNER, P1), mtu: 1450, master: bridgeName(NET), linkNetnsId: 0 }),
    link(tapName(P2), { kind: 'tun', tunType: 'tap', alias: linkAlias(OWNER, P2), mtu: 1450, master: bridgeName(NET) }),
    link(tapName(DP), { kind: 'veth', alias: linkAlias(OWNER, DP), mtu: 1450, master: bridgeName(NET), linkNetnsId: 1 }),
    link(tapName(RP), { kind: 'veth', alias: linkAlias(OWNER, RP), mtu: 1450, master: bridgeName(NET), linkNetnsId: 2 }),
    link(tapName(GP), { kind: 'veth', alias: linkAlias(OWNER, GP), mtu: 1500, master: bridgeName(EXT), linkNetnsId: 2 }),
  ];
  return {
    links: new Map(links.map((l) => [l.name, l])),
    namespaces: new Map([['kt-1', 0], [namespaceName('dhcp', OWNER, NET), 1], [namespaceName('router', OWNER, ROUTER), 2]]),
    vxlanFlood: new Map([[vxlanName(NET), ['192.0.2.9']]]),
  };
}

function input(over: Partial<PlanInput> = {}): PlanInput {
  return { owner: OWNER, desired, host: converged(), physicalBridges: {}, vxlanLocalIp: '192.0.2.2', zones: new Map([[NET, 5], [EXT, 6]]), conntrackOnAllBridges: false, nftAvailable: true, ...over };
}

function withLinks(host: HostSnapshot, change: (links: Map<string, LinkState>) => void): HostSnapshot {
  const links = new Map(host.links);
  change(links);
  return { ...host, links };
}

test('plan: a vxlan network without peers (one host) gets no VXLAN device, and loses the one it had', () => {
  const lonely = { ...desired, networks: desired.networks.map((n) => (n.id === NET ? { ...n, vxlanPeers: [] } : n)) };
  const fresh = buildPlan(input({ desired: lonely, host: { links: new Map(), namespaces: new Map([['kt-1', null]]), vxlanFlood: new Map() } }));
  assert.deepEqual(fresh.failures, new Map());
  assert.ok(!fresh.ip.script().includes(vxlanName(NET)));
  assert.equal(fresh.fdb.script(), '');
  const had = buildPlan(input({ desired: lonely }));
  assert.ok(had.ip.script().includes(`link del dev ${vxlanName(NET)}`));
});

test('plan: an empty host gets namespaces, bridges, VXLAN, ports and namespace veths, in that order', () => {
  const plan = buildPlan(input({ host: { links: new Map(), namespaces: new Map([['kt-1', null]]), vxlanFlood: new Map() } }));
  assert.deepEqual(plan.failures, new Map());
  const lines = plan.ip.script().trim().split('\n');
  const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
  assert.deepEqual(lines.slice(0, 2).sort(), [`netns add ${namespaceName('dhcp', OWNER, NET)}`, `netns add ${namespaceName('router', OWNER, ROUTER)}`]);
  assert.ok(lines.includes(`link add ${bridgeName(NET)} mtu 1450 type bridge nf_call_iptables 1 nf_call_ip6tables 1`));
  assert.ok(lines.includes(`link set dev ${bridgeName(NET)} addrgenmode none alias kumo:ab:${NET} up`));
  assert.ok(lines.includes(`link add ${vxlanName(NET)} mtu 1450 type vxlan id 4242 dstport 4789 local 192.0.2.2 nolearning`));
  assert.ok(lines.includes(`link add name eth0 netns kt-1 address fa:16:3e:00:00:03 mtu 1450 up type veth peer name ${tapName(P1)} mtu 1450`));
  assert.ok(lines.includes(`tuntap add dev ${tapName(P2)} mode tap`));
  assert.ok(lines.includes(`link set dev ${tapName(P2)} master ${bridgeName(NET)} mtu 1450 addrgenmode none alias kumo:ab:${P2} up`));
  assert.ok(lines.includes(`link add name ${dhcpInterfaceName(DP)} netns ${namespaceName('dhcp', OWNER, NET)} address fa:16:3e:00:00:02 mtu 1450 up type veth peer name ${tapName(DP)} mtu 1450`));
  assert.ok(at('netns add') < at(`link add ${bridgeName(NET)}`));
  assert.ok(at(`link add ${bridgeName(NET)}`) < at(`link add ${vxlanName(NET)}`));
  assert.ok(at(`link add ${vxlanName(NET)}`) < at('link add name eth0'));
  assert.ok(at('link add name eth0') < at(`link add name ${dhcpInterfaceName(DP)}`));
  assert.equal(plan.fdb.script(), `fdb append 00:00:00:00:00:00 dev ${vxlanName(NET)} dst 192.0.2.9\n`);
  assert.match(plan.ruleset!.text, /^table inet kumo_ab \{/);
  assert.deepEqual([...plan.securedPorts], [P1]);
  assert.deepEqual(plan.portsUp, [P1, P2]);
  assert.deepEqual(plan.dhcp.map((d) => [d.resourceId, d.fresh]), [[NET, true]]);
  assert.deepEqual(plan.routers.map((r) => [r.resourceId, r.fresh]), [[ROUTER, true]]);
  assert.deepEqual(plan.removed, []);
});

test('plan: a static far end gets its addresses and default route configured inside its namespace, once', () => {
  const staticPort = port(P1, { plug: { kind: 'veth', netns: 'kt-1', ifname: 'eth0', static: { addresses: ['10.0.0.3/24'], gateway: '10.0.0.1' } } });
  const fresh = buildPlan(input({ desired: { ...desired, ports: [staticPort] }, host: { links: new Map(), namespaces: new Map([['kt-1', null]]), vxlanFlood: new Map() } }));
  // IPv4 only: made down, then up without an IPv6 link-local address (nothing for the bridge to flood).
  assert.ok(fresh.ip.script().includes(`link add name eth0 netns kt-1 address fa:16:3e:00:00:03 mtu 1450 type veth peer name ${tapName(P1)} mtu 1450\n`));
  assert.deepEqual(fresh.staticEndpoints, [{ portId: P1, netns: 'kt-1', lines: ['link set dev eth0 addrgenmode none up', 'addr replace 10.0.0.3/24 dev eth0', 'route replace default via 10.0.0.1 dev eth0'] }]);
  // With an IPv6 address the far end keeps its link-local address (neighbour discovery needs it), made up at once.
  const dual = port(P1, { plug: { kind: 'veth', netns: 'kt-1', ifname: 'eth0', static: { addresses: ['10.0.0.3/24', '2001:db8::3/64'], gateway: '10.0.0.1' } } });
  const dualPlan = buildPlan(input({ desired: { ...desired, ports: [dual] }, host: { links: new Map(), namespaces: new Map([['kt-1', null]]), vxlanFlood: new Map() } }));
  assert.ok(dualPlan.ip.script().includes(`link add name eth0 netns kt-1 address fa:16:3e:00:00:03 mtu 1450 up type veth peer name ${tapName(P1)} mtu 1450\n`));
  assert.deepEqual(dualPlan.staticEndpoints[0]!.lines, ['addr replace 10.0.0.3/24 dev eth0', 'addr replace 2001:db8::3/64 dev eth0', 'route replace default via 10.0.0.1 dev eth0']);
  // Already plugged: nothing runs inside the namespace again.
  assert.deepEqual(buildPlan(input({ desired: { ...desired, ports: [staticPort] } })).staticEndpoints, []);
});

test('plan: a converged host needs nothing', () => {
  const plan = buildPlan(input());
  assert.equal(plan.ip.size, 0, plan.ip.script());
  assert.equal(plan.fdb.size, 0);
  assert.deepEqual(plan.failures, new Map());
  assert.deepEqual(plan.dhcp.map((d) => d.fresh), [false]);
  assert.deepEqual(plan.routers.map((r) => r.fresh), [false]);
  assert.deepEqual(buildPlan(input()).ruleset, plan.ruleset, 'the ruleset is deterministic');
});

test('plan: drift is repaired: a deleted bridge is recreated and its former ports re-enslaved', () => {
  const host = withLinks(converged(), (links) => {
    links.delete(bridgeName(NET));
    for (const [name, l] of links) if (l.master === bridgeName(NET)) links.set(name, { ...l, master: null });
    links.set(tapName(P1), { ...links.get(tapName(P1))!, up: false, mtu: 1500 });
  });
  const lines = buildPlan(input({ host })).ip.script().trim().split('\n');
  assert.deepEqual(lines, [
    `link add ${bridgeName(NET)} mtu 1450 type bridge nf_call_iptables 1 nf_call_ip6tables 1`,
    `link set dev ${bridgeName(NET)} addrgenmode none alias kumo:ab:${NET} up`,
    `link set dev ${vxlanName(NET)} master ${bridgeName(NET)}`,
    `link set dev ${tapName(P1)} master ${bridgeName(NET)} mtu 1450 up`,
    `link set dev ${tapName(P2)} master ${bridgeName(NET)}`,
    `link set dev ${tapName(DP)} master ${bridgeName(NET)}`,
    `link set dev ${tapName(RP)} master ${bridgeName(NET)}`,
  ]);
});

test('plan: orphans with our label go; Kumo-looking objects of other owners or without a label stay', () => {
  const ORPHAN = 'd1000000-0000-4000-8000-000000000001';
  const host = withLinks(converged(), (links) => {
    links.set(tapName(ORPHAN), link(tapName(ORPHAN), { kind: 'veth', alias: linkAlias(OWNER, ORPHAN) }));
    links.set('kbrd100000000', link('kbrd100000000', { kind: 'bridge', alias: linkAlias(OWNER, ORPHAN) }));
    links.set('kbre100000000', link('kbre100000000', { kind: 'bridge', alias: linkAlias('other', ORPHAN) }));
    links.set('tape100000000', link('tape100000000', { kind: 'veth' }));
  });
  const namespaces = new Map(host.namespaces);
  namespaces.set(namespaceName('router', OWNER, ORPHAN), 7);
  namespaces.set(namespaceName('router', 'other', ORPHAN), 8);
  const plan = buildPlan(input({ host: { ...host, namespaces } }));
  assert.deepEqual(plan.ip.script().trim().split('\n'), [
    `netns del ${namespaceName('router', OWNER, ORPHAN)}`,
    `link del dev ${tapName(ORPHAN)}`,
    'link del dev kbrd100000000',
  ]);
  assert.deepEqual(plan.removed.map((r) => r.name), [tapName(ORPHAN), 'kbrd100000000', namespaceName('router', OWNER, ORPHAN)]);
  assert.deepEqual(plan.removedNamespaces, [namespaceName('router', OWNER, ORPHAN)]);
});

test('plan: a wanted name held by someone else is reported and left alone', () => {
  const host = withLinks(converged(), (links) => {
    links.set(tapName(P1), { ...links.get(tapName(P1))!, alias: null });
    links.set(bridgeName(EXT), { ...links.get(bridgeName(EXT))!, alias: linkAlias('other', EXT) });
  });
  const plan = buildPlan(input({ host }));
  assert.match(plan.failures.get(P1)!, /exists and is not this Kumo's/);
  assert.match(plan.failures.get(EXT)!, /exists and is not this Kumo's \(alias kumo:other:/);
  // The router needs the external network: it fails too, and nothing of it is touched.
  assert.match(plan.failures.get(ROUTER)!, /network .* failed/);
  assert.ok(!plan.ip.script().includes(tapName(P1)));
  assert.ok(!plan.ip.script().includes(bridgeName(EXT)));
  assert.ok(!plan.portsUp.includes(P1));
  assert.ok(!plan.removed.some((r) => r.name === tapName(P1) || r.name === bridgeName(EXT)));
});

test('plan: wrong kind, moved far end or changed VNI mean delete and recreate; peers are diffed', () => {
  const host = withLinks(converged(), (links) => {
    links.set(tapName(P1), { ...links.get(tapName(P1))!, linkNetnsId: 9 });
    links.set(tapName(P2), { ...links.get(tapName(P2))!, kind: 'veth', tunType: null });
  });
  const changed: NetworkSpec = { ...net, segmentationId: 4243, vxlanPeers: ['192.0.2.10'] };
  const plan = buildPlan(input({ host, desired: { ...desired, networks: [changed, ext] } }));
  const lines = plan.ip.script().trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), [`link del dev ${tapName(P1)}`, `link del dev ${tapName(P2)}`, `link del dev ${vxlanName(NET)}`].sort((a, b) => lines.indexOf(a) - lines.indexOf(b)));
  assert.ok(lines.includes(`link add ${vxlanName(NET)} mtu 1450 type vxlan id 4243 dstport 4789 local 192.0.2.2 nolearning`));
  assert.ok(lines.includes(`tuntap add dev ${tapName(P2)} mode tap`));
  assert.ok(lines.some((l) => l.startsWith('link add name eth0 netns kt-1')));
  // The VXLAN device is new: the old peer went with it, only the new one is added.
  assert.equal(plan.fdb.script(), `fdb append 00:00:00:00:00:00 dev ${vxlanName(NET)} dst 192.0.2.10\n`);
  const peersOnly = buildPlan(input({ desired: { ...desired, networks: [{ ...net, vxlanPeers: ['192.0.2.10'] }, ext] } }));
  assert.equal(peersOnly.fdb.script(), `fdb append 00:00:00:00:00:00 dev ${vxlanName(NET)} dst 192.0.2.10\nfdb del 00:00:00:00:00:00 dev ${vxlanName(NET)} dst 192.0.2.9\n`);
});

test('plan: per-resource failures do not stop the others', () => {
  const ghost = port('e1000000-0000-4000-8000-000000000001', { plug: { kind: 'veth', netns: 'kt-missing', ifname: 'eth0' } });
  const lost = port('e2000000-0000-4000-8000-000000000002', { networkId: 'f1000000-0000-4000-8000-000000000001' });
  const badMac = port('e3000000-0000-4000-8000-000000000003', { macAddress: 'zz' });
  const twin = port('a1000000-0000-4fff-8000-00000000000f');
  const plan = buildPlan(input({ desired: { ...desired, ports: [...desired.ports, ghost, lost, badMac, twin] } }));
  assert.match(plan.failures.get(ghost.id)!, /namespace kt-missing does not exist/);
  assert.match(plan.failures.get(lost.id)!, /not in the desired state/);
  assert.match(plan.failures.get(badMac.id)!, /invalid MAC/);
  assert.match(plan.failures.get(twin.id)!, /is also the name for/);
  assert.equal(plan.failures.size, 4);
  assert.deepEqual(plan.portsUp, [P1, P2]);
  assert.ok(!plan.ruleset?.text.includes('tape1000000000'));
});

test('plan: mapped physical bridges are used, never created, and need conntrack for filtered ports', () => {
  const mappedExt: NetworkSpec = { ...ext };
  const onExt = port('e4000000-0000-4000-8000-000000000004', { networkId: EXT });
  const host = withLinks(converged(), (links) => links.set('br-ex', link('br-ex', { kind: 'bridge', bridge: { nfCallIptables: false, nfCallIp6tables: false } })));
  const state = { ...desired, networks: [net, mappedExt], ports: [onExt], routers: [] };
  const off = buildPlan(input({ host, desired: state, physicalBridges: { public: 'br-ex' } }));
  assert.match(off.failures.get(onExt.id)!, /br-ex does not pass bridged traffic to conntrack/);
  const on = buildPlan(input({ host, desired: state, physicalBridges: { public: 'br-ex' }, conntrackOnAllBridges: true }));
  assert.deepEqual(on.failures, new Map());
  assert.ok(on.ip.script().includes(`link add name eth0 netns kt-1 address fa:16:3e:00:00:03 mtu 1500 up type veth peer name ${tapName(onExt.id)} mtu 1500`));
  assert.ok(on.ip.script().includes(`master br-ex`));
  assert.ok(!on.ip.script().includes('link set dev br-ex'));
  // The owned bridge of the external network is no longer wanted once it is mapped.
  assert.ok(on.removed.some((r) => r.name === bridgeName(EXT)));
  assert.ok(!/"br-ex" : \d/.test(on.ruleset!.text), 'no conntrack zone on a bridge Kumo does not own');
  const missing = buildPlan(input({ desired: state, physicalBridges: { public: 'br-nope' }, conntrackOnAllBridges: true }));
  assert.match(missing.failures.get(EXT)!, /bridge br-nope of physical network public does not exist/);
});

test('plan: admin state down keeps the port plugged but down and not active', () => {
  const down = buildPlan(input({ desired: { ...desired, ports: [port(P1, { adminStateUp: false })] } }));
  assert.ok(down.ip.script().includes(`link set dev ${tapName(P1)} down`));
  assert.deepEqual(down.portsUp, []);
});

test('plan: nft missing fails filtered ports only', () => {
  const plan = buildPlan(input({ nftAvailable: false }));
  assert.match(plan.failures.get(P1)!, /nft is not installed/);
  assert.ok(!plan.failures.has(P2));
  assert.equal(plan.ruleset, null);
});

test('plan: against the model of what a sync leaves, nothing is planned; a port added since gets its own lines only', () => {
  const model = modelHost({ owner: OWNER, desired, foreignLinks: new Map([['eth0', link('eth0', {})]]), physicalBridges: {}, vxlanLocalIp: '192.0.2.2' });
  const same = buildPlan(input({ host: model }));
  assert.deepEqual(same.failures, new Map());
  assert.equal(same.ip.script(), '');
  assert.equal(same.fdb.script(), '');
  assert.deepEqual(same.removed, []);
  assert.ok([...same.dhcp, ...same.routers].every((i) => !i.fresh));
  assert.deepEqual(same.portsUp, [P1, P2]);
  // The same ruleset as against the host itself.
  assert.deepEqual(same.ruleset, buildPlan(input()).ruleset);

  const P3 = 'a6000000-0000-4000-8000-000000000006';
  const more = { ...desired, ports: [...desired.ports, port(P3, { macAddress: 'fa:16:3e:00:00:06', plug: { kind: 'veth', netns: 'kt-2', ifname: 'eth0' } })] };
  const added = buildPlan(input({ desired: more, host: { ...model, namespaces: new Map([...model.namespaces, ['kt-2', null]]) } }));
  assert.deepEqual(added.failures, new Map());
  assert.ok(added.ip.size > 0);
  assert.deepEqual([...added.ip.resourceIds()], [P3]);
  assert.deepEqual(added.portsUp, [P1, P2, P3]);
});
