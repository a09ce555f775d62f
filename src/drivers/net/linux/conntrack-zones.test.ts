import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignZones } from './conntrack-zones.js';

test('zones: kept while the network lives, unique, in 1..65535, deterministic for new networks', () => {
  const first = assignZones({}, ['n1', 'n2', 'n3'], 'own');
  assert.equal(new Set(first.values()).size, 3);
  for (const z of first.values()) assert.ok(z >= 1 && z <= 65535);
  assert.deepEqual(assignZones({}, ['n3', 'n1', 'n2'], 'own'), first);
  const kept = assignZones(Object.fromEntries(first), ['n2', 'n4'], 'own');
  assert.equal(kept.get('n2'), first.get('n2'));
  assert.ok(!kept.has('n1'));
  assert.notEqual(kept.get('n4'), kept.get('n2'));
  // A stored duplicate (hand-edited file) is not kept twice.
  const dup = assignZones({ a: 7, b: 7 }, ['a', 'b'], 'own');
  assert.equal(dup.get('a'), 7);
  assert.notEqual(dup.get('b'), 7);
});
