import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listRuncIds, parseProcStat, readRuncState } from './runc-state.js';

test('parseProcStat: state and start time, with a command name holding spaces and parentheses', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[19] = '123456';
  assert.deepEqual(parseProcStat(`42 (my (odd) name) ${fields.join(' ')}\n`), { state: 'S', startTime: '123456' });
  assert.equal(parseProcStat('42 (short) S 1 2'), null);
  assert.equal(parseProcStat('garbage'), null);
});

test('readRuncState: created, running, paused and stopped as runc decides them; null without state', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-runc-state-'));
  try {
    const root = path.join(dir, 'root');
    const proc = path.join(dir, 'proc');
    const freezer = path.join(dir, 'freezer');
    await mkdir(path.join(root, 'c1'), { recursive: true });
    await mkdir(path.join(proc, '4242'), { recursive: true });
    await mkdir(freezer, { recursive: true });
    const stat = (state: string, start: string) => `4242 (sleep) ${state} ${Array.from({ length: 18 }, () => '0').join(' ')} ${start} 0 0\n`;
    const state = (start: number | string) => JSON.stringify({
      id: 'c1', init_process_pid: 4242, init_process_start: start, created: '2026-12-01T00:00:00Z',
      cgroup_paths: { freezer }, config: { labels: ['bundle=/b/c1', 'kumo.owner=ab12'] },
    });
    await writeFile(path.join(root, 'c1', 'state.json'), state(777));
    await writeFile(path.join(proc, '4242', 'stat'), stat('S', '777'));
    await writeFile(path.join(root, 'c1', 'exec.fifo'), '');
    const created = await readRuncState(root, 'c1', proc);
    assert.deepEqual(created, { id: 'c1', bundle: '/b/c1', created: '2026-12-01T00:00:00Z', annotations: { 'kumo.owner': 'ab12' }, pid: 4242, status: 'created' });
    await rm(path.join(root, 'c1', 'exec.fifo'));
    assert.equal((await readRuncState(root, 'c1', proc))?.status, 'running');
    await writeFile(path.join(freezer, 'freezer.state'), 'FROZEN\n');
    assert.equal((await readRuncState(root, 'c1', proc))?.status, 'paused');
    await writeFile(path.join(freezer, 'freezer.state'), 'THAWED\n');
    // Same pid, another process (a different start time): the container's own process is gone.
    await writeFile(path.join(proc, '4242', 'stat'), stat('S', '778'));
    assert.deepEqual(await readRuncState(root, 'c1', proc).then((s) => [s?.status, s?.pid]), ['stopped', 0]);
    await writeFile(path.join(proc, '4242', 'stat'), stat('Z', '777'));
    assert.equal((await readRuncState(root, 'c1', proc))?.status, 'stopped', 'a zombie is stopped');
    await rm(path.join(proc, '4242'), { recursive: true });
    assert.equal((await readRuncState(root, 'c1', proc))?.status, 'stopped');
    assert.equal(await readRuncState(root, 'nope', proc), null);
    assert.deepEqual(await listRuncIds(root), ['c1']);
    assert.deepEqual(await listRuncIds(path.join(dir, 'missing')), []);
    await writeFile(path.join(root, 'c1', 'state.json'), JSON.stringify({ id: 'c1' }));
    await assert.rejects(readRuncState(root, 'c1', proc), /unexpected runc state file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
