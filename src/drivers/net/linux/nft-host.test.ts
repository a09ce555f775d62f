import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PortSpec, SecurityGroupRuleSpec, SecurityGroupSpec } from '../types.js';
import { allowedSources, buildHostRulesetLayers, CT_MARK, elementChangeScript, hostRulesetScript, protocolNumber, rulesetRevision, securityGroupRule } from './nft-host.js';

/** The owner's two host tables as nft text; empty when no port needs filtering. */
const buildHostRuleset = (input: Parameters<typeof buildHostRulesetLayers>[0]) => buildHostRulesetLayers(input)?.text ?? '';

const SG = '11111111-2222-4333-8444-555555555555';
const OTHER = '99999999-2222-4333-8444-555555555555';
const PORT = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

const rule = (r: Partial<SecurityGroupRuleSpec>): SecurityGroupRuleSpec => ({
  id: 'r', direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null, remoteGroupId: null, ...r,
});

const port = (p: Partial<PortSpec> = {}): PortSpec => ({
  id: PORT, networkId: 'n', macAddress: 'FA:16:3E:00:00:03', fixedIps: [{ subnetId: 's', ipAddress: '10.0.0.3' }],
  plug: { kind: 'tap' }, adminStateUp: true, portSecurityEnabled: true, allowedAddressPairs: [], securityGroupIds: [SG], ...p,
});

test('nft: security group rules become stateless matches that accept', () => {
  const known = new Set([SG]);
  assert.equal(securityGroupRule(rule({ protocol: 'tcp', portRangeMin: 8080, portRangeMax: 8080 }), known), 'ether type ip meta l4proto 6 th dport 8080 accept');
  assert.equal(securityGroupRule(rule({ protocol: 'udp', portRangeMin: 1000, portRangeMax: 2000, remoteIpPrefix: '192.168.1.7/24' }), known),
    'ether type ip ip saddr 192.168.1.0/24 meta l4proto 17 th dport 1000-2000 accept');
  assert.equal(securityGroupRule(rule({ direction: 'egress', remoteIpPrefix: '0.0.0.0/0' }), known), 'ether type ip accept');
  assert.equal(securityGroupRule(rule({ protocol: 'icmp', portRangeMin: 8, portRangeMax: 0 }), known), 'ether type ip meta l4proto 1 icmp type 8 icmp code 0 accept');
  assert.equal(securityGroupRule(rule({ ethertype: 'IPv6', protocol: 'icmp', portRangeMin: 128, portRangeMax: null }), known), 'ether type ip6 meta l4proto 58 icmpv6 type 128 accept');
  assert.equal(securityGroupRule(rule({ ethertype: 'IPv6', remoteGroupId: SG, direction: 'egress' }), known), 'ether type ip6 ip6 daddr @sg6_11111111222 accept');
  assert.equal(securityGroupRule(rule({ protocol: '47' }), known), 'ether type ip meta l4proto 47 accept');
  // Rules that can never match are left out rather than widened.
  assert.equal(securityGroupRule(rule({ remoteGroupId: OTHER }), known), null);
  assert.equal(securityGroupRule(rule({ remoteIpPrefix: '2001:db8::/32' }), known), null);
  assert.equal(securityGroupRule(rule({ protocol: 'bogus' }), known), null);
  assert.equal(securityGroupRule(rule({ protocol: 'tcp', portRangeMin: 90, portRangeMax: 80 }), known), null);
  assert.equal(securityGroupRule(rule({ protocol: 'udp', portRangeMin: 70000, portRangeMax: 70000 }), known), null);
  assert.equal(securityGroupRule(rule({ protocol: 'icmp', portRangeMin: 300, portRangeMax: null }), known), null);
  assert.equal(protocolNumber('ICMPv6', 6), 58);
  assert.equal(protocolNumber(null, 4), null);
});

