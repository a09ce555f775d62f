/**
 * DHCP for a network: one dnsmasq (Debian's dnsmasq-base) in the namespace `kumo-dhcp-<owner>-<uuid>`,
 * serving static leases only. Pure builders for its argv, its hosts and options files and the
 * addresses of its interface; the driver runs them.
 *
 * The argv names the network's state directory (which holds the network UUID), so a restarted
 * agent finds its dnsmasq by pid file and checks it with /proc/<pid>/cmdline. Everything that may
 * change while the network lives (leases, options) is in the two files, which dnsmasq re-reads on
 * SIGHUP; a different argv means a restart.
 * @module
 */
import path from 'node:path';
import type { DhcpPortSpec, NetworkSpec, SubnetSpec } from '../types.js';
import { CommandBatch } from './command-batch.js';
import { cidrContains, ipVersionOf, netmaskV4, parseCidr } from './ipaddr.js';
import { METADATA_ADDRESS } from './metadata-proxy.js';
import { dhcpInterfaceName, shortId } from './naming.js';

export const DNSMASQ_BINARY = '/usr/sbin/dnsmasq';
/** Lease time handed to clients (Neutron's default). */
export const LEASE_SECONDS = 86400;

export interface DhcpPaths {
  readonly dir: string;
  readonly pidFile: string;
  readonly hostsFile: string;
  readonly optsFile: string;
  readonly logFile: string;
  /** What was configured inside the namespace (addresses, namespace inode), to skip it when unchanged. */
  readonly appliedFile: string;
}

export function dhcpPaths(networkDir: string): DhcpPaths {
  return {
    dir: networkDir,
    pidFile: path.join(networkDir, 'dnsmasq.pid'),
    hostsFile: path.join(networkDir, 'hosts'),
    optsFile: path.join(networkDir, 'opts'),
    logFile: path.join(networkDir, 'dnsmasq.log'),
    appliedFile: path.join(networkDir, 'applied.json'),
  };
}

/** The IPv4 subnets dnsmasq serves: DHCP enabled and the DHCP port has an address in it. */
export function servedSubnets(network: NetworkSpec, port: DhcpPortSpec): SubnetSpec[] {
  const portSubnets = new Set(port.fixedIps.map((f) => f.subnetId));
  return network.subnets.filter((s) => s.ipVersion === 4 && s.enableDhcp && portSubnets.has(s.id) && parseCidr(s.cidr)?.version === 4);
}

const subnetTag = (subnet: SubnetSpec) => `s${shortId(subnet.id)}`;

/** The DHCP port's addresses with their subnets' prefix lengths, for its interface in the namespace. */
export function dhcpPortAddresses(network: NetworkSpec, port: DhcpPortSpec): string[] {
  const subnets = new Map(network.subnets.map((s) => [s.id, s]));
  const out: string[] = [];
  for (const ip of port.fixedIps) {
    const cidr = parseCidr(subnets.get(ip.subnetId)?.cidr ?? '');
    if (cidr && ipVersionOf(ip.ipAddress) === cidr.version) out.push(`${ip.ipAddress}/${cidr.prefix}`);
  }
  return out;
}

export function buildDnsmasqArgv(network: NetworkSpec, port: DhcpPortSpec, paths: DhcpPaths, binary = DNSMASQ_BINARY): string[] {
  const ranges = servedSubnets(network, port).map((s) => {
    const cidr = parseCidr(s.cidr)!;
    return `--dhcp-range=set:${subnetTag(s)},${cidr.network},static,${netmaskV4(cidr.prefix)},${LEASE_SECONDS}s`;
  });
  return [
    binary,
    // Never the host's /etc/dnsmasq.conf: nothing but this argv configures it.
    '--conf-file=/dev/null',
    // DHCP only. Clients get the subnet's DNS servers; with no upstream, a DNS forwarder here would answer nothing.
    '--port=0',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    '--except-interface=lo',
    `--interface=${dhcpInterfaceName(port.portId)}`,
    // Stays root: dnsmasq re-reads the hosts file on SIGHUP after dropping privileges, and the
    // state dir may sit under a 0700 data dir that `nobody` cannot enter. DNS is off (--port=0),
    // so what listens is the DHCP server alone.
    '--user=root',
    '--group=root',
    `--pid-file=${paths.pidFile}`,
    `--dhcp-hostsfile=${paths.hostsFile}`,
    `--dhcp-optsfile=${paths.optsFile}`,
    // Every lease is static and comes from the hosts file: nothing needs remembering across restarts.
    '--leasefile-ro',
    '--dhcp-lease-max=65536',
    `--log-facility=${paths.logFile}`,
    ...ranges,
  ];
}

