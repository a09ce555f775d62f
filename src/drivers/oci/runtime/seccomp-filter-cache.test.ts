import assert from 'node:assert/strict';
import test from 'node:test';
import { createSeccompFilterCache, isSeccompFilter, seccompProfileKey } from './seccomp-filter-cache.js';
import { defaultSeccompProfile } from './spec.js';

test('seccomp filter cache: a learnt filter is found for an equal profile and not for another', () => {
  const cache = createSeccompFilterCache();
  const profile = defaultSeccompProfile('x64');
  assert.equal(cache.lookup(profile), null);
  const filter = Buffer.alloc(988 * 8, 7);
  assert.equal(cache.learn(profile, filter), true);
  assert.equal(cache.lookup(JSON.parse(JSON.stringify(profile))), filter.toString('base64'));
  assert.equal(cache.lookup({ ...profile, defaultAction: 'SCMP_ACT_ALLOW' }), null);
  assert.equal(seccompProfileKey(profile), seccompProfileKey(defaultSeccompProfile('x64')));
  assert.notEqual(seccompProfileKey(profile), seccompProfileKey(defaultSeccompProfile('arm64')));
});

test('seccomp filter cache: only whole BPF programs within the kernel limit are kept', () => {
  const cache = createSeccompFilterCache();
  for (const bad of [Buffer.alloc(0), Buffer.alloc(13), Buffer.alloc(4097 * 8)]) {
    assert.equal(isSeccompFilter(bad), false);
    assert.equal(cache.learn({ p: bad.length }, bad), false);
    assert.equal(cache.lookup({ p: bad.length }), null);
  }
  assert.equal(isSeccompFilter(Buffer.alloc(4096 * 8)), true);
});

test('seccomp filter cache: bounded, the oldest profile goes first', () => {
  const cache = createSeccompFilterCache(2);
  for (const n of [1, 2, 3]) cache.learn({ n }, Buffer.alloc(8, n));
  assert.equal(cache.lookup({ n: 1 }), null);
  assert.equal(cache.lookup({ n: 2 }), Buffer.alloc(8, 2).toString('base64'));
  assert.equal(cache.lookup({ n: 3 }), Buffer.alloc(8, 3).toString('base64'));
});
