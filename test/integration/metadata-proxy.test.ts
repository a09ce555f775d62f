/**
 * The metadata proxy on the real kernel (root only): the Linux net driver with a metadata socket,
 * real dnsmasq and haproxy, test endpoints (plain namespaces) that take their lease with busybox
 * udhcpc and the classless static routes it carries, and ask http://169.254.169.254/ with busybox
 * wget. The "metadata server" is a Node HTTP server on a UNIX socket in a temp dir that answers
 * with the request it got, so what is proven is what Kumo's server would see: who asked (the
 * endpoint's address) and from which network, whatever the client claimed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetDriver } from '../../src/drivers/net/index.js';
import type { HostNetworkState, NetDriver, NetworkSpec, PortSpec, SecurityGroupSpec } from '../../src/drivers/net/types.js';
import { namespaceName } from '../../src/drivers/net/linux/naming.js';
import { createSilentLogger } from '../../src/log.js';
import { dhcpLease, endpointNamespace, isRoot, sh } from '../support/netns.js';

const skip = isRoot ? false : 'needs root (creates namespaces, dnsmasq and haproxy)';
const hex = (n: number) => randomBytes(n).toString('hex');
const mac = () => `fa:16:3e:${hex(1)}:${hex(1)}:${hex(1)}`;

interface Echo {
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The world of the test: the metadata server, a driver, endpoints, and their cleanup. */
class World {
  readonly owner = `km${hex(3).slice(0, 5)}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'kumo-metadata-it-'));
  readonly stateDir = join(this.dir, 'network');
  readonly socket = join(this.dir, 'metadata.sock');
  readonly drivers: NetDriver[] = [];
  readonly #namespaces: string[] = [];
  #server: Server | undefined;

  constructor(t: TestContext) {
    t.after(() => this.cleanup());
  }

  /** The stand-in for Kumo's metadata server: answers every request with its path and headers. */
  async serve(): Promise<void> {
    this.#server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url ?? '', headers: req.headers } satisfies Echo));
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.socket, resolve));
  }

  /** A driver instance (a Kumo process) on the shared state dir. */
  driver(): NetDriver {
    const driver = createNetDriver('linux', { owner: this.owner, stateDir: this.stateDir, physicalBridges: {}, vxlanLocalIp: '127.0.0.1', metadataSocket: this.socket }, createSilentLogger());
    this.drivers.push(driver);
    return driver;
  }

  async endpoint(): Promise<string> {
    const ns = await endpointNamespace();
    this.#namespaces.push(ns.name);
    return ns.name;
  }

  async cleanup(): Promise<void> {
    await this.drivers.at(-1)?.removeAll().catch((err: unknown) => console.error(`removeAll(${this.owner}):`, err));
    for (const ns of this.#namespaces) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    await new Promise((r) => (this.#server ? this.#server.close(r) : r(undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A vxlan network with one IPv4 DHCP subnet, its DHCP port at .2, and one endpoint port at `ip`. */
function network(cidr: string, gatewayIp: string | null, endpointNs: string, ip: string): { net: NetworkSpec; port: PortSpec } {
  const subnet = { id: randomUUID(), cidr, ipVersion: 4 as const, gatewayIp, enableDhcp: true, dnsNameservers: [], hostRoutes: [] };
  const id = randomUUID();
  const port: PortSpec = {
    id: randomUUID(), networkId: id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: ip }], plug: { kind: 'veth', netns: endpointNs, ifname: 'eth0' },
    adminStateUp: true, portSecurityEnabled: true, allowedAddressPairs: [], securityGroupIds: [],
  };
  const dhcpIp = cidr.replace(/\.0\/\d+$/, '.2');
  const net: NetworkSpec = {
    id, type: 'vxlan', segmentationId: randomInt(100_000, 16_000_000), physicalNetwork: null, mtu: 1450, vxlanPeers: [], subnets: [subnet],
    dhcpPort: { portId: randomUUID(), macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: dhcpIp }], hosts: [{ portId: port.id, macAddress: port.macAddress, ipAddress: ip, hostname: 'vm' }] },
  };
  return { net, port };
}

/** Neutron's default group (all egress, ingress from members): the answer must come back through the port's filter. */
function defaultGroup(ports: PortSpec[]): SecurityGroupSpec {
  const id = randomUUID();
  const r = { ethertype: 'IPv4' as const, protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null };
  return {
    id, memberAddresses: ports.map((p) => p.fixedIps[0].ipAddress),
    rules: [{ ...r, id: randomUUID(), direction: 'egress', remoteGroupId: null }, { ...r, id: randomUUID(), direction: 'ingress', remoteGroupId: id }],
  };
}

/** GET http://169.254.169.254/<path> from the endpoint with busybox wget, as an instance's cloud-init would. */
async function metadata(ns: string, path = '/openstack/latest/meta_data.json', headers: string[] = []): Promise<Echo> {
  const args = ['netns', 'exec', ns, 'busybox', 'wget', '-qO-', ...headers.flatMap((h) => ['--header', h]), `http://169.254.169.254${path}`];
  return JSON.parse(await sh('ip', args)) as Echo;
}

