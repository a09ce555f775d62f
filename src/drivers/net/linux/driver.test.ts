import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSilentLogger } from '../../../log.js';
import type { HostNetworkState, NetworkSpec, PortSpec } from '../types.js';
import type { CommandResult, CommandRunner } from '../../../lib/command-runner.js';
import { buildDnsmasqArgv, dhcpPaths } from './dhcp.js';
import { buildHaproxyArgv, metadataProxyPaths } from './metadata-proxy.js';
import { createLinuxNetDriver, type LinuxNetDriverTuning } from './driver.js';
import type { DaemonProcess, HostAccess } from './host-access.js';
import { bridgeName, linkAlias, namespaceName, STATE_FILE, tapName } from './naming.js';

const OWNER = 'unit';
const NET = '0c6f5b8e-1111-4222-8333-444455556666';
const SUB = '5b1c7d2e-aaaa-4bbb-8ccc-dddddddddddd';
const P1 = 'a1000000-0000-4000-8000-000000000001';
const P2 = 'a2000000-0000-4000-8000-000000000002';
const DP = 'a3000000-0000-4000-8000-000000000003';
const SG = 'c1000000-0000-4000-8000-000000000001';
const DHCP_NS = namespaceName('dhcp', OWNER, NET);

const net: NetworkSpec = {
  id: NET, type: 'flat', segmentationId: null, physicalNetwork: null, mtu: 1500, vxlanPeers: [],
  subnets: [{ id: SUB, cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: '10.0.0.1', enableDhcp: true, dnsNameservers: [], hostRoutes: [] }],
  dhcpPort: { portId: DP, macAddress: 'fa:16:3e:00:00:02', fixedIps: [{ subnetId: SUB, ipAddress: '10.0.0.2' }], hosts: [{ portId: P1, macAddress: 'fa:16:3e:00:00:03', ipAddress: '10.0.0.3', hostname: 'one' }] },
};
const port = (id: string, p: Partial<PortSpec> = {}): PortSpec => ({
  id, networkId: NET, macAddress: 'fa:16:3e:00:00:03', fixedIps: [{ subnetId: SUB, ipAddress: '10.0.0.3' }], plug: { kind: 'tap' },
  adminStateUp: true, portSecurityEnabled: true, allowedAddressPairs: [], securityGroupIds: [SG], ...p,
});
const state: HostNetworkState = {
  networks: [net],
  ports: [port(P1), port(P2, { macAddress: 'fa:16:3e:00:00:04', portSecurityEnabled: false })],
  securityGroups: [{ id: SG, rules: [], memberAddresses: ['10.0.0.3'] }],
  routers: [],
};

const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });

/** Answers the reads from `host`, records everything, and lets a test fail chosen commands. */
class FakeRunner implements CommandRunner {
  readonly calls: { argv: string[]; input: string }[] = [];
  links: object[] = [];
  namespaces: object[] = [];
  tables: object[] = [];
  failWhen: (argv: readonly string[], input: string) => CommandResult | undefined = () => undefined;

  async run(argv: readonly string[], options: { input?: string } = {}): Promise<CommandResult> {
    const input = options.input ?? '';
    this.calls.push({ argv: [...argv], input });
    const failed = this.failWhen(argv, input);
    if (failed) return failed;
    const cmd = argv.join(' ');
    if (cmd === 'ip -j -d link show') return ok(JSON.stringify(this.links));
    if (cmd === 'ip -j netns list') return ok(JSON.stringify(this.namespaces));
    if (cmd === 'nft -j list tables') return ok(JSON.stringify({ nftables: [{ metainfo: {} }, ...this.tables.map((table) => ({ table }))] }));
    if (cmd === 'bridge -j fdb show') return ok('[]');
    return ok();
  }

  applied(): string[] {
    return this.calls.map((c) => c.argv.join(' ')).filter((c) => !/ -j | list /.test(` ${c} `));
  }
}

function fakeHost(): HostAccess & { signals: [number, string][]; procs: DaemonProcess[]; pid: number | null } {
  const h = {
    signals: [] as [number, string][],
    procs: [] as DaemonProcess[],
    pid: null as number | null,
    namespaceInode: async () => 4242,
    listDaemons: async () => h.procs,
    daemonsFromPidFiles: async () => h.procs,
    readPidFile: async () => h.pid,
    signal: (pid: number, sig: NodeJS.Signals) => {
      h.signals.push([pid, sig]);
      return true;
    },
    isAlive: async () => false,
    bridgeNfCallIptables: async () => false,
  };
  return h;
}

