import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCpuTime, formatStartTime, formatTopRow, parseBootTime, parseProcStat, parseStatusUid, ttyName } from './top.js';

const STAT = '4242 (sleep (odd) name) S 4200 4242 4242 34816 4242 4194560 100 0 0 0 250 50 0 0 20 0 1 0 360000 1000000 100 18446744073709551615';

test('top: /proc/<pid>/stat parses even with parentheses in the name', () => {
  assert.deepEqual(parseProcStat(STAT), { pid: 4242, comm: 'sleep (odd) name', ppid: 4200, ttyNr: 34816, cpuTicks: 300, startTicks: 360000 });
  assert.equal(parseProcStat('garbage'), null);
  assert.equal(parseStatusUid('Name:\tsleep\nUid:\t1000\t1000\t1000\t1000\n'), 1000);
  assert.equal(parseBootTime('cpu 1 2 3\nbtime 1700000000\n'), 1_700_000_000_000);
});

test('top: rows as ps -ef prints them', () => {
  const bootMs = Date.UTC(2026, 10, 30, 0, 0, 0);
  const now = new Date(bootMs + 7200_000);
  const row = formatTopRow({ stat: parseProcStat(STAT)!, uid: 1000, cmdline: ['sleep', '3600'] }, { bootMs, now }, (uid) => (uid === 1000 ? 'app' : String(uid)));
  const started = new Date(bootMs + 3600_000);
  assert.deepEqual(row, ['app', '4242', '4200', '0', `${String(started.getHours()).padStart(2, '0')}:${String(started.getMinutes()).padStart(2, '0')}`, 'pts/0', '00:00:03', 'sleep 3600']);
  const kthread = formatTopRow({ stat: parseProcStat(STAT)!, uid: 0, cmdline: [] }, { bootMs, now }, String);
  assert.equal(kthread[7], '[sleep (odd) name]');
  assert.equal(ttyName(0), '?');
  assert.equal(ttyName((136 << 8) | 3), 'pts/3');
  assert.equal(formatCpuTime(90_061), '1-01:01:01');
  assert.equal(formatStartTime(new Date(2025, 0, 5), new Date(2026, 0, 5)), '2025');
  assert.equal(formatStartTime(new Date(2026, 2, 5), new Date(2026, 5, 5)), 'Mar05');
});
