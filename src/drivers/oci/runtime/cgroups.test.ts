import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupDir, memoryInUse, parseKeyValues, parseMemoryLimit, readOomKilled, readPids, readStats } from './cgroups.js';

const CG = '/kumo/ab12-x';

function tree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'kumo-cgroup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return root;
}

test('cgroups v1: per-controller dirs; stats, OOM and pids read from them', async (t) => {
  const root = tree(t, {
    [`cpuacct${CG}/cpuacct.usage`]: '123456789\n',
    [`memory${CG}/memory.usage_in_bytes`]: '10485760\n',
    [`memory${CG}/memory.stat`]: 'cache 100\ntotal_inactive_file 1048576\n',
    [`memory${CG}/memory.limit_in_bytes`]: '9223372036854771712\n',
    [`memory${CG}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    [`pids${CG}/pids.current`]: '3\n',
    [`pids${CG}/cgroup.procs`]: '10\n11\n12\n',
  });
  const host = { root, v2: false, swapLimit: true };
  assert.equal(cgroupDir(host, 'memory', CG), path.join(root, 'memory', CG));
  assert.deepEqual(await readStats(host, CG), { cpuNanos: 123456789, memoryBytes: 9437184, memoryLimitBytes: null, pids: 3 });
  assert.equal(await readOomKilled(host, CG), true);
  assert.equal(await readOomKilled(host, '/kumo/gone'), null);
  assert.deepEqual(await readPids(host, CG), [10, 11, 12]);
});

test('cgroups v2: one dir; usage_usec, memory.current/max, memory.events oom_kill', async (t) => {
  const root = tree(t, {
    [`${CG}/cpu.stat`]: 'usage_usec 2000\nuser_usec 1000\n',
    [`${CG}/memory.current`]: '4096\n',
    [`${CG}/memory.stat`]: 'inactive_file 1024\n',
    [`${CG}/memory.max`]: '16777216\n',
    [`${CG}/memory.events`]: 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 0\n',
    [`${CG}/pids.current`]: '1\n',
  });
  const host = { root, v2: true, swapLimit: true };
  assert.deepEqual(await readStats(host, CG), { cpuNanos: 2_000_000, memoryBytes: 3072, memoryLimitBytes: 16777216, pids: 1 });
  assert.equal(await readOomKilled(host, CG), false);
  assert.equal(parseMemoryLimit('max\n'), null);
  assert.equal(memoryInUse(100n, parseKeyValues('total_inactive_file 500'), false), 100n, 'never below zero');
});