function setup(options: { metadataSocket?: string } = {}, tuning: LinuxNetDriverTuning = {}) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'kumo-net-unit-'));
  const runner = new FakeRunner();
  const host = fakeHost();
  const driver = createLinuxNetDriver({ owner: OWNER, stateDir, physicalBridges: {}, vxlanLocalIp: '192.0.2.2', ...options }, createSilentLogger(), runner, host, tuning);
  return { stateDir, runner, host, driver, done: () => rmSync(stateDir, { recursive: true, force: true }) };
}

/** The link list `ip -j -d link show` gives once `state` is in place. */
function convergedLinks(): object[] {
  const common = { flags: ['UP'], mtu: 1500, inet6_addr_gen_mode: 'none' };
  return [
    { ...common, ifindex: 10, ifname: bridgeName(NET), ifalias: linkAlias(OWNER, NET), linkinfo: { info_kind: 'bridge', info_data: { nf_call_iptables: 1, nf_call_ip6tables: 1 } } },
    { ...common, ifindex: 11, ifname: tapName(P1), ifalias: linkAlias(OWNER, P1), master: bridgeName(NET), linkinfo: { info_kind: 'tun', info_data: { type: 'tap' } } },
    { ...common, ifindex: 12, ifname: tapName(P2), ifalias: linkAlias(OWNER, P2), master: bridgeName(NET), linkinfo: { info_kind: 'tun', info_data: { type: 'tap' } } },
    { ...common, ifindex: 13, ifname: tapName(DP), ifalias: linkAlias(OWNER, DP), master: bridgeName(NET), link_netnsid: 0, linkinfo: { info_kind: 'veth' } },
  ];
}

test('driver: first sync applies nft before links, then DHCP inside its namespace, and writes its state', async () => {
  const { stateDir, runner, driver, done } = setup();
  try {
    const report = await driver.sync(state);
    assert.deepEqual(report, { activePorts: [P1, P2], failures: [], removed: [] });
    const applied = runner.applied();
    assert.deepEqual(applied.slice(0, 2), ['nft -f -', 'ip -force -batch -']);
    assert.equal(applied[2], `ip -n ${DHCP_NS} -force -batch -`);
    assert.ok(applied[3].startsWith(`ip netns exec ${DHCP_NS} /usr/sbin/dnsmasq --conf-file=/dev/null`));
    assert.equal(applied.length, 4);
    const ipScript = runner.calls.find((c) => c.argv.join(' ') === 'ip -force -batch -')!.input;
    assert.match(ipScript, new RegExp(`^netns add ${DHCP_NS}\n`));
    assert.match(ipScript, new RegExp(`tuntap add dev ${tapName(P1)} mode tap`));
    const dir = path.join(stateDir, STATE_FILE.dhcpDir(NET));
    assert.equal(readFileSync(path.join(dir, 'hosts'), 'utf8'), 'fa:16:3e:00:00:03,10.0.0.3,one\n');
    assert.match(readFileSync(path.join(dir, 'opts'), 'utf8'), /option:router,10\.0\.0\.1/);
    const inner = JSON.parse(readFileSync(path.join(dir, 'applied.json'), 'utf8'));
    assert.equal(inner.nsInode, 4242);
    assert.match(inner.script, /addr add 10\.0\.0\.2\/24 dev ns-a3000000000/);
    assert.ok(existsSync(path.join(stateDir, STATE_FILE.zones)));
  } finally {
    done();
  }
});

