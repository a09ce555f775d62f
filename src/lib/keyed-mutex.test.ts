import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyedMutex } from './keyed-mutex.js';

test('keyedMutex: one key runs one at a time in call order, a failure does not stop the next; other keys do not wait', async () => {
  const withLock = keyedMutex();
  const events: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const first = withLock('a', async () => { events.push('a1 start'); await gate; events.push('a1 end'); throw new Error('boom'); });
  const second = withLock('a', async () => { events.push('a2'); return 2; });
  const other = withLock('b', async () => { events.push('b'); return 'b'; });
  assert.equal(await other, 'b');
  release();
  await assert.rejects(first, /boom/);
  assert.equal(await second, 2);
  assert.deepEqual(events, ['a1 start', 'b', 'a1 end', 'a2']);
});
