import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DhcpPortSpec, NetworkSpec } from '../types.js';
import { buildDhcpInnerBatch, buildDnsmasqArgv, buildHostsFile, buildOptsFile, dhcpPaths, dhcpPortAddresses, dnsmasqPidFileOf } from './dhcp.js';

const NET = '0c6f5b8e-1111-4222-8333-444455556666';
const S4 = '5b1c7d2e-aaaa-4bbb-8ccc-dddddddddddd';
const S4B = '6b1c7d2e-aaaa-4bbb-8ccc-dddddddddddd';
const S6 = '7b1c7d2e-aaaa-4bbb-8ccc-dddddddddddd';
const DPORT = 'd0d0d0d0-1111-4222-8333-444455556666';

const port: DhcpPortSpec = {
  portId: DPORT, macAddress: 'FA:16:3E:00:00:02',
  fixedIps: [{ subnetId: S4, ipAddress: '10.0.0.2' }, { subnetId: S6, ipAddress: '2001:db8::2' }],
  hosts: [
    { portId: 'p2', macAddress: 'FA:16:3E:00:00:04', ipAddress: '10.0.0.10', hostname: 'web_1.example' },
    { portId: 'p1', macAddress: 'fa:16:3e:00:00:03', ipAddress: '10.0.0.9', hostname: '' },
    { portId: 'p3', macAddress: 'fa:16:3e:00:00:05', ipAddress: '10.0.1.5', hostname: 'not-served' },
    { portId: 'p4', macAddress: 'fa:16:3e:00:00:06', ipAddress: '2001:db8::6', hostname: 'v6' },
  ],
};
const network: NetworkSpec = {
  id: NET, type: 'vxlan', segmentationId: 7, physicalNetwork: null, mtu: 1450, vxlanPeers: [], dhcpPort: port,
  subnets: [
    { id: S4, cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: '10.0.0.1', enableDhcp: true, dnsNameservers: ['9.9.9.9', '2001:db8::53'], hostRoutes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }] },
    { id: S4B, cidr: '10.0.1.0/24', ipVersion: 4, gatewayIp: null, enableDhcp: true, dnsNameservers: [], hostRoutes: [] },
    { id: S6, cidr: '2001:db8::/64', ipVersion: 6, gatewayIp: '2001:db8::1', enableDhcp: true, dnsNameservers: [], hostRoutes: [] },
  ],
};
const paths = dhcpPaths(`/var/lib/kumo/network/dhcp-${NET}`);

test('dhcp: dnsmasq argv serves the subnets the DHCP port is on, static leases only, and names the network', () => {
  const argv = buildDnsmasqArgv(network, port, paths);
  assert.equal(argv[0], '/usr/sbin/dnsmasq');
  for (const flag of ['--no-resolv', '--no-hosts', '--bind-interfaces', '--except-interface=lo', '--conf-file=/dev/null', '--port=0', '--leasefile-ro']) assert.ok(argv.includes(flag), flag);
  assert.ok(argv.includes('--interface=ns-d0d0d0d0111'));
  assert.ok(argv.includes(`--pid-file=/var/lib/kumo/network/dhcp-${NET}/dnsmasq.pid`));
  assert.ok(argv.includes(`--dhcp-hostsfile=/var/lib/kumo/network/dhcp-${NET}/hosts`));
  assert.ok(argv.includes(`--dhcp-optsfile=/var/lib/kumo/network/dhcp-${NET}/opts`));
  assert.deepEqual(argv.filter((a) => a.startsWith('--dhcp-range')), ['--dhcp-range=set:s5b1c7d2eaaa,10.0.0.0,static,255.255.255.0,86400s']);
  assert.ok(argv.some((a) => a.includes(NET)), 'the network uuid is in the argv');
  assert.equal(dnsmasqPidFileOf(['/usr/sbin/dnsmasq', ...argv.slice(1)]), paths.pidFile);
  assert.equal(dnsmasqPidFileOf(['/usr/bin/python3', `--pid-file=${paths.pidFile}`]), null);
});