const HOSTNAME_OK = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function hostname(name: string, ip: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return HOSTNAME_OK.test(clean) ? clean : `host-${ip.replace(/[.:]/g, '-')}`;
}

/** One static lease per line: `mac,ip,hostname`, only for addresses in served subnets. */
export function buildHostsFile(network: NetworkSpec, port: DhcpPortSpec): string {
  const served = servedSubnets(network, port).map((s) => parseCidr(s.cidr)!);
  // By address as a number: a numeric-collation localeCompare was the costliest part of a network
  // pass's planning at a thousand ports, and this file is rebuilt on every pass.
  const lines = [...port.hosts]
    .filter((h) => ipVersionOf(h.ipAddress) === 4 && served.some((c) => cidrContains(c, h.ipAddress)))
    .map((h) => ({ h, key: h.ipAddress.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) }))
    .sort((a, b) => a.key - b.key)
    .map(({ h }) => h)
    .map((h) => `${h.macAddress.toLowerCase()},${h.ipAddress},${hostname(h.hostname, h.ipAddress)}`);
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/**
 * Per served subnet: router (or none), DNS servers, classless static routes, MTU. With `metadata`
 * (the metadata proxy listens in the namespace, see metadata-proxy.ts), a route to 169.254.169.254
 * via the DHCP port's address in that subnet comes first, unless the subnet's host routes have one.
 */
export function buildOptsFile(network: NetworkSpec, port: DhcpPortSpec, metadata = false): string {
  const lines: string[] = [];
  for (const s of servedSubnets(network, port)) {
    const tag = `tag:${subnetTag(s)}`;
    // An empty router option tells dnsmasq to send none (it would otherwise offer its own address).
    lines.push(s.gatewayIp ? `${tag},option:router,${s.gatewayIp}` : `${tag},option:router`);
    const dns = s.dnsNameservers.filter((d) => ipVersionOf(d) === 4);
    if (dns.length) lines.push(`${tag},option:dns-server,${dns.join(',')}`);
    const routes = s.hostRoutes.filter((r) => parseCidr(r.destination)?.version === 4 && ipVersionOf(r.nexthop) === 4);
    const metadataRoute = `${METADATA_ADDRESS}/32`;
    const portIp = port.fixedIps.find((f) => f.subnetId === s.id && ipVersionOf(f.ipAddress) === 4)?.ipAddress;
    if (metadata && portIp && !routes.some((r) => r.destination === metadataRoute)) routes.unshift({ destination: metadataRoute, nexthop: portIp });
    if (routes.length) {
      // A client that gets classless routes ignores the router option (RFC 3442), so the default route goes in too.
      const pairs = routes.map((r) => `${r.destination},${r.nexthop}`);
      if (s.gatewayIp) pairs.push(`0.0.0.0/0,${s.gatewayIp}`);
      lines.push(`${tag},option:classless-static-route,${pairs.join(',')}`);
      lines.push(`${tag},249,${pairs.join(',')}`);
    }
    lines.push(`${tag},option:mtu,${network.mtu}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** MAC, MTU and addresses of the DHCP interface (and the metadata address with `metadata`); run with `ip -n NS -force -batch -`. */
export function buildDhcpInnerBatch(network: NetworkSpec, port: DhcpPortSpec, metadata = false): CommandBatch {
  const batch = new CommandBatch();
  const ifname = dhcpInterfaceName(port.portId);
  const networkId = network.id;
  batch.add(networkId, ['link', 'set', 'dev', 'lo', 'up']);
  batch.add(networkId, ['link', 'set', 'dev', ifname, 'address', port.macAddress.toLowerCase(), 'mtu', String(network.mtu), 'up']);
  batch.add(networkId, ['addr', 'flush', 'dev', ifname]);
  for (const a of dhcpPortAddresses(network, port)) batch.add(networkId, ['addr', 'add', a, 'dev', ifname, ...(a.includes(':') ? ['nodad'] : [])]);
  // Replies leave from this address by the subnet's connected route: instances reach it via the DHCP port.
  if (metadata) batch.add(networkId, ['addr', 'add', `${METADATA_ADDRESS}/32`, 'dev', ifname]);
  return batch;
}

/** The pid file a dnsmasq argv names (`--pid-file=FILE`), or null when it is not a dnsmasq. */
export function dnsmasqPidFileOf(argv: readonly string[]): string | null {
  if (argv.length === 0 || path.basename(argv[0]) !== 'dnsmasq') return null;
  const arg = argv.find((a) => a.startsWith('--pid-file='));
  return arg ? arg.slice('--pid-file='.length) : null;
}
