import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bridgeName, isValidOwner, linkAlias, namespaceName, nftTableName, parseLinkAlias, parseNamespaceName, parseStateEntry,
  routerGatewayName, routerInterfaceName, shortId, STATE_FILE, tapName, vxlanName,
} from './naming.js';

const ID = '3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab';

test('naming: kind prefix + 11 hex chars, never longer than an interface name may be', () => {
  assert.equal(shortId(ID), '3f2a9c4e1b2');
  for (const name of [bridgeName(ID), vxlanName(ID), tapName(ID), routerInterfaceName(ID), routerGatewayName(ID)]) {
    assert.equal(name.length, 14);
    assert.ok(Buffer.byteLength(name) <= 15);
  }
  assert.equal(bridgeName(ID), 'kbr3f2a9c4e1b2');
  assert.equal(vxlanName(ID), 'kvx3f2a9c4e1b2');
  assert.equal(tapName(ID), 'tap3f2a9c4e1b2');
  assert.equal(routerInterfaceName(ID), 'qr-3f2a9c4e1b2');
  assert.equal(routerGatewayName(ID), 'qg-3f2a9c4e1b2');
  assert.throws(() => shortId('not-a-uuid'));
});

test('naming: ownership round-trips through alias and namespace names; other owners do not parse as ours', () => {
  assert.deepEqual(parseLinkAlias(linkAlias('ab12', ID)), { owner: 'ab12', resourceId: ID });
  assert.equal(parseLinkAlias('kumo:ab12'), null);
  assert.equal(parseLinkAlias(null), null);
  assert.equal(parseLinkAlias(`kumo:UPPER:${ID}`), null);
  const ns = namespaceName('dhcp', 'ab12', ID);
  assert.equal(ns, `kumo-dhcp-ab12-${ID}`);
  assert.deepEqual(parseNamespaceName(ns), { kind: 'dhcp', owner: 'ab12', resourceId: ID });
  assert.deepEqual(parseNamespaceName(namespaceName('router', 'x', ID)), { kind: 'router', owner: 'x', resourceId: ID });
  assert.equal(parseNamespaceName(`kumo-dhcp-${ID}`), null);
  assert.equal(parseNamespaceName('kt-abc'), null);
  assert.equal(nftTableName('ab12'), 'kumo_ab12');
  assert.deepEqual(parseStateEntry(STATE_FILE.dhcpDir(ID)), { kind: 'dhcp', resourceId: ID });
  assert.deepEqual(parseStateEntry(STATE_FILE.routerFile(ID)), { kind: 'router', resourceId: ID });
  assert.equal(parseStateEntry(STATE_FILE.zones), null);
  assert.ok(isValidOwner('a1b2c3d4'));
  for (const bad of ['', 'toolongxx', 'Ab', 'a-b', 'a_b']) assert.ok(!isValidOwner(bad), bad);
});
