import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouterSpec } from '../types.js';
import { buildRouterInnerBatch, buildRouterRuleset, routerFingerprint, routerRulesetScript } from './router.js';

const router: RouterSpec = {
  id: 'r0000000-0000-4000-8000-000000000000'.replace('r', 'f'),
  interfaces: [{ portId: 'a1a1a1a1-0000-4000-8000-000000000000', networkId: 'net-a', macAddress: 'fa:16:3e:00:00:01', addresses: ['10.0.0.1/24', '2001:db8::1/64'] }],
  gateway: { portId: 'b2b2b2b2-0000-4000-8000-000000000000', networkId: 'ext', macAddress: 'fa:16:3e:00:01:01', addresses: ['203.0.113.5/24'], defaultGateway: '203.0.113.1', enableSnat: true },
  floatingIps: [{ id: 'f', floatingIp: '203.0.113.20', fixedIp: '10.0.0.3' }],
  routes: [{ destination: '172.16.0.0/12', nexthop: '10.0.0.254' }],
};
const mtus = new Map([['net-a', 1450], ['ext', 1500]]);

test('router: addresses, floating IPs on the gateway, default and extra routes', () => {
  assert.equal(buildRouterInnerBatch(router, mtus).script(), [
    'link set dev lo up',
    'link set dev qr-a1a1a1a1000 address fa:16:3e:00:00:01 mtu 1450 up',
    'addr flush dev qr-a1a1a1a1000',
    'addr add 10.0.0.1/24 dev qr-a1a1a1a1000',
    'addr add 2001:db8::1/64 dev qr-a1a1a1a1000 nodad',
    'link set dev qg-b2b2b2b2000 address fa:16:3e:00:01:01 mtu 1500 up',
    'addr flush dev qg-b2b2b2b2000',
    'addr add 203.0.113.5/24 dev qg-b2b2b2b2000',
    'addr add 203.0.113.20/32 dev qg-b2b2b2b2000',
    'route flush proto static',
    'route replace default via 203.0.113.1 dev qg-b2b2b2b2000 proto static',
    'route replace 172.16.0.0/12 via 10.0.0.254 proto static',
    '',
  ].join('\n'));
});

test('router: DNAT floating→fixed, SNAT fixed→floating before the gateway SNAT', () => {
  const text = buildRouterRuleset('ab', router);
  assert.match(text, /^table ip kumo_ab \{/);
  assert.match(text, /chain prerouting \{\n\s+type nat hook prerouting priority dstnat; policy accept;\n\s+ip daddr 203\.0\.113\.20 dnat to 10\.0\.0\.3\n/);
  assert.match(text, /chain postrouting \{\n[^\n]+\n\s+oifname "qg-b2b2b2b2000" ip saddr 10\.0\.0\.3 snat to 203\.0\.113\.20\n\s+oifname "qg-b2b2b2b2000" snat to 203\.0\.113\.5\n/);
  const noSnat = buildRouterRuleset('ab', { ...router, gateway: { ...router.gateway!, enableSnat: false } });
  assert.ok(!noSnat.includes('snat to 203.0.113.5'));
  assert.ok(noSnat.includes('snat to 203.0.113.20'));
  assert.equal(buildRouterRuleset('ab', { ...router, gateway: null }), '');
  assert.equal(routerRulesetScript('ab', ''), 'table ip kumo_ab\ndelete table ip kumo_ab\n');
});

test('router: the fingerprint changes with anything applied inside the namespace', () => {
  const fp = routerFingerprint('ab', router, mtus);
  assert.equal(routerFingerprint('ab', router, mtus), fp);
  assert.notEqual(routerFingerprint('ab', { ...router, floatingIps: [] }, mtus), fp);
  assert.notEqual(routerFingerprint('ab', { ...router, routes: [] }, mtus), fp);
  assert.notEqual(routerFingerprint('ab', router, new Map([['net-a', 1400], ['ext', 1500]])), fp);
});
