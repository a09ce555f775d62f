import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PortSpec, SecurityGroupRuleSpec, SecurityGroupSpec } from '../types.js';
import { allowedSources, buildHostRuleset, CT_MARK, hostRulesetScript, protocolNumber, securityGroupRule } from './nft-host.js';

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
  assert.equal(protocolNumber('ICMPv6', 6), 58);
  assert.equal(protocolNumber(null, 4), null);
});

test('nft: a port may send from its MACs and addresses, allowed pairs and their link-local addresses', () => {
  const s = allowedSources(port({ allowedAddressPairs: [{ ipAddress: '10.0.5.0/24', macAddress: null }, { ipAddress: '10.0.9.9', macAddress: 'fa:16:3e:99:99:99' }, { ipAddress: '2001:db8::7/128', macAddress: null }] }));
  assert.deepEqual(s.macs, ['fa:16:3e:00:00:03', 'fa:16:3e:99:99:99']);
  assert.deepEqual(s.v4.map((p) => `${p.mac} . ${p.address}`), ['fa:16:3e:00:00:03 . 10.0.0.3', 'fa:16:3e:00:00:03 . 10.0.5.0/24', 'fa:16:3e:99:99:99 . 10.0.9.9']);
  assert.deepEqual(s.v6.map((p) => p.address), ['2001:db8::7', 'fe80::f816:3eff:fe00:3', 'fe80::f816:3eff:fe99:9999']);
});

test('nft: the host ruleset has an inet table for conntrack and a bridge table dispatching by port', () => {
  const groups: SecurityGroupSpec[] = [{ id: SG, memberAddresses: ['10.0.0.3', '10.0.0.0/30', '2001:db8::3'], rules: [
    rule({ direction: 'egress' }),
    rule({ remoteGroupId: SG }),
    rule({ protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteGroupId: OTHER }),
  ] }, { id: OTHER, memberAddresses: ['172.16.0.1'], rules: [] }];
  const text = buildHostRuleset({ owner: 'ab', ports: [{ port: port(), bridge: 'kbr1' }], securityGroups: groups, bridges: ['kbr1'], zones: new Map([['kbr1', 42], ['kbr9', 43]]) });
  assert.match(text, /^table inet kumo_ab \{/);
  assert.match(text, /ct zone set iifname map \{ "kbr1" : 42 \}/);
  assert.ok(!text.includes('kbr9'), 'zones only for bridges with filtered ports');
  assert.match(text, /iifname != \{ "kbr1" \} return/);
  assert.ok(text.includes(`meta mark set meta mark | 0x${CT_MARK.established.toString(16).padStart(8, '0')}`));
  assert.match(text, /table bridge kumo_ab \{/);
  assert.match(text, /type filter hook prerouting priority -300; policy accept;\n\s+iifname vmap \{ "tapaaaaaaaabbb" : jump as_aaaaaaaabbb \}/);
  assert.match(text, /hook forward priority 100;[^\n]*\n\s+iifname vmap \{ "tapaaaaaaaabbb" : jump eg_aaaaaaaabbb \}/);
  assert.match(text, /hook forward priority 110;[^\n]*\n\s+oifname vmap \{ "tapaaaaaaaabbb" : jump in_aaaaaaaabbb \}/);
  assert.match(text, /set sg4_11111111222 \{ type ipv4_addr; flags interval; auto-merge; elements = \{ 10\.0\.0\.3, 10\.0\.0\.0\/30 \} \}/);
  assert.match(text, /set sg6_11111111222 \{ type ipv6_addr; flags interval; auto-merge; elements = \{ 2001:db8::3 \} \}/);
  assert.match(text, /set sg4_99999999222 .*172\.16\.0\.1/);
  assert.match(text, /chain in_aaaaaaaabbb \{\n\s+meta mark & 0x00100000 == 0x00100000 accept\n/);
  assert.match(text, /meta mark & 0x00200000 == 0x00200000 drop\n\s+jump sgi_11111111222\n\s+drop\n  \}/);
  assert.match(text, /chain sgi_11111111222 \{\n\s+ether type ip ip saddr @sg4_11111111222 accept\n\s+ether type ip ip saddr @sg4_99999999222 meta l4proto 6 th dport 22 accept\n/);
  assert.match(text, /ether type ip ether saddr \. ip saddr != \{ fa:16:3e:00:00:03 \. 10\.0\.0\.3 \} drop/);
  assert.equal(buildHostRuleset({ owner: 'ab', ports: [], securityGroups: groups, bridges: [], zones: new Map() }), '');
});

test('nft: a port without any IPv4 address may not send IPv4 at all (but may ask DHCP)', () => {
  const text = buildHostRuleset({ owner: 'ab', ports: [{ port: port({ fixedIps: [] }), bridge: 'kbr1' }], securityGroups: [], bridges: ['kbr1'], zones: new Map() });
  assert.match(text, /udp sport 68 udp dport 67 return\n\s+ether type ip drop\n/);
  assert.match(text, /chain eg_aaaaaaaabbb \{\n\s+meta mark & 0x00100000 == 0x00100000 accept\n\s+ether type arp accept\n\s+udp sport 68 udp dport 67 accept\n/);
});

test('nft: the apply script replaces both tables in one transaction and deletes leftovers', () => {
  assert.equal(hostRulesetScript('ab', 'RULES\n', ['ip', 'inet']),
    'table inet kumo_ab\ndelete table inet kumo_ab\ntable bridge kumo_ab\ndelete table bridge kumo_ab\ndelete table ip kumo_ab\nRULES\n');
  assert.equal(hostRulesetScript('ab', '', ['inet', 'bridge']), 'delete table inet kumo_ab\ndelete table bridge kumo_ab\n');
});
