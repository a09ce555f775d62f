import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollingPool } from './rolling-pool.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('rollingPool: rows that arrive while others work are taken by a free worker in the same pass; waiting rows come back when ready', async () => {
  const arrivals: { uuid: string }[] = [];
  const done: string[] = [];
  let running = 0;
  let maxRunning = 0;
  let ready = false;
  const listeners = new Set<() => void>();
  const waitingOnce = new Set(['w']);
  const work = async (row: { uuid: string }) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await tick(row.uuid === 'slow' ? 120 : 5);
    running--;
    if (waitingOnce.delete(row.uuid)) return true;
    done.push(row.uuid);
    return false;
  };
  const pool = rollingPool({
    initial: [{ uuid: 'slow' }, { uuid: 'w' }, { uuid: 'a' }],
    limit: 2,
    keyOf: (r) => r.uuid,
    work,
    more: async (taken) => arrivals.splice(0).filter((r) => !taken.has(r.uuid)),
    recheck: async (waiting) => (ready ? [...waiting] : []),
    subscribe: (wake) => {
      listeners.add(wake);
      return () => listeners.delete(wake);
    },
  });
  await tick(20);
  // While 'slow' still runs: a new row, and the network is ready for 'w'.
  arrivals.push({ uuid: 'late' }, { uuid: 'a' });
  ready = true;
  for (const l of listeners) l();
  const stillWaiting = await pool;
  assert.equal(stillWaiting, 0);
  assert.deepEqual(done.sort(), ['a', 'late', 'slow', 'w']);
  assert.ok(done.indexOf('late') < done.indexOf('slow'), 'the late row did not wait for the slow one');
  assert.equal(maxRunning, 2);
  assert.equal(listeners.size, 0, 'unsubscribed');
});

test('rollingPool: a row still waiting at the end is counted, and the pool ends', async () => {
  const left = await rollingPool({ initial: [{ uuid: 'x' }], limit: 4, keyOf: (r) => r.uuid, work: async () => true, more: async () => [], subscribe: () => () => {} });
  assert.equal(left, 1);
});