function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

const netnsOf = (pid: number) => statSync(`/proc/${pid}/ns/net`).ino;

test('metadata proxy: each network\'s instances reach 169.254.169.254 through their DHCP namespace, which says who asked; restart-proof, gone with the network', { skip }, async (t) => {
  const world = new World(t);
  await world.serve();
  const [nsA, nsB] = [await world.endpoint(), await world.endpoint()];
  const a = network('10.61.0.0/24', '10.61.0.1', nsA, '10.61.0.5');
  // No gateway: option 121 then carries the metadata route only, and no router is offered.
  const b = network('10.62.0.0/24', null, nsB, '10.62.0.7');
  const withGroup = (ports: PortSpec[]) => {
    const sg = defaultGroup(ports);
    return { ports: ports.map((p) => ({ ...p, securityGroupIds: [sg.id] })), securityGroups: [sg] };
  };
  const state: HostNetworkState = { networks: [a.net, b.net], ...withGroup([a.port, b.port]), routers: [] };

  const driver = world.driver();
  const report = await driver.sync(state);
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures));

  const leaseA = await dhcpLease(nsA, 'eth0', { staticRoutes: true });
  assert.equal(leaseA.ip, '10.61.0.5');
  assert.equal(leaseA.staticRoutes, '169.254.169.254/32 10.61.0.2 0.0.0.0/0 10.61.0.1');
  const leaseB = await dhcpLease(nsB, 'eth0', { staticRoutes: true });
  assert.equal(leaseB.ip, '10.62.0.7');
  assert.equal(leaseB.router, null);
  assert.equal(leaseB.staticRoutes, '169.254.169.254/32 10.62.0.2');

  const fromA = await metadata(nsA);
  assert.equal(fromA.url, '/openstack/latest/meta_data.json');
  assert.equal(fromA.headers['x-forwarded-for'], '10.61.0.5');
  assert.equal(fromA.headers['x-neutron-network-id'], a.net.id);
  const fromB = await metadata(nsB, '/latest/meta-data/instance-id');
  assert.equal(fromB.url, '/latest/meta-data/instance-id');
  assert.equal(fromB.headers['x-forwarded-for'], '10.62.0.7');
  assert.equal(fromB.headers['x-neutron-network-id'], b.net.id);

  // What a client claims under the trusted names never reaches the server.
  const forged = await metadata(nsA, '/openstack', ['X-Forwarded-For: 10.62.0.7', `X-Neutron-Network-ID: ${b.net.id}`, `X-Neutron-Router-ID: ${randomUUID()}`]);
  assert.equal(forged.headers['x-forwarded-for'], '10.61.0.5');
  assert.equal(forged.headers['x-neutron-network-id'], a.net.id);
  assert.equal(forged.headers['x-neutron-router-id'], undefined);

  // One haproxy per network, each inside its own DHCP namespace.
  const pids = (await driver.inventory()).metadataProxyPids;
  assert.equal(pids.length, 2);
  const inodes = [a, b].map((n) => statSync(`/run/netns/${namespaceName('dhcp', world.owner, n.net.id)}`).ino).sort();
  assert.deepEqual(pids.map(netnsOf).sort(), inodes);

  // A restarted Kumo (a new driver on the same state dir) finds them and starts no second one.
  const restarted = world.driver();
  const again = await restarted.sync(state);
  assert.deepEqual(again.failures, []);
  assert.deepEqual(again.removed, []);
  assert.deepEqual((await restarted.inventory()).metadataProxyPids, pids);
  assert.equal((await metadata(nsA)).headers['x-neutron-network-id'], a.net.id);

  // Network A goes: its proxy with it; B's stays and still answers.
  const pidA = pids.find((p) => netnsOf(p) === statSync(`/run/netns/${namespaceName('dhcp', world.owner, a.net.id)}`).ino)!;
  const onlyB: HostNetworkState = { networks: [b.net], ...withGroup([b.port]), routers: [] };
  const removal = await restarted.sync(onlyB);
  assert.deepEqual(removal.failures, []);
  assert.ok(removal.removed.includes(`haproxy:${pidA}`), JSON.stringify(removal.removed));
  assert.equal(alive(pidA), false);
  const left = (await restarted.inventory()).metadataProxyPids;
  assert.deepEqual(left, pids.filter((p) => p !== pidA));
  assert.equal((await metadata(nsB)).headers['x-neutron-network-id'], b.net.id);

  // Everything of this owner removed: no proxy left.
  await restarted.removeAll();
  assert.deepEqual((await restarted.inventory()).metadataProxyPids, []);
  for (const pid of pids) assert.equal(alive(pid), false, `haproxy ${pid} is gone`);
});