test('driver: a second sync of a converged host only reads, and keeps dnsmasq (SIGHUP only when leases change)', async () => {
  const { stateDir, runner, host, driver, done } = setup();
  try {
    await driver.sync(state);
    runner.calls.length = 0;
    runner.links = convergedLinks();
    runner.namespaces = [{ name: DHCP_NS, id: 0 }];
    runner.tables = [{ family: 'inet', name: `kumo_${OWNER}` }, { family: 'bridge', name: `kumo_${OWNER}` }];
    const paths = dhcpPaths(path.join(stateDir, STATE_FILE.dhcpDir(NET)));
    host.procs = [{ pid: 777, kind: 'dnsmasq', networkId: NET, argv: buildDnsmasqArgv(net, net.dhcpPort!, paths), netnsInode: 4242 }];
    host.pid = 777;
    const report = await driver.sync(state);
    assert.deepEqual(report, { activePorts: [P1, P2], failures: [], removed: [] });
    assert.deepEqual(runner.applied(), []);
    assert.deepEqual(host.signals, []);

    const more: NetworkSpec = { ...net, dhcpPort: { ...net.dhcpPort!, hosts: [...net.dhcpPort!.hosts, { portId: P2, macAddress: 'fa:16:3e:00:00:04', ipAddress: '10.0.0.4', hostname: 'two' }] } };
    await driver.sync({ ...state, networks: [more] });
    assert.deepEqual(host.signals, [[777, 'SIGHUP']]);
    assert.deepEqual(runner.applied(), []);
  } finally {
    done();
  }
});

