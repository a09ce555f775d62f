/**
 * The Linux net driver on the real kernel (root only). Every test makes its own endpoint
 * namespaces (`kt-<random>`), a driver with a random owner label and a temp state dir, builds a
 * HostNetworkState by hand, syncs, and proves the result from outside: DHCP leases, ping and TCP
 * between namespaces, what the far side sees as the source address. Everything a test creates is
 * removed in its `after`, by the driver's removeAll for the driver's objects.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetDriver } from '../../src/drivers/net/index.js';
import type {
  HostNetworkState, NetDriver, NetworkSpec, PortSpec, RouterSpec, SecurityGroupRuleSpec, SecurityGroupSpec, SubnetSpec,
} from '../../src/drivers/net/types.js';
import { bridgeName, tapName, vxlanName } from '../../src/drivers/net/linux/naming.js';
import { createSilentLogger } from '../../src/log.js';
import { dhcpLease as lease, endpointNamespace, eventually, isRoot, peerEchoServer, sh, succeeds, tcpPeerAddress } from '../support/netns.js';

const skip = isRoot ? false : 'needs root (creates bridges, namespaces, nftables tables and dnsmasq)';

const hex = (n: number) => randomBytes(n).toString('hex');
const mac = () => `fa:16:3e:${hex(1)}:${hex(1)}:${hex(1)}`;
const vni = () => randomInt(100_000, 16_000_000);

/** One test's world: a driver, endpoint namespaces, servers, and the cleanup of all of it. */
class Env {
  readonly owner = `kt${randomBytes(4).toString('hex').slice(0, 5)}`;
  readonly stateDir = mkdtempSync(join(tmpdir(), 'kumo-net-it-'));
  readonly driver: NetDriver;
  readonly #namespaces: string[] = [];
  readonly #servers: { stop(): void }[] = [];
  readonly #links: string[] = [];

  constructor(t: TestContext) {
    this.driver = createNetDriver('linux', { owner: this.owner, stateDir: this.stateDir, physicalBridges: {}, vxlanLocalIp: '127.0.0.1' }, createSilentLogger());
    t.after(() => this.cleanup());
  }

  async endpoint(): Promise<string> {
    const ns = await endpointNamespace();
    this.#namespaces.push(ns.name);
    return ns.name;
  }

  /** A link the test made itself (not the driver's); deleted in cleanup. */
  ownLink(name: string): void {
    this.#links.push(name);
  }

  async echoServer(ns: string, port: number): Promise<void> {
    this.#servers.push(await peerEchoServer(ns, port));
  }

