import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KumoError } from '../errors.js';
import { writeCheckedStream } from './checked-stream.js';

async function* chunks(data: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** 3 MiB + 100 bytes: data, a long run of zeroes, data again across chunk and stage boundaries, a zero tail. */
function sample(): Buffer {
  const data = Buffer.alloc(3 * 1024 * 1024 + 100);
  data.fill(7, 0, 5000);
  data.fill(9, 2 * 1024 * 1024 - 10, 2 * 1024 * 1024 + 4000);
  return data;
}

test('writeCheckedStream: the same bytes, with the runs of zero blocks left as holes', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-stream-'));
  try {
    const data = sample();
    const file = path.join(dir, 'out');
    const sha = createHash('sha256').update(data).digest('hex');
    const n = await writeCheckedStream(file, chunks(data, 65_537), { sizeBytes: data.length, hash: { algorithm: 'sha256', hex: sha.toUpperCase() } }, 'image x');
    assert.equal(n, data.length);
    assert.ok((await readFile(file)).equals(data));
    // Two short runs of data: a few blocks allocated, not 3 MiB.
    assert.ok((await stat(file)).blocks * 512 < 256 * 1024, `allocated ${(await stat(file)).blocks * 512}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeCheckedStream: a wrong size or digest, or a stream past its limit, is ERR_BAD_REQUEST', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-stream-'));
  try {
    const data = sample();
    const file = path.join(dir, 'out');
    const bad = (m: RegExp) => (err: unknown) => err instanceof KumoError && err.code === 'ERR_BAD_REQUEST' && m.test(err.message);
    await assert.rejects(writeCheckedStream(file, chunks(data, 4096), { hash: { algorithm: 'md5', hex: '00' } }, 'image x'), bad(/md5 digest does not match/));
    await assert.rejects(writeCheckedStream(file, chunks(data, 4096), { sizeBytes: data.length + 1 }, 'image x'), bad(/got \d+ bytes, expected/));
    await assert.rejects(writeCheckedStream(file, chunks(data, 4096), { sizeBytes: 10 }, 'image x'), bad(/more than the expected 10 bytes/));
    await assert.rejects(writeCheckedStream(file, chunks(data, 4096), {}, 'image x', { limitBytes: 1024 * 1024 }), bad(/larger than 1048576 bytes/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
