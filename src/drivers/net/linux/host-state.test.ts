import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinks, parseNamespaces, parseNftTables, parseVxlanFlood } from './host-state.js';

// Trimmed from `ip -j -d link show` (iproute2 6.1) on the target host.
const LINKS = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], mtu: 65536, address: '00:00:00:00:00:00', inet6_addr_gen_mode: 'eui64' },
  { ifindex: 17, link_index: 2, ifname: 'tap3f2a9c4e1b2', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1450, master: 'kbr0c6f5b8e111', address: 'e6:09:e2:7a:6d:92', link_netnsid: 0,
    linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge', info_slave_data: { state: 'forwarding' } }, inet6_addr_gen_mode: 'none', ifalias: 'kumo:ab:3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab' },
  { ifindex: 18, ifname: 'kbr0c6f5b8e111', flags: ['BROADCAST', 'MULTICAST'], mtu: 1450, address: 'aa:09:51:dc:ac:dd',
    linkinfo: { info_kind: 'bridge', info_data: { stp_state: 0, nf_call_iptables: 1, nf_call_ip6tables: 0 } }, inet6_addr_gen_mode: 'none', ifalias: 'kumo:ab:0c6f5b8e-1111-4222-8333-444455556666' },
  { ifindex: 19, ifname: 'kvx0c6f5b8e111', flags: ['BROADCAST', 'MULTICAST', 'UP'], mtu: 1450, master: 'kbr0c6f5b8e111',
    linkinfo: { info_kind: 'vxlan', info_data: { id: 4242, local: '192.0.2.2', port: 4789, learning: false } }, inet6_addr_gen_mode: 'none' },
  { ifindex: 20, ifname: 'tapfeedfeed000', flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'], mtu: 1500,
    linkinfo: { info_kind: 'tun', info_data: { type: 'tap', pi: false, vnet_hdr: false, multi_queue: false, persist: true } } },
]);

test('host state: links with kind, ownership alias, master, peer namespace and kind-specific data', () => {
  const links = new Map(parseLinks(LINKS).map((l) => [l.name, l]));
  const lo = links.get('lo')!;
  assert.equal(lo.kind, null);
  assert.equal(lo.alias, null);
  const tap = links.get('tap3f2a9c4e1b2')!;
  assert.deepEqual({ kind: tap.kind, master: tap.master, up: tap.up, netns: tap.linkNetnsId, agm: tap.addrGenModeNone, alias: tap.alias },
    { kind: 'veth', master: 'kbr0c6f5b8e111', up: true, netns: 0, agm: true, alias: 'kumo:ab:3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab' });
  const br = links.get('kbr0c6f5b8e111')!;
  assert.equal(br.up, false);
  assert.deepEqual(br.bridge, { nfCallIptables: true, nfCallIp6tables: false });
  assert.deepEqual(links.get('kvx0c6f5b8e111')!.vxlan, { id: 4242, local: '192.0.2.2', port: 4789, learning: false });
  assert.equal(links.get('tapfeedfeed000')!.tunType, 'tap');
  assert.deepEqual(parseLinks(''), []);
});

test('host state: namespaces from JSON or from the old text form, with or without ids', () => {
  assert.deepEqual([...parseNamespaces('[{"name":"kt-a","id":0},{"name":"kt-b"}]')], [['kt-a', 0], ['kt-b', null]]);
  assert.deepEqual([...parseNamespaces('kt-a (id: 3)\nkt-b\n')], [['kt-a', 3], ['kt-b', null]]);
  assert.equal(parseNamespaces('').size, 0);
  assert.equal(parseNamespaces('[]').size, 0);
});

test('host state: nft tables and the VXLAN flood entries of our devices', () => {
  const nft = '{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "bridge", "name": "kumo_ab", "handle": 7}}, {"table": {"family": "inet", "name": "filter", "handle": 8}}]}';
  assert.deepEqual(parseNftTables(nft), [{ family: 'bridge', name: 'kumo_ab' }, { family: 'inet', name: 'filter' }]);
  const fdb = JSON.stringify([
    { mac: '00:00:00:00:00:00', ifname: 'kvx1', dst: '192.0.2.9', flags: ['self'], state: 'permanent' },
    { mac: '00:00:00:00:00:00', ifname: 'kvx1', dst: '192.0.2.10', flags: ['self'], state: 'permanent' },
    { mac: 'aa:bb:cc:dd:ee:ff', ifname: 'kvx1', dst: '192.0.2.11', flags: ['self'] },
    { mac: '00:00:00:00:00:00', ifname: 'vxlan0', dst: '192.0.2.12', flags: ['self'] },
    { mac: '33:33:00:00:00:01', ifname: 'tap1', flags: ['self'], state: 'permanent' },
  ]);
  assert.deepEqual([...parseVxlanFlood(fdb, (d) => d.startsWith('kvx'))], [['kvx1', ['192.0.2.9', '192.0.2.10']]]);
});