  async cleanup(): Promise<void> {
    for (const server of this.#servers) server.stop();
    await this.driver.removeAll().catch((err: unknown) => console.error(`removeAll(${this.owner}):`, err));
    for (const ns of this.#namespaces) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    for (const l of this.#links) await sh('ip', ['link', 'del', l]).catch(() => undefined);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

const tcpPeer = tcpPeerAddress;
const ping = (ns: string, ip: string, extra: string[] = []) => succeeds('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', ...extra, ip]);
const pingsEventually = (ns: string, ip: string, extra: string[] = []) => eventually(() => ping(ns, ip, extra));
const dhcpLease = async (ns: string) => (await lease(ns)).ip;

async function addAddress(ns: string, cidr: string, gateway?: string): Promise<void> {
  await sh('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
  if (gateway) await sh('ip', ['-n', ns, 'route', 'replace', 'default', 'via', gateway]);
}

// ---- desired-state builders ----

function subnet(cidr: string, gatewayIp: string | null, enableDhcp = false): SubnetSpec {
  return { id: randomUUID(), cidr, ipVersion: 4, gatewayIp, enableDhcp, dnsNameservers: [], hostRoutes: [] };
}

function vxlanNetwork(s: SubnetSpec): NetworkSpec {
  return { id: randomUUID(), type: 'vxlan', segmentationId: vni(), physicalNetwork: null, mtu: 1450, vxlanPeers: [], subnets: [s], dhcpPort: null };
}

function vethPort(net: NetworkSpec, ns: string, ip: string, extra: Partial<PortSpec> = {}): PortSpec {
  return {
    id: randomUUID(), networkId: net.id, macAddress: mac(), fixedIps: [{ subnetId: net.subnets[0].id, ipAddress: ip }],
    plug: { kind: 'veth', netns: ns, ifname: 'eth0' }, adminStateUp: true, portSecurityEnabled: true, allowedAddressPairs: [], securityGroupIds: [], ...extra,
  };
}

function rule(r: Partial<SecurityGroupRuleSpec>): SecurityGroupRuleSpec {
  return { id: randomUUID(), direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null, remoteGroupId: null, ...r };
}

/** Neutron's default group: all egress, ingress from members of the group. */
function defaultGroup(members: string[]): SecurityGroupSpec {
  const id = randomUUID();
  return {
    id, memberAddresses: members,
    rules: [rule({ direction: 'egress' }), rule({ direction: 'egress', ethertype: 'IPv6' }), rule({ remoteGroupId: id }), rule({ ethertype: 'IPv6', remoteGroupId: id })],
  };
}

function expectClean(report: { failures: readonly { resourceId: string; message: string }[] }): void {
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures));
}

/** A process that exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

const linksJson = async () => JSON.parse(await sh('ip', ['-j', '-d', 'link', 'show'])) as { ifname: string; ifindex: number; ifalias?: string; master?: string }[];

// ---- tests ----

test('two veth ports on a vxlan network get their addresses by DHCP and ping each other; a second sync changes nothing', { skip }, async (t) => {
  const env = new Env(t);
  const [ns1, ns2] = [await env.endpoint(), await env.endpoint()];
  const s = subnet('10.0.0.0/24', '10.0.0.1', true);
  // A peer (a documentation address: nothing answers) so the VXLAN device is made; without peers there is none.
  const net = { ...vxlanNetwork(s), vxlanPeers: ['192.0.2.99'] };
  const sg = defaultGroup(['10.0.0.3', '10.0.0.4']);
  const p1 = vethPort(net, ns1, '10.0.0.3', { securityGroupIds: [sg.id] });
  const p2 = vethPort(net, ns2, '10.0.0.4', { securityGroupIds: [sg.id] });
  const dhcpPort = { portId: randomUUID(), macAddress: mac(), fixedIps: [{ subnetId: s.id, ipAddress: '10.0.0.2' }],
    hosts: [p1, p2].map((p, i) => ({ portId: p.id, macAddress: p.macAddress, ipAddress: p.fixedIps[0].ipAddress, hostname: `vm${i + 1}` })) };
  const state: HostNetworkState = { networks: [{ ...net, dhcpPort }], ports: [p1, p2], securityGroups: [sg], routers: [] };

  const report = await env.driver.sync(state);
  expectClean(report);
  assert.deepEqual([...report.activePorts].sort(), [p1.id, p2.id].sort());
  assert.equal(await dhcpLease(ns1), '10.0.0.3');
  assert.equal(await dhcpLease(ns2), '10.0.0.4');
  assert.ok(await pingsEventually(ns1, '10.0.0.4'), 'port 1 pings port 2');
  assert.ok(await pingsEventually(ns2, '10.0.0.3'), 'port 2 pings port 1');
  const vx = (await linksJson()).find((l) => l.ifname === vxlanName(net.id));
  assert.equal(vx?.master, bridgeName(net.id), 'the VXLAN device is on the bridge');

  const before = await env.driver.inventory();
  assert.equal(before.dnsmasqPids.length, 1);
  const indexes = new Map((await linksJson()).map((l) => [l.ifname, l.ifindex]));
  const again = await env.driver.sync(state);
  expectClean(again);
  assert.deepEqual(again.removed, []);
  assert.deepEqual(await env.driver.inventory(), before, 'same objects, same dnsmasq pid');
  for (const name of [...before.bridges, ...before.links]) assert.equal((await linksJson()).find((l) => l.ifname === name)?.ifindex, indexes.get(name), `${name} not recreated`);

  // A new lease is served after a reload, by the same dnsmasq.
  const ns3 = await env.endpoint();
  const p3 = vethPort(net, ns3, '10.0.0.5', { securityGroupIds: [sg.id] });
  const hosts = [...dhcpPort.hosts, { portId: p3.id, macAddress: p3.macAddress, ipAddress: '10.0.0.5', hostname: 'vm3' }];
  expectClean(await env.driver.sync({ ...state, networks: [{ ...net, dhcpPort: { ...dhcpPort, hosts } }], ports: [p1, p2, p3], securityGroups: [{ ...sg, memberAddresses: [...sg.memberAddresses, '10.0.0.5'] }] }));
  assert.equal(await dhcpLease(ns3), '10.0.0.5');
  assert.deepEqual((await env.driver.inventory()).dnsmasqPids, before.dnsmasqPids, 'reloaded by SIGHUP, not restarted');
});

/** The sets and maps of the owner's bridge table with their elements, and the table's handle. */
async function bridgeTable(owner: string): Promise<{ handle: number; sets: Record<string, string> }> {
  const doc = JSON.parse(await sh('nft', ['-j', 'list', 'table', 'bridge', `kumo_${owner}`])) as { nftables: Record<string, { name?: string; handle?: number; elem?: unknown[] }>[] };
  const table = doc.nftables.find((e) => e.table)!.table;
  const sets: Record<string, string> = {};
  for (const e of doc.nftables) {
    const set = e.set ?? e.map;
    if (set?.name) sets[set.name] = JSON.stringify((set.elem ?? []).map((x) => JSON.stringify(x)).sort());
  }
  return { handle: table.handle!, sets };
}

test('ports coming and going change only set elements in place, the same as a whole ruleset; static far ends get their addresses', { skip }, async (t) => {
  const env = new Env(t);
  const [a, b, c] = [await env.endpoint(), await env.endpoint(), await env.endpoint()];
  const net = vxlanNetwork(subnet('10.2.0.0/24', null));
  const sg = defaultGroup(['10.2.0.3', '10.2.0.4']);
  const staticPort = (ns: string, ip: string) => vethPort(net, ns, ip, { securityGroupIds: [sg.id], plug: { kind: 'veth', netns: ns, ifname: 'eth0', static: { addresses: [`${ip}/24`], gateway: null } } });
  const [pa, pb, pc] = [staticPort(a, '10.2.0.3'), staticPort(b, '10.2.0.4'), staticPort(c, '10.2.0.5')];
  expectClean(await env.driver.sync({ networks: [net], ports: [pa, pb], securityGroups: [sg], routers: [] }));
  assert.match(await sh('ip', ['-n', b, '-4', 'addr', 'show', 'eth0']), /inet 10\.2\.0\.4\/24/, 'the static address is set inside');
  assert.ok(await pingsEventually(a, '10.2.0.4'), 'a pings b (group members)');
  const first = await bridgeTable(env.owner);

  const next: HostNetworkState = { networks: [net], ports: [pa, pc], securityGroups: [{ ...sg, memberAddresses: ['10.2.0.3', '10.2.0.5'] }], routers: [] };
  expectClean(await env.driver.sync(next));
  const changed = await bridgeTable(env.owner);
  assert.equal(changed.handle, first.handle, 'the table was changed in place, not replaced');
  assert.notDeepEqual(changed.sets, first.sets);
  assert.ok(await pingsEventually(a, '10.2.0.5'), 'a pings the new port c');
  assert.equal(await ping(c, '10.2.0.4'), false, 'b is gone from the network');

  // A new instance of the driver (a restart) applies the whole ruleset: the same elements.
  const restarted = createNetDriver('linux', { owner: env.owner, stateDir: env.stateDir, physicalBridges: {}, vxlanLocalIp: '127.0.0.1' }, createSilentLogger());
  expectClean(await restarted.sync(next));
  const whole = await bridgeTable(env.owner);
  assert.notEqual(whole.handle, first.handle, 'a restart replaces the tables');
  assert.deepEqual(whole.sets, changed.sets);
});

test('a security group that allows TCP 8080 ingress only: 8080 connects, 8081 and ping do not; replies pass statefully', { skip }, async (t) => {
  const env = new Env(t);
  const [client, server] = [await env.endpoint(), await env.endpoint()];
  const net = vxlanNetwork(subnet('10.1.0.0/24', null));
  const egressOnly: SecurityGroupSpec = { id: randomUUID(), memberAddresses: ['10.1.0.3'], rules: [rule({ direction: 'egress' })] };
  const web: SecurityGroupSpec = {
    id: randomUUID(), memberAddresses: ['10.1.0.4'],
    rules: [
      rule({ protocol: 'tcp', portRangeMin: 8080, portRangeMax: 8080, remoteIpPrefix: '0.0.0.0/0' }),
      // Rules that match nothing here, to prove the kernel takes every kind the builder emits.
      rule({ protocol: 'udp', portRangeMin: 5000, portRangeMax: 5100, remoteIpPrefix: '192.0.2.0/24' }),
      rule({ protocol: 'udp', portRangeMin: 53, portRangeMax: 53, remoteGroupId: egressOnly.id }),
      rule({ protocol: 'icmp', portRangeMin: 13, portRangeMax: 0 }),
      rule({ protocol: 'ipv6-icmp', portRangeMin: 128, ethertype: 'IPv6', remoteIpPrefix: '2001:db8::/32' }),
      rule({ protocol: 'gre', remoteIpPrefix: '198.51.100.7/32' }),
      rule({ protocol: '132', portRangeMin: 9000, portRangeMax: 9000, ethertype: 'IPv6' }),
      rule({ direction: 'egress', ethertype: 'IPv6', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443 }),
    ],
  };
  const pc = vethPort(net, client, '10.1.0.3', { securityGroupIds: [egressOnly.id] });
  const ps = vethPort(net, server, '10.1.0.4', { securityGroupIds: [web.id], allowedAddressPairs: [{ ipAddress: '2001:db8::4/128', macAddress: null }] });
  expectClean(await env.driver.sync({ networks: [net], ports: [pc, ps], securityGroups: [egressOnly, web], routers: [] }));
  await addAddress(client, '10.1.0.3/24');
  await addAddress(server, '10.1.0.4/24');
  await env.echoServer(server, 8080);
  await env.echoServer(server, 8081);
  await env.echoServer(client, 8080);

  let peer: string | null = null;
  assert.ok(await eventually(async () => (peer = await tcpPeer(client, '10.1.0.4', 8080)) !== null), 'TCP 8080 is allowed in');
  assert.equal(peer, '10.1.0.3');
  assert.equal(await tcpPeer(client, '10.1.0.4', 8081), null, 'TCP 8081 is not');
  assert.equal(await ping(client, '10.1.0.4'), false, 'ICMP is not');
  // The client's group allows no ingress at all: the server cannot open a connection to it,
  // although the client's own connection got its replies (conntrack).
  assert.equal(await tcpPeer(server, '10.1.0.3', 8080), null, 'nothing gets into the client');
});

test('anti-spoofing: a forged source address does not arrive; an allowed address pair does', { skip }, async (t) => {
  const env = new Env(t);
  const [a, b] = [await env.endpoint(), await env.endpoint()];
  const net = vxlanNetwork(subnet('10.2.0.0/24', null));
  const open: SecurityGroupSpec = { id: randomUUID(), memberAddresses: [], rules: [rule({ direction: 'egress' }), rule({ remoteIpPrefix: '0.0.0.0/0' })] };
  const pa = vethPort(net, a, '10.2.0.3', { securityGroupIds: [open.id], allowedAddressPairs: [{ ipAddress: '10.2.0.50', macAddress: null }] });
  const pb = vethPort(net, b, '10.2.0.4', { securityGroupIds: [open.id] });
  expectClean(await env.driver.sync({ networks: [net], ports: [pa, pb], securityGroups: [open], routers: [] }));
  await addAddress(a, '10.2.0.3/24');
  await addAddress(a, '10.2.0.99/24');
  await addAddress(a, '10.2.0.50/24');
  await addAddress(b, '10.2.0.4/24');
  // B counts what reaches it by source address.
  await sh('ip', ['netns', 'exec', b, 'nft', '-f', '-'], {
    input: 'table ip kt_probe {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip saddr 10.2.0.99 counter\n    ip saddr 10.2.0.50 counter\n    ip saddr 10.2.0.3 counter\n  }\n}\n',
  });
  // A knows B's MAC for good, so a dropped ARP request cannot be what stops the forged packets.
  await sh('ip', ['-n', a, 'neigh', 'replace', '10.2.0.4', 'lladdr', pb.macAddress, 'dev', 'eth0', 'nud', 'permanent']);
  assert.ok(await pingsEventually(a, '10.2.0.4'), 'genuine source works');
  assert.equal(await ping(a, '10.2.0.4', ['-I', '10.2.0.99']), false, 'forged source gets no answer');
  assert.ok(await pingsEventually(a, '10.2.0.4', ['-I', '10.2.0.50']), 'allowed address pair works');
  const counters = await sh('ip', ['netns', 'exec', b, 'nft', 'list', 'chain', 'ip', 'kt_probe', 'input']);
  const count = (src: string) => Number(new RegExp(`ip saddr ${src.replace(/\./g, '\\.')} counter packets (\\d+)`).exec(counters)?.[1]);
  assert.equal(count('10.2.0.99'), 0, 'not one forged packet reached B');
  assert.ok(count('10.2.0.50') > 0);
  assert.ok(count('10.2.0.3') > 0);
});

test('a router: SNAT to the gateway address, a floating IP reachable from outside and used as source', { skip }, async (t) => {
  const env = new Env(t);
  const [vm, outside] = [await env.endpoint(), await env.endpoint()];
  const extSubnet = subnet('203.0.113.0/24', '203.0.113.1');
  const ext: NetworkSpec = { id: randomUUID(), type: 'flat', segmentationId: null, physicalNetwork: 'public', mtu: 1500, vxlanPeers: [], subnets: [extSubnet], dhcpPort: null };
  const tenant = vxlanNetwork(subnet('10.3.0.0/24', '10.3.0.1'));
  const sg: SecurityGroupSpec = { id: randomUUID(), memberAddresses: [], rules: [rule({ direction: 'egress' }), rule({ protocol: 'tcp', portRangeMin: 9000, portRangeMax: 9000, remoteIpPrefix: '0.0.0.0/0' })] };
  const pvm = vethPort(tenant, vm, '10.3.0.3', { securityGroupIds: [sg.id] });
  // The outside world: an unfiltered port on the external network.
  const pout = vethPort(ext, outside, '203.0.113.100', { portSecurityEnabled: false });
  const router: RouterSpec = {
    id: randomUUID(), routes: [], floatingIps: [],
    interfaces: [{ portId: randomUUID(), networkId: tenant.id, macAddress: mac(), addresses: ['10.3.0.1/24'] }],
    gateway: { portId: randomUUID(), networkId: ext.id, macAddress: mac(), addresses: ['203.0.113.5/24'], defaultGateway: '203.0.113.1', enableSnat: true },
  };
  const state: HostNetworkState = { networks: [tenant, ext], ports: [pvm, pout], securityGroups: [sg], routers: [router] };
  expectClean(await env.driver.sync(state));
  await addAddress(vm, '10.3.0.3/24', '10.3.0.1');
  await addAddress(outside, '203.0.113.100/24');
  await env.echoServer(outside, 9000);
  await env.echoServer(vm, 9000);

  let seen: string | null = null;
  assert.ok(await eventually(async () => (seen = await tcpPeer(vm, '203.0.113.100', 9000)) !== null), 'the VM reaches the outside');
  assert.equal(seen, '203.0.113.5', 'the outside sees the router gateway address');
  assert.equal(await tcpPeer(outside, '10.3.0.3', 9000), null, 'the fixed address is not reachable from outside');

  const withFip: HostNetworkState = { ...state, routers: [{ ...router, floatingIps: [{ id: randomUUID(), floatingIp: '203.0.113.20', fixedIp: '10.3.0.3' }] }] };
  expectClean(await env.driver.sync(withFip));
  let inbound: string | null = null;
  assert.ok(await eventually(async () => (inbound = await tcpPeer(outside, '203.0.113.20', 9000)) !== null), 'the floating IP is reachable from outside');
  assert.equal(inbound, '203.0.113.100', 'DNAT keeps the client address');
  assert.equal(await tcpPeer(vm, '203.0.113.100', 9000), '203.0.113.20', 'outgoing traffic now leaves as the floating IP');
});

test('two projects with the same CIDR both work and cannot reach each other', { skip }, async (t) => {
  const env = new Env(t);
  const [a1, a2, b1, b2] = [await env.endpoint(), await env.endpoint(), await env.endpoint(), await env.endpoint()];
  const netA = vxlanNetwork(subnet('10.0.0.0/24', null));
  const netB = vxlanNetwork(subnet('10.0.0.0/24', null));
  const sgA = defaultGroup(['10.0.0.3', '10.0.0.4']);
  const sgB = defaultGroup(['10.0.0.3', '10.0.0.5']);
  const ports = [
    vethPort(netA, a1, '10.0.0.3', { securityGroupIds: [sgA.id] }), vethPort(netA, a2, '10.0.0.4', { securityGroupIds: [sgA.id] }),
    vethPort(netB, b1, '10.0.0.3', { securityGroupIds: [sgB.id] }), vethPort(netB, b2, '10.0.0.5', { securityGroupIds: [sgB.id] }),
  ];
  expectClean(await env.driver.sync({ networks: [netA, netB], ports, securityGroups: [sgA, sgB], routers: [] }));
  await addAddress(a1, '10.0.0.3/24');
  await addAddress(a2, '10.0.0.4/24');
  await addAddress(b1, '10.0.0.3/24');
  await addAddress(b2, '10.0.0.5/24');
  await env.echoServer(a2, 7000);
  await env.echoServer(b2, 7000);
  assert.ok(await pingsEventually(a1, '10.0.0.4'), 'project A works');
  assert.ok(await pingsEventually(b1, '10.0.0.5'), 'project B works');
  assert.equal(await tcpPeer(a1, '10.0.0.4', 7000), '10.0.0.3');
  assert.equal(await tcpPeer(b1, '10.0.0.5', 7000), '10.0.0.3');
  assert.equal(await ping(a1, '10.0.0.5'), false, 'A does not reach B');
  assert.equal(await ping(b1, '10.0.0.4'), false, 'B does not reach A');
  // Each network's bridge has a conntrack zone of its own.
  const inet = await sh('nft', ['list', 'table', 'inet', `kumo_${env.owner}`]);
  const zone = (net: NetworkSpec) => new RegExp(`"${bridgeName(net.id)}" : (\\d+)`).exec(inet)?.[1];
  assert.ok(zone(netA) && zone(netB) && zone(netA) !== zone(netB), inet);
});

test('drift is repaired; after a restart orphans with our label go, others are untouched; removeAll leaves nothing', { skip }, async (t) => {
  const env = new Env(t);
  const ns = await env.endpoint();
  const s = subnet('10.4.0.0/24', '10.4.0.1', true);
  const net = vxlanNetwork(s);
  const p = vethPort(net, ns, '10.4.0.3', { portSecurityEnabled: false });
  const tap: PortSpec = { ...vethPort(net, ns, '10.4.0.9'), plug: { kind: 'tap' }, portSecurityEnabled: false };
  const dhcpPort = { portId: randomUUID(), macAddress: mac(), fixedIps: [{ subnetId: s.id, ipAddress: '10.4.0.2' }], hosts: [{ portId: p.id, macAddress: p.macAddress, ipAddress: '10.4.0.3', hostname: 'vm' }] };
  const router: RouterSpec = { id: randomUUID(), routes: [], floatingIps: [], gateway: null, interfaces: [{ portId: randomUUID(), networkId: net.id, macAddress: mac(), addresses: ['10.4.0.1/24'] }] };
  const state: HostNetworkState = { networks: [{ ...net, dhcpPort }], ports: [p, tap], securityGroups: [], routers: [router] };
  const first = await env.driver.sync(state);
  expectClean(first);
  assert.deepEqual([...first.activePorts].sort(), [p.id, tap.id].sort());
  assert.equal(await dhcpLease(ns), '10.4.0.3');
  assert.ok(await pingsEventually(ns, '10.4.0.1'), 'the router interface answers');
  const tapLink = (await linksJson()).find((l) => l.ifname === tapName(tap.id));
  assert.equal(tapLink?.master, bridgeName(net.id), 'the tap device is on the bridge');

  // Drift: the bridge is deleted by hand.
  await sh('ip', ['link', 'del', bridgeName(net.id)]);
  assert.equal(await ping(ns, '10.4.0.1'), false);
  const repaired = await env.driver.sync(state);
  expectClean(repaired);
  assert.ok((await linksJson()).some((l) => l.ifname === bridgeName(net.id)), 'the bridge is back');
  assert.ok(await pingsEventually(ns, '10.4.0.1'), 'and traffic flows again');

  // Orphans: a port-looking veth and a namespace with our label; look-alikes of another owner and unlabelled.
  const orphan = tapName(randomUUID());
  await sh('ip', ['link', 'add', orphan, 'type', 'veth', 'peer', 'name', `ktp${hex(4)}`]);
  await sh('ip', ['link', 'set', 'dev', orphan, 'alias', `kumo:${env.owner}:${randomUUID()}`]);
  const orphanNs = `kumo-router-${env.owner}-${randomUUID()}`;
  await sh('ip', ['netns', 'add', orphanNs]);
  await sh('nft', ['add', 'table', 'ip', `kumo_${env.owner}`]);
  const foreignBridge = bridgeName(randomUUID());
  env.ownLink(foreignBridge);
  await sh('ip', ['link', 'add', foreignBridge, 'type', 'bridge']);
  await sh('ip', ['link', 'set', 'dev', foreignBridge, 'alias', `kumo:ktother:${randomUUID()}`]);
  const unlabelled = tapName(randomUUID());
  env.ownLink(unlabelled);
  await sh('ip', ['link', 'add', unlabelled, 'type', 'veth', 'peer', 'name', `ktp${hex(4)}`]);
  const foreignNs = `kumo-router-ktother-${randomUUID()}`;
  await sh('ip', ['netns', 'add', foreignNs]);
  t.after(() => sh('ip', ['netns', 'del', foreignNs]).catch(() => undefined));

  // A restarted agent (a new driver, same owner and state dir) finds its dnsmasq by pid file,
  // keeps it, and sweeps the orphans.
  const pid = (await env.driver.inventory()).dnsmasqPids[0];
  const restarted = createNetDriver('linux', { owner: env.owner, stateDir: env.stateDir, physicalBridges: {}, vxlanLocalIp: '127.0.0.1' }, createSilentLogger());
  const cleaned = await restarted.sync(state);
  expectClean(cleaned);
  assert.ok(cleaned.removed.includes(orphan), JSON.stringify(cleaned.removed));
  assert.ok(cleaned.removed.includes(orphanNs));
  assert.ok(cleaned.removed.includes(`nft:ip kumo_${env.owner}`));
  const names = (await linksJson()).map((l) => l.ifname);
  assert.ok(!names.includes(orphan));
  assert.ok(names.includes(foreignBridge), 'another owner\'s bridge is untouched');
  assert.ok(names.includes(unlabelled), 'an unlabelled Kumo-looking link is untouched');
  const namespaces = await sh('ip', ['netns', 'list']);
  assert.ok(!namespaces.includes(orphanNs));
  assert.ok(namespaces.includes(foreignNs));
  assert.deepEqual((await restarted.inventory()).dnsmasqPids, [pid], 'dnsmasq kept through the bridge repair and the restart');

  // removeAll leaves nothing of this owner.
  await env.driver.removeAll();
  const links = await linksJson();
  assert.deepEqual(links.filter((l) => l.ifalias?.startsWith(`kumo:${env.owner}:`)).map((l) => l.ifname), []);
  assert.ok(!(await sh('ip', ['netns', 'list'])).includes(`-${env.owner}-`));
  assert.ok(!(await sh('nft', ['list', 'tables'])).includes(`kumo_${env.owner}`));
  assert.ok(await eventually(async () => !alive(pid)), 'dnsmasq is gone');
  assert.deepEqual(readdirSync(env.stateDir), []);
  assert.ok(links.some((l) => l.ifname === foreignBridge), 'and still nothing of anybody else was touched');
  assert.deepEqual(await env.driver.inventory(), { bridges: [], links: [], namespaces: [], nftTables: [], dnsmasqPids: [], metadataProxyPids: [] });
});