test('driver: a sync that only adds ports or DHCP hosts plans them against the model of the last sync, reading nothing; the same state again, a removal or a failure reads the host', async () => {
  const { stateDir, runner, host, driver, done } = setup({}, { fullReadEveryMs: 600_000 });
  const reads = () => runner.calls.map((c) => c.argv.join(' ')).filter((c) => c.startsWith('ip -j'));
  const ipScript = () => runner.calls.filter((c) => c.argv.join(' ') === 'ip -force -batch -').map((c) => c.input).join('');
  const P3 = 'a4000000-0000-4000-8000-000000000004';
  const P4 = 'a5000000-0000-4000-8000-000000000005';
  const container = (id: string, mac: string, netns: string) => port(id, { macAddress: mac, plug: { kind: 'veth', netns, ifname: 'eth0' } });
  try {
    assert.deepEqual((await driver.sync(state)).failures, []);
    assert.ok(reads().includes('ip -j -d link show'));
    // The DHCP server it started, running.
    host.procs = [{ pid: 777, kind: 'dnsmasq', networkId: NET, argv: buildDnsmasqArgv(net, net.dhcpPort!, dhcpPaths(path.join(stateDir, STATE_FILE.dhcpDir(NET)))), netnsInode: 4242 }];
    host.pid = 777;

    runner.calls.length = 0;
    const more = { ...state, ports: [...state.ports, container(P3, 'fa:16:3e:00:00:05', 'kt-3')] };
    const report = await driver.sync(more);
    assert.deepEqual(report, { activePorts: [P1, P2, P3], failures: [], removed: [] });
    assert.deepEqual(reads(), []);
    assert.match(ipScript(), new RegExp(`^link add name eth0 netns kt-3 address fa:16:3e:00:00:05 mtu 1500 up type veth peer name ${tapName(P3)} mtu 1500\n`));
    assert.ok(ipScript().trim().split('\n').every((line) => line.includes(tapName(P3))), ipScript());
    // The new port's filter went in before its link (nft, then ip).
    assert.deepEqual(runner.applied().slice(0, 2), ['nft -f -', 'ip -force -batch -']);

    // Only a new DHCP host (a port made on the network, not yet bound here): the model too, and
    // dnsmasq is told to re-read its hosts file.
    runner.calls.length = 0;
    host.signals.length = 0;
    const net0 = more.networks[0]!;
    const withHost = { ...more, networks: [{ ...net0, dhcpPort: { ...net0.dhcpPort!, hosts: [...net0.dhcpPort!.hosts, { portId: P4, macAddress: 'fa:16:3e:00:00:06', ipAddress: '10.0.0.6', hostname: 'four' }] } }] };
    assert.deepEqual((await driver.sync(withHost)).failures, []);
    assert.deepEqual(reads(), []);
    assert.equal(ipScript(), '');
    assert.deepEqual(host.signals, [[777, 'SIGHUP']]);

    // Nothing new (a resync, say): the host is read, so drift is repaired.
    runner.calls.length = 0;
    await driver.sync(withHost);
    assert.ok(reads().includes('ip -j -d link show'));

    // A port gone: the whole host is read (the plan then removes its link).
    runner.calls.length = 0;
    await driver.sync(state);
    assert.ok(reads().includes('ip -j -d link show'));

    // A failed add: the next sync reads the host too.
    runner.failWhen = (argv) => (argv.join(' ') === 'ip -force -batch -' ? { code: 1, stdout: '', stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' } : undefined);
    const failed = await driver.sync({ ...state, ports: [...state.ports, container(P4, 'fa:16:3e:00:00:06', 'kt-4')] });
    assert.deepEqual(failed.failures.map((f) => f.resourceId), [P4]);
    runner.failWhen = () => undefined;
    runner.calls.length = 0;
    await driver.sync(state);
    assert.ok(reads().includes('ip -j -d link show'));
  } finally {
    done();
  }
});

test('driver: a container far end whose addresses could not be set is removed whole, so the next sync makes it again', async () => {
  const { runner, driver, done } = setup();
  try {
    const staticPort = port(P1, { plug: { kind: 'veth', netns: 'kt-1', ifname: 'eth0', static: { addresses: ['10.0.0.3/24'], gateway: '10.0.0.1' } } });
    runner.namespaces = [{ name: 'kt-1', id: 3 }];
    runner.failWhen = (argv) => (argv.join(' ') === '/bin/sh -s' ? { code: 1, stdout: '', stderr: 'Cannot open network namespace' } : undefined);
    const report = await driver.sync({ ...state, ports: [staticPort] });
    assert.match(report.failures[0]?.message ?? '', /addresses in kt-1/);
    assert.deepEqual(report.failures.map((f) => f.resourceId), [P1]);
    assert.ok(runner.calls.some((c) => c.argv.join(' ') === 'ip -force -batch -' && c.input === `link del dev ${tapName(P1)}\n`));
  } finally {
    done();
  }
});

test('driver: when nft fails, filtered ports are neither plugged nor changed; the rest converges', async () => {
  const { runner, driver, done } = setup();
  try {
    runner.failWhen = (argv) => (argv[0] === 'nft' && argv[1] === '-f' ? { code: 1, stdout: '', stderr: 'Error: Could not process rule' } : undefined);
    const report = await driver.sync(state);
    assert.deepEqual(report.activePorts, [P2]);
    assert.deepEqual(report.failures.map((f) => f.resourceId), [P1]);
    assert.match(report.failures[0].message, /nftables: Error: Could not process rule/);
    const ipScript = runner.calls.find((c) => c.argv.join(' ') === 'ip -force -batch -')!.input;
    assert.ok(!ipScript.includes(tapName(P1)));
    assert.ok(ipScript.includes(tapName(P2)));
  } finally {
    done();
  }
});

test('driver: batch errors become failures of the right port; unreadable host throws and changes nothing', async () => {
  const { runner, driver, done } = setup();
  try {
    runner.failWhen = (argv, input) => {
      if (argv.join(' ') !== 'ip -force -batch -') return undefined;
      const n = input.split('\n').findIndex((l) => l.startsWith(`tuntap add dev ${tapName(P2)}`)) + 1;
      return { code: 1, stdout: '', stderr: `ioctl(TUNSETIFF): Device or resource busy\nCommand failed -:${n}\n` };
    };
    const report = await driver.sync(state);
    assert.deepEqual(report.activePorts, [P1]);
    assert.deepEqual(report.failures.map((f) => f.resourceId), [P2]);
    assert.match(report.failures[0].message, /Device or resource busy/);

    runner.calls.length = 0;
    runner.failWhen = (argv) => (argv.join(' ') === 'ip -j netns list' ? { code: 1, stdout: '', stderr: 'boom' } : undefined);
    await assert.rejects(driver.sync(state), /boom/);
    assert.deepEqual(runner.applied(), []);
  } finally {
    done();
  }
});

test('driver: removeAll stops dnsmasq and removes links, namespaces, tables and state files of this owner only', async () => {
  const { stateDir, runner, host, driver, done } = setup();
  try {
    await driver.sync(state);
    runner.calls.length = 0;
    runner.links = [...convergedLinks(), { ifindex: 50, ifname: 'kbrother000000', flags: [], mtu: 1500, ifalias: linkAlias('other', NET), linkinfo: { info_kind: 'bridge' } }];
    runner.namespaces = [{ name: DHCP_NS, id: 0 }, { name: namespaceName('dhcp', 'other', NET), id: 1 }];
    runner.tables = [{ family: 'inet', name: `kumo_${OWNER}` }, { family: 'bridge', name: `kumo_${OWNER}` }, { family: 'inet', name: 'kumo_other' }];
    host.procs = [{ pid: 778, kind: 'dnsmasq', networkId: NET, argv: ['/usr/sbin/dnsmasq'], netnsInode: 4242 }];
    await driver.removeAll();
    assert.deepEqual(host.signals, [[778, 'SIGTERM']]);
    const nft = runner.calls.find((c) => c.argv.join(' ') === 'nft -f -')!.input;
    assert.match(nft, new RegExp(`^table inet kumo_${OWNER}\ndelete table inet kumo_${OWNER}\ntable bridge kumo_${OWNER}\ndelete table bridge kumo_${OWNER}\n`));
    assert.ok(!nft.includes('kumo_other') && !nft.includes('{'));
    const ipScript = runner.calls.find((c) => c.argv.join(' ') === 'ip -force -batch -')!.input;
    assert.equal(ipScript, `netns del ${DHCP_NS}\n` + [tapName(P1), tapName(P2), tapName(DP)].map((t) => `link del dev ${t}\n`).join('') + `link del dev ${bridgeName(NET)}\n`);
    assert.deepEqual(readdirSync(stateDir), []);
  } finally {
    done();
  }
});

test('driver: refuses an owner label that could not mark names', () => {
  assert.throws(() => createLinuxNetDriver({ owner: 'Not-OK', stateDir: '/tmp/x', physicalBridges: {}, vxlanLocalIp: '' }, createSilentLogger(), new FakeRunner(), fakeHost()), /owner/);
});

test('driver: an unchanged ruleset is probed (two cheap set lookups), and applied again when a table is gone', async () => {
  const { runner, driver, done } = setup();
  try {
    await driver.sync(state);
    runner.calls.length = 0;
    await driver.sync(state);
    const probes = runner.calls.filter((c) => c.argv.slice(0, 3).join(' ') === 'nft list set').map((c) => c.argv[3]);
    assert.deepEqual(probes.sort(), ['bridge', 'inet']);
    assert.ok(!runner.calls.some((c) => c.argv.join(' ') === 'nft -f -'));
    assert.ok(!runner.calls.some((c) => c.argv.join(' ') === 'nft -j list tables'), 'no full listing after the first sync');
    runner.calls.length = 0;
    runner.failWhen = (argv) => (argv.join(' ').startsWith('nft list set bridge') ? { code: 1, stdout: '', stderr: 'Error: No such file or directory' } : undefined);
    await driver.sync(state);
    assert.ok(runner.calls.some((c) => c.argv.join(' ') === 'nft -f -'));
  } finally {
    done();
  }
});

test('driver: with a metadata socket, haproxy starts in the DHCP namespace (nsenter) after dnsmasq, with the address and route for it', async () => {
  const { stateDir, runner, driver, done } = setup({ metadataSocket: '/run/kumo/metadata.sock' });
  try {
    const report = await driver.sync(state);
    assert.deepEqual(report, { activePorts: [P1, P2], failures: [], removed: [] });
    const applied = runner.applied();
    assert.equal(applied.length, 5);
    assert.ok(applied[3].startsWith(`ip netns exec ${DHCP_NS} /usr/sbin/dnsmasq `));
    const dir = path.join(stateDir, STATE_FILE.dhcpDir(NET));
    const proxy = metadataProxyPaths(dir);
    assert.equal(applied[4], `nsenter --net=/run/netns/${DHCP_NS} ${buildHaproxyArgv(proxy).join(' ')}`);
    const config = readFileSync(proxy.configFile, 'utf8');
    assert.match(config, /server metadata unix@\/run\/kumo\/metadata\.sock\n/);
    assert.match(config, new RegExp(`set-header X-Neutron-Network-ID ${NET}\n`));
    const inner = runner.calls.find((c) => c.argv.join(' ') === `ip -n ${DHCP_NS} -force -batch -`)!.input;
    assert.match(inner, /addr add 169\.254\.169\.254\/32 dev ns-a3000000000\n/);
    assert.match(readFileSync(path.join(dir, 'opts'), 'utf8'), /option:classless-static-route,169\.254\.169\.254\/32,10\.0\.0\.2,0\.0\.0\.0\/0,10\.0\.0\.1\n/);
  } finally {
    done();
  }
});

test('driver: a running metadata proxy is kept, restarted when its config changes, and stopped with its network', async () => {
  const { stateDir, runner, host, driver, done } = setup({ metadataSocket: '/run/kumo/metadata.sock' });
  try {
    await driver.sync(state);
    const dir = path.join(stateDir, STATE_FILE.dhcpDir(NET));
    const proxy = metadataProxyPaths(dir);
    runner.calls.length = 0;
    runner.links = convergedLinks();
    runner.namespaces = [{ name: DHCP_NS, id: 0 }];
    runner.tables = [{ family: 'inet', name: `kumo_${OWNER}` }, { family: 'bridge', name: `kumo_${OWNER}` }];
    host.procs = [
      { pid: 777, kind: 'dnsmasq', networkId: NET, argv: buildDnsmasqArgv(net, net.dhcpPort!, dhcpPaths(dir)), netnsInode: 4242 },
      { pid: 888, kind: 'haproxy', networkId: NET, argv: buildHaproxyArgv(proxy), netnsInode: 4242 },
    ];
    // Each daemon's pid file names it.
    host.readPidFile = async (file) => (file === proxy.pidFile ? 888 : 777);
    assert.deepEqual(await driver.sync(state), { activePorts: [P1, P2], failures: [], removed: [] });
    assert.deepEqual(runner.applied(), []);
    assert.deepEqual(host.signals, []);

    // Another socket (a new driver instance on the same state dir): the proxy is restarted, dnsmasq kept.
    const other = createLinuxNetDriver({ owner: OWNER, stateDir, physicalBridges: {}, vxlanLocalIp: '192.0.2.2', metadataSocket: '/run/kumo/other.sock' }, createSilentLogger(), runner, host);
    await other.sync(state);
    assert.deepEqual(host.signals, [[888, 'SIGTERM']]);
    // (A new instance applies the host ruleset once.)
    assert.deepEqual(runner.applied().filter((c) => c !== 'nft -f -'), [`nsenter --net=/run/netns/${DHCP_NS} ${buildHaproxyArgv(proxy).join(' ')}`]);
    assert.match(readFileSync(proxy.configFile, 'utf8'), /unix@\/run\/kumo\/other\.sock/);

    // The network goes: both daemons are stopped before its namespace, and reported.
    host.signals.length = 0;
    const report = await other.sync({ ...state, networks: [], ports: [] });
    assert.deepEqual(host.signals.sort(), [[777, 'SIGTERM'], [888, 'SIGTERM']]);
    assert.ok(report.removed.includes('haproxy:888') && report.removed.includes('dnsmasq:777'));
    assert.ok(!existsSync(dir));
  } finally {
    done();
  }
});

test('driver: without a metadata socket any metadata proxy left over is stopped, its address, route and files removed', async () => {
  const { stateDir, runner, host, driver, done } = setup();
  try {
    const dir = path.join(stateDir, STATE_FILE.dhcpDir(NET));
    host.procs = [{ pid: 889, kind: 'haproxy', networkId: NET, argv: buildHaproxyArgv(metadataProxyPaths(dir)), netnsInode: 4242 }];
    const report = await driver.sync(state);
    assert.deepEqual(host.signals, [[889, 'SIGTERM']]);
    assert.deepEqual(report.removed, ['haproxy:889']);
    assert.ok(!runner.applied().some((c) => c.includes('haproxy')));
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('haproxy')));
    assert.ok(!readFileSync(path.join(dir, 'opts'), 'utf8').includes('169.254'));
  } finally {
    done();
  }
});

test('driver: refuses a metadata socket path that is relative or that haproxy would misparse', () => {
  for (const metadataSocket of ['metadata.sock', '/run/a b.sock']) {
    assert.throws(() => createLinuxNetDriver({ owner: 'unit', stateDir: '/tmp/x', physicalBridges: {}, vxlanLocalIp: '', metadataSocket }, createSilentLogger(), new FakeRunner(), fakeHost()), /metadata socket/);
  }
});
