import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, linkLocalFromMac, netmaskV4, nftAddress, parseCidr } from './ipaddr.js';

test('ipaddr: CIDRs are normalised, host prefixes become bare addresses', () => {
  assert.deepEqual(parseCidr('10.0.0.7/24'), { version: 4, network: '10.0.0.0', prefix: 24 });
  assert.deepEqual(parseCidr('10.0.0.7'), { version: 4, network: '10.0.0.7', prefix: 32 });
  assert.deepEqual(parseCidr('2001:db8::5/64'), { version: 6, network: '2001:db8::', prefix: 64 });
  assert.equal(nftAddress(parseCidr('10.0.0.7/32')!), '10.0.0.7');
  assert.equal(nftAddress(parseCidr('10.1.2.3/16')!), '10.1.0.0/16');
  assert.equal(nftAddress(parseCidr('2001:db8::1')!), '2001:db8::1');
  for (const bad of ['10.0.0.0/33', 'x/8', '::/129', '1.2.3.4/8/1', '10.0.0.0/']) assert.equal(parseCidr(bad), null, bad);
  assert.ok(cidrContains(parseCidr('10.0.0.0/24')!, '10.0.0.200'));
  assert.ok(!cidrContains(parseCidr('10.0.0.0/24')!, '10.0.1.1'));
  assert.ok(!cidrContains(parseCidr('10.0.0.0/24')!, '::1'));
});

test('ipaddr: netmasks and the EUI-64 link-local address of a MAC', () => {
  assert.equal(netmaskV4(24), '255.255.255.0');
  assert.equal(netmaskV4(0), '0.0.0.0');
  assert.equal(netmaskV4(32), '255.255.255.255');
  assert.equal(linkLocalFromMac('fa:16:3e:00:00:04'), 'fe80::f816:3eff:fe00:4');
  assert.equal(linkLocalFromMac('02:00:00:00:00:01'), 'fe80::ff:fe00:1');
});
