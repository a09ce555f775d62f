import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCapability, nofileLimit, parseNofileHard } from './host-limits.js';

const LIMITS = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';

test('open-files limit: Docker\'s 1048576 with CAP_SYS_RESOURCE, else the inherited hard limit', () => {
  assert.equal(parseNofileHard(LIMITS), 20000);
  assert.equal(hasCapability('CapEff:\t000001ffffffffff\n', 24n), true);
  assert.equal(hasCapability('CapEff:\t000001fffeffffff\n', 24n), false);
  assert.equal(nofileLimit(LIMITS, 'CapEff:\t000001ffffffffff\n'), 1_048_576);
  assert.equal(nofileLimit(LIMITS, 'CapEff:\t000001fffeffffff\n'), 20000);
  assert.equal(nofileLimit('Max open files unlimited unlimited files\n', 'CapEff:\t0\n'), 1_048_576);
  assert.equal(nofileLimit('', ''), 1024);
});