test('nft: a port may send from its MACs and addresses, allowed pairs and their link-local addresses', () => {
  const s = allowedSources(port({ allowedAddressPairs: [{ ipAddress: '10.0.5.0/24', macAddress: null }, { ipAddress: '10.0.9.9', macAddress: 'fa:16:3e:99:99:99' }, { ipAddress: '2001:db8::7/128', macAddress: null }] }));
  assert.deepEqual(s.macs, ['fa:16:3e:00:00:03', 'fa:16:3e:99:99:99']);
  assert.deepEqual(s.v4.map((p) => `${p.mac} . ${p.address}`), ['fa:16:3e:00:00:03 . 10.0.0.3', 'fa:16:3e:00:00:03 . 10.0.5.0/24', 'fa:16:3e:99:99:99 . 10.0.9.9']);
  assert.deepEqual(s.v6.map((p) => p.address), ['2001:db8::7', 'fe80::f816:3eff:fe00:3', 'fe80::f816:3eff:fe99:9999']);
});

test('nft: the host ruleset has an inet table for conntrack and a bridge table with per-port data in named sets', () => {
  const groups: SecurityGroupSpec[] = [{ id: SG, memberAddresses: ['10.0.0.3', '10.0.0.0/30', '2001:db8::3'], rules: [
    rule({ direction: 'egress' }),
    rule({ remoteGroupId: SG }),
    rule({ protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteGroupId: OTHER }),
  ] }, { id: OTHER, memberAddresses: ['172.16.0.1'], rules: [] }];
  const two = port({ id: 'bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee', macAddress: 'fa:16:3e:00:00:04', fixedIps: [{ subnetId: 's', ipAddress: '10.0.0.4' }], securityGroupIds: [SG, OTHER] });
  const none = port({ id: 'cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee', macAddress: 'fa:16:3e:00:00:05', fixedIps: [], securityGroupIds: [] });
  const text = buildHostRuleset({ owner: 'ab', ports: [{ port: port(), bridge: 'kbr1' }, { port: two, bridge: 'kbr1' }, { port: none, bridge: 'kbr1' }], securityGroups: groups, bridges: ['kbr1'], zones: new Map([['kbr1', 42], ['kbr9', 43]]) });
  assert.match(text, /^table inet kumo_ab \{/);
  assert.match(text, /ct zone set iifname map \{ "kbr1" : 42 \}/);
  assert.ok(!text.includes('kbr9'), 'zones only for bridges with filtered ports');
  assert.match(text, /iifname != \{ "kbr1" \} return/);
  assert.ok(text.includes(`meta mark set meta mark | 0x${CT_MARK.established.toString(16).padStart(8, '0')}`));
  assert.match(text, /table bridge kumo_ab \{/);
  assert.match(text, /set filtered \{ type ifname; elements = \{ "tapaaaaaaaabbb", "tapbbbbbbbbbbb", "tapccccccccbbb" \} \}/);
  assert.match(text, /set macs \{ type ifname \. ether_addr; elements = \{ "tapaaaaaaaabbb" \. fa:16:3e:00:00:03, /);
  assert.match(text, /set src4 \{ type ifname \. ether_addr \. ipv4_addr; flags interval; elements = \{ "tapaaaaaaaabbb" \. fa:16:3e:00:00:03 \. 10\.0\.0\.3, "tapbbbbbbbbbbb" \. fa:16:3e:00:00:04 \. 10\.0\.0\.4 \} \}/);
  assert.match(text, /"tapccccccccbbb" \. fa:16:3e:00:00:05 \. 0\.0\.0\.0/, 'ARP probes allowed');
  assert.match(text, /"tapaaaaaaaabbb" \. fa:16:3e:00:00:03 \. fe80::f816:3eff:fe00:3/);
  // One group: straight to its chain; several: a chain that tries each; none: not in the map (dropped).
  // One group: straight to its chain; several: a chain that tries each; none: not in the map (dropped).
  assert.match(text, /map egress \{ type ifname : verdict; elements = \{ "tapaaaaaaaabbb" : jump sge_11111111222, /);
  assert.match(text, /"tapbbbbbbbbbbb" : jump g_[0-9a-f]{12}_e/);
  assert.ok(!/"tapccccccccbbb" : jump/.test(text));
  assert.match(text, /chain g_[0-9a-f]{12}_i \{\n\s+jump sgi_11111111222\n\s+jump sgi_99999999222\n/);
  assert.match(text, /set sg4_11111111222 \{ type ipv4_addr; flags interval; auto-merge; elements = \{ 10\.0\.0\.3, 10\.0\.0\.0\/30 \} \}/);
  assert.match(text, /set sg6_11111111222 \{ type ipv6_addr; flags interval; auto-merge; elements = \{ 2001:db8::3 \} \}/);
  assert.match(text, /set sg4_99999999222 .*172\.16\.0\.1/);
  assert.match(text, /chain sgi_11111111222 \{\n\s+ether type ip ip saddr @sg4_11111111222 accept\n\s+ether type ip ip saddr @sg4_99999999222 meta l4proto 6 th dport 22 accept\n/);
  // Established first, then the basics, then invalid, then the groups, then drop.
  assert.match(text, /chain ingress \{\n\s+type filter hook forward priority 110; policy accept;\n\s+oifname != @filtered accept\n\s+meta mark & 0x00100000 == 0x00100000 accept\n\s+ether type arp accept\n[^]*meta mark & 0x00200000 == 0x00200000 drop\n\s+oifname vmap @ingress\n\s+drop\n/);
  assert.match(text, /chain prerouting \{\n\s+type filter hook prerouting priority -300; policy accept;\n\s+iifname != @filtered accept\n/);
  // The rule count does not grow with ports.
  const rules = (t: string) => t.split('\n').filter((l) => /^\s{4}\S/.test(l)).length;
  const many = Array.from({ length: 20 }, (_, i) => ({ port: port({ id: `${String(i).padStart(8, '0')}-bbbb-4ccc-8ddd-eeeeeeeeeeee` }), bridge: 'kbr1' }));
  assert.equal(rules(buildHostRuleset({ owner: 'ab', ports: many, securityGroups: groups, bridges: ['kbr1'], zones: new Map() })),
    rules(buildHostRuleset({ owner: 'ab', ports: many.slice(0, 2), securityGroups: groups, bridges: ['kbr1'], zones: new Map() })));
  assert.equal(buildHostRuleset({ owner: 'ab', ports: [], securityGroups: groups, bridges: [], zones: new Map() }), '');
});

test('nft: a port without any IPv4 address has no IPv4 source pair (but may still ask DHCP)', () => {
  const text = buildHostRuleset({ owner: 'ab', ports: [{ port: port({ fixedIps: [] }), bridge: 'kbr1' }], securityGroups: [], bridges: ['kbr1'], zones: new Map() });
  assert.match(text, /set src4 \{ type ifname \. ether_addr \. ipv4_addr; flags interval; \}/);
  assert.match(text, /udp sport 68 udp dport 67 accept\n\s+ether type ip iifname \. ether saddr \. ip saddr != @src4 drop/);
});

test('nft: the apply script replaces both tables in one transaction and deletes the owner\'s tables of other families', () => {
  const script = hostRulesetScript('ab', 'RULES\n');
  assert.equal(script, [
    'table inet kumo_ab', 'delete table inet kumo_ab', 'table bridge kumo_ab', 'delete table bridge kumo_ab', 'table ip kumo_ab', 'delete table ip kumo_ab',
    'table ip6 kumo_ab', 'delete table ip6 kumo_ab', 'table arp kumo_ab', 'delete table arp kumo_ab', 'table netdev kumo_ab', 'delete table netdev kumo_ab', 'RULES', '',
  ].join('\n'));
  assert.ok(hostRulesetScript('ab', '').endsWith('delete table netdev kumo_ab\n'));
});

test('nft: both tables carry a revision marker that changes with the ruleset', () => {
  const input = { owner: 'ab', ports: [{ port: port(), bridge: 'kbr1' }], securityGroups: [], bridges: ['kbr1'], zones: new Map() };
  const text = buildHostRuleset(input);
  const revision = rulesetRevision(text)!;
  assert.match(revision, /^rev_[0-9a-f]{16}$/);
  assert.equal(text.split(`set ${revision} { type ipv4_addr; }`).length, 3, 'one marker in each table');
  assert.match(text, new RegExp(`^table inet kumo_ab \\{\n  set ${revision} `, 'm'));
  assert.match(text, new RegExp(`^table bridge kumo_ab \\{\n  set ${revision} `, 'm'));
  assert.equal(rulesetRevision(buildHostRuleset(input)), revision);
  assert.notEqual(rulesetRevision(buildHostRuleset({ ...input, zones: new Map([['kbr1', 3]]) })), revision);
  assert.equal(rulesetRevision(''), null);
});

test('nft: rulesets with the same frame become one another by element changes; a new frame needs the whole ruleset', () => {
  const groups: SecurityGroupSpec[] = [{ id: SG, memberAddresses: ['10.0.0.3'], rules: [rule({ remoteGroupId: SG })] }, { id: OTHER, memberAddresses: [], rules: [] }];
  const second = port({ id: 'bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee', macAddress: 'fa:16:3e:00:00:04', fixedIps: [{ subnetId: 's', ipAddress: '10.0.0.4' }] });
  const layers = (ports: PortSpec[], members: string[], gs = groups) =>
    buildHostRulesetLayers({ owner: 'ab', ports: ports.map((p) => ({ port: p, bridge: 'kbr1' })), securityGroups: gs.map((g) => (g.id === SG ? { ...g, memberAddresses: members } : g)), bridges: ['kbr1'], zones: new Map([['kbr1', 1]]) })!;
  const one = layers([port()], ['10.0.0.3']);
  const two = layers([port(), second], ['10.0.0.3', '10.0.0.4']);
  assert.equal(one.frame, two.frame);
  assert.equal(rulesetRevision(one.text), rulesetRevision(two.text), 'the marker names the frame');
  assert.equal(elementChangeScript('ab', one, one), '');

  const up = elementChangeScript('ab', one, two)!.trim().split('\n');
  assert.ok(up.every((l) => l.startsWith('add element bridge kumo_ab ') || l.startsWith('flush set bridge kumo_ab ')), up.join('\n'));
  assert.ok(up.includes('add element bridge kumo_ab filtered { "tapbbbbbbbbbbb" }'), up.join('\n'));
  assert.ok(up.includes('add element bridge kumo_ab egress { "tapbbbbbbbbbbb" : jump sge_11111111222 }'), up.join('\n'));
  // The member set (auto-merge) is replaced whole: flush, then every member.
  assert.ok(up.indexOf('flush set bridge kumo_ab sg4_11111111222') < up.indexOf('add element bridge kumo_ab sg4_11111111222 { 10.0.0.3, 10.0.0.4 }'));

  const down = elementChangeScript('ab', two, one)!.trim().split('\n');
  assert.ok(down.includes('delete element bridge kumo_ab filtered { "tapbbbbbbbbbbb" }'), down.join('\n'));
  assert.ok(down.includes('delete element bridge kumo_ab egress { "tapbbbbbbbbbbb" }'), 'map elements are deleted by key');
  const firstAdd = down.findIndex((l) => l.startsWith('add'));
  assert.ok(down.slice(firstAdd).every((l) => l.startsWith('add')), 'deletes first');

  // A port moving to another group: same key, new verdict.
  const moved = elementChangeScript('ab', one, layers([port({ securityGroupIds: [SG, OTHER] })], ['10.0.0.3']));
  assert.equal(moved, null, 'a new combination of groups is a new chain: a new frame');
  assert.equal(elementChangeScript('ab', one, layers([port()], ['10.0.0.3'], [{ ...groups[0], rules: [rule({ protocol: 'tcp' })] }])), null, 'new rules change the frame');
});
