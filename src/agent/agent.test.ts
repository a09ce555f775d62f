import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../log.js';
import { ChangeSignal } from '../store/revision.js';
import { startAgent } from './agent.js';
import type { Controller } from './agent.js';

function fakeController() {
  const c = {
    rev: 1,
    seen: [] as number[],
    fail: false,
    concurrent: 0,
    maxConcurrent: 0,
    controller: undefined as unknown as Controller,
  };
  c.controller = {
    name: 'fake',
    revision: async () => c.rev,
    reconcile: async () => {
      c.concurrent++;
      c.maxConcurrent = Math.max(c.maxConcurrent, c.concurrent);
      await new Promise((r) => setTimeout(r, 5));
      c.concurrent--;
      if (c.fail) throw new Error('host said no');
      c.seen.push(c.rev);
    },
  };
  return c;
}

test('reconciles at start, when the revision moves, and never twice at once', async () => {
  const c = fakeController();
  const changes = new ChangeSignal();
  // A poll far in the future: only the start, the change signal and settled() drive it.
  const agent = startAgent({ controllers: [c.controller], logger: createSilentLogger(), pollMs: 60_000, resyncMs: 600_000, changes });
  await agent.settled();
  assert.deepEqual(c.seen, [1]);
  c.rev = 2;
  changes.notify();
  changes.notify();
  await agent.settled();
  assert.equal(c.seen.at(-1), 2);
  assert.equal(c.maxConcurrent, 1);
  const passes = c.seen.length;
  await agent.settled();
  assert.equal(c.seen.length, passes, 'nothing moved: no pass');
  agent.resync();
  await agent.settled();
  assert.equal(c.seen.length, passes + 1, 'resync runs a pass anyway');
  await agent.stop();
});

test('a failing reconcile rejects settled() and is retried until it succeeds', async () => {
  const c = fakeController();
  c.fail = true;
  const agent = startAgent({ controllers: [c.controller], logger: createSilentLogger(), pollMs: 5, resyncMs: 600_000 });
  await assert.rejects(agent.settled(), /host said no/);
  c.fail = false;
  for (let i = 0; i < 200 && c.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(c.seen, [1]);
  await agent.stop();
});

test('settled() after a forced resync waits for a pass that began after it, not one already under way', async () => {
  let world = 'old';
  const observed: string[] = [];
  let release: () => void = () => {};
  const controller: Controller = {
    name: 'slow',
    revision: async () => 1,
    reconcile: async () => {
      const seen = world;
      await new Promise<void>((r) => (release = r));
      observed.push(seen);
    },
  };
  const agent = startAgent({ controllers: [controller], logger: createSilentLogger(), pollMs: 60_000, resyncMs: 600_000 });
  await new Promise((r) => setTimeout(r, 20)); // the first pass has read 'old' and is waiting
  world = 'new';
  agent.resync();
  const settled = agent.settled();
  release();
  await new Promise((r) => setTimeout(r, 20));
  release();
  await settled;
  assert.deepEqual(observed, ['old', 'new']);
  await agent.stop();
});

test('a requeue runs the next pass when due; kicks before then run one only if the revision moved', async () => {
  const c = fakeController();
  let requeueMs = 60_000;
  const controller: Controller = { ...c.controller, reconcile: async () => { await c.controller.reconcile(); return { requeueMs }; } };
  const changes = new ChangeSignal();
  const agent = startAgent({ controllers: [controller], logger: createSilentLogger(), pollMs: 5, resyncMs: 600_000, changes });
  for (let i = 0; i < 200 && c.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(c.seen, [1]);
  // News for someone else, polls: nothing moved and the requeue is a minute away.
  for (let i = 0; i < 5; i++) {
    changes.notify();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(c.seen, [1]);
  c.rev = 2;
  changes.notify();
  for (let i = 0; i < 200 && c.seen.length === 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(c.seen, [1, 2]);
  // A short requeue: passes follow without any news.
  requeueMs = 0;
  agent.resync();
  for (let i = 0; i < 200 && c.seen.length < 6; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(c.seen.length >= 6, `passes: ${c.seen.length}`);
  await agent.stop();
});