test('dhcp: hosts file has one sorted static lease per served address with a valid hostname', () => {
  assert.equal(buildHostsFile(network, port), 'fa:16:3e:00:00:03,10.0.0.9,host-10-0-0-9\nfa:16:3e:00:00:04,10.0.0.10,web-1-example\n');
});

test('dhcp: options file gives router, DNS, classless routes (with the default route) and MTU', () => {
  assert.equal(buildOptsFile(network, port), [
    'tag:s5b1c7d2eaaa,option:router,10.0.0.1',
    'tag:s5b1c7d2eaaa,option:dns-server,9.9.9.9',
    'tag:s5b1c7d2eaaa,option:classless-static-route,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
    'tag:s5b1c7d2eaaa,249,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
    'tag:s5b1c7d2eaaa,option:mtu,1450',
    '',
  ].join('\n'));
});

test('dhcp: with the metadata proxy, classless routes send 169.254.169.254 via the DHCP port (and the default route via the gateway)', () => {
  const twoSubnets: DhcpPortSpec = { ...port, fixedIps: [...port.fixedIps, { subnetId: S4B, ipAddress: '10.0.1.2' }] };
  const net2 = { ...network, dhcpPort: twoSubnets };
  assert.equal(buildOptsFile(net2, twoSubnets, true), [
    'tag:s5b1c7d2eaaa,option:router,10.0.0.1',
    'tag:s5b1c7d2eaaa,option:dns-server,9.9.9.9',
    'tag:s5b1c7d2eaaa,option:classless-static-route,169.254.169.254/32,10.0.0.2,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
    'tag:s5b1c7d2eaaa,249,169.254.169.254/32,10.0.0.2,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
    'tag:s5b1c7d2eaaa,option:mtu,1450',
    // No gateway: still no router, and no default route among the classless routes either.
    'tag:s6b1c7d2eaaa,option:router',
    'tag:s6b1c7d2eaaa,option:classless-static-route,169.254.169.254/32,10.0.1.2',
    'tag:s6b1c7d2eaaa,249,169.254.169.254/32,10.0.1.2',
    'tag:s6b1c7d2eaaa,option:mtu,1450',
    '',
  ].join('\n'));
  // Without the proxy, the subnet without host routes gets no classless routes at all.
  assert.ok(!buildOptsFile(net2, twoSubnets).includes('169.254.169.254'));
  assert.ok(!buildOptsFile(net2, twoSubnets).includes('tag:s6b1c7d2eaaa,option:classless'));
  // A host route the user gave for the metadata address wins.
  const own = { ...network, subnets: [{ ...network.subnets[0], hostRoutes: [{ destination: '169.254.169.254/32', nexthop: '10.0.0.5' }] }] };
  assert.match(buildOptsFile(own, port, true), /option:classless-static-route,169\.254\.169\.254\/32,10\.0\.0\.5,0\.0\.0\.0\/0,10\.0\.0\.1\n/);
});

test('dhcp: with the metadata proxy, the DHCP interface also holds 169.254.169.254/32', () => {
  assert.match(buildDhcpInnerBatch(network, port, true).script(), /addr add 2001:db8::2\/64 dev ns-d0d0d0d0111 nodad\naddr add 169\.254\.169\.254\/32 dev ns-d0d0d0d0111\n$/);
  assert.ok(!buildDhcpInnerBatch(network, port).script().includes('169.254'));
});

test('dhcp: the interface in the namespace gets the port addresses with their prefixes', () => {
  const addresses = dhcpPortAddresses(network, port);
  assert.deepEqual(addresses, ['10.0.0.2/24', '2001:db8::2/64']);
  assert.equal(buildDhcpInnerBatch(network, port).script(), [
    'link set dev lo up',
    'link set dev ns-d0d0d0d0111 address fa:16:3e:00:00:02 mtu 1450 up',
    'addr flush dev ns-d0d0d0d0111',
    'addr add 10.0.0.2/24 dev ns-d0d0d0d0111',
    'addr add 2001:db8::2/64 dev ns-d0d0d0d0111 nodad',
    '',
  ].join('\n'));
});
