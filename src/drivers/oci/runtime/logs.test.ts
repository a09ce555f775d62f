import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimeNs, parseK8sLog, parseTimeNs, renderLogs } from './logs.js';

const LOG = [
  '2026-11-30T23:52:04.000000001+01:00 stdout F one',
  '2026-11-30T23:52:05.000000000+01:00 stderr F two',
  '2026-11-30T23:52:06.000000000+01:00 stdout P par',
  '2026-11-30T23:52:06.500000000+01:00 stdout P ti',
  '2026-11-30T23:52:07.000000000+01:00 stdout F al',
  '2026-11-30T23:52:08.000000000+01:00 stdout F ',
  'garbage line',
  '2026-11-30T23:52:09.000000000+01:00 stderr P unfinished',
].join('\n');
const all = { stdout: true, stderr: true, tail: null, since: null, timestamps: false };

test('logs: k8s-file records become lines; partial records join; empty lines stay', () => {
  const lines = parseK8sLog(LOG);
  assert.deepEqual(lines.map((l) => `${l.stream}:${l.text}`), ['stdout:one', 'stderr:two', 'stdout:partial', 'stdout:', 'stderr:unfinished']);
  assert.equal(renderLogs(lines, all), 'one\ntwo\npartial\n\nunfinished\n');
});

test('logs: stream selection, tail, since (any offset), timestamps in UTC with nine digits', () => {
  const lines = parseK8sLog(LOG);
  assert.equal(renderLogs(lines, { ...all, stderr: false }), 'one\npartial\n\n');
  assert.equal(renderLogs(lines, { ...all, stdout: false }), 'two\nunfinished\n');
  assert.equal(renderLogs(lines, { ...all, tail: 2 }), '\nunfinished\n');
  assert.equal(renderLogs(lines, { ...all, tail: 0 }), '');
  assert.equal(renderLogs(lines, { ...all, since: '2026-11-30T22:52:05Z' }), 'two\npartial\n\nunfinished\n');
  assert.equal(renderLogs(lines, { ...all, since: '2026-11-30T22:52:04.000000002Z' }), 'two\npartial\n\nunfinished\n', 'nanosecond precision');
  assert.equal(renderLogs(lines, { ...all, tail: 1, stdout: false, timestamps: true }), '2026-11-30T22:52:09.000000000Z unfinished\n');
  assert.equal(renderLogs(lines, { ...all, timestamps: true }).split('\n')[0], '2026-11-30T22:52:04.000000001Z one');
});

test('logs: times parse with or without zone and fraction', () => {
  assert.equal(parseTimeNs('1970-01-01T00:00:01Z'), 1_000_000_000n);
  assert.equal(parseTimeNs('1970-01-01T01:00:01.5+01:00'), 1_500_000_000n);
  assert.equal(parseTimeNs('1970-01-01 00:00:00'), 0n);
  assert.equal(parseTimeNs('yesterday'), null);
  assert.equal(formatTimeNs(1_500_000_007n), '1970-01-01T00:00:01.500000007Z');
});
