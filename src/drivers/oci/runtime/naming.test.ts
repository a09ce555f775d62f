import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupsPath, containerPaths, isValidOwner, netnsName, parseRuncId, runcId, stateLayout } from './naming.js';

const ID = '3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab';

test('naming: runc id, cgroup and namespace carry owner and UUID; only this owner\'s ids parse back', () => {
  assert.equal(runcId('ab12', ID), `ab12-${ID}`);
  assert.equal(parseRuncId('ab12', runcId('ab12', ID)), ID);
  assert.equal(parseRuncId('ab12', runcId('ab123', ID)), null);
  assert.equal(parseRuncId('ab1', runcId('ab12', ID)), null, 'a prefix of another owner is not ours');
  assert.equal(parseRuncId('ab12', 'ab12-not-a-uuid'), null);
  assert.equal(cgroupsPath('ab12', ID), `/kumo/ab12-${ID}`);
  assert.equal(netnsName('ab12', ID), `kumo-ctr-ab12-${ID}`);
  assert.ok(Buffer.byteLength(netnsName('abcdefgh', ID)) < 255);
  assert.ok(isValidOwner('ab12') && !isValidOwner('AB') && !isValidOwner('') && !isValidOwner('toolongowner'));
});

test('naming: every file of a container lives under the state dir; the log outside the bundle', () => {
  const layout = stateLayout('/var/lib/kumo/oci/../oci');
  const p = containerPaths(layout, 'ab12', ID);
  for (const f of Object.values(p)) assert.ok(f.startsWith('/var/lib/kumo/oci/'), f);
  assert.equal(p.exitFile, `/var/lib/kumo/oci/exits/ab12-${ID}`);
  assert.ok(!p.logFile.startsWith(p.bundle), 'delete removes the bundle but keeps logs');
  assert.equal(layout.runcRoot, '/var/lib/kumo/oci/runc');
});
