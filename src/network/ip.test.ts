import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bigIntToIp, cidrContains, cidrsOverlap, formatCidr, hostRange, ipToBigInt, parseCidr } from './ip.js';

test('ip: v4 and v6 round trips, RFC 5952 compression', () => {
  assert.equal(bigIntToIp(ipToBigInt('10.0.0.1'), 4), '10.0.0.1');
  assert.equal(bigIntToIp(ipToBigInt('2001:db8:0:0:0:0:0:1'), 6), '2001:db8::1');
  assert.equal(bigIntToIp(ipToBigInt('fe80::'), 6), 'fe80::');
  assert.equal(bigIntToIp(ipToBigInt('::ffff:1.2.3.4'), 6), '::ffff:102:304');
  assert.equal(bigIntToIp(ipToBigInt('2001:0:0:1:0:0:0:1'), 6), '2001:0:0:1::1');
});

test('ip: CIDR parsing, containment, overlap and host ranges', () => {
  const c = parseCidr('10.0.0.7/24')!;
  assert.equal(formatCidr(c), '10.0.0.0/24');
  assert.ok(cidrContains(c, '10.0.0.255'));
  assert.ok(!cidrContains(c, '10.0.1.0'));
  assert.ok(!cidrContains(c, '::1'));
  assert.deepEqual(hostRange(c).map((n) => bigIntToIp(n, 4)), ['10.0.0.1', '10.0.0.254']);
  assert.ok(cidrsOverlap(c, parseCidr('10.0.0.128/25')!));
  assert.ok(!cidrsOverlap(c, parseCidr('10.0.1.0/24')!));
  assert.equal(formatCidr(parseCidr('2001:db8::5/64')!), '2001:db8::/64');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '300.0.0.0/8', 'abc/8', '::/129']) assert.equal(parseCidr(bad), undefined, bad);
});
