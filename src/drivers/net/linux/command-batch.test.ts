import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchFailures, CommandBatch } from './command-batch.js';

function batch(): CommandBatch {
  const b = new CommandBatch();
  b.add('net-1', ['link', 'add', 'kbr1', 'type', 'bridge']);
  b.add('port-1', ['link', 'del', 'dev', 'tap1'], { ignoreMissing: true });
  b.add('port-2', ['link', 'set', 'dev', 'tap2', 'up']);
  b.add('port-3', ['link', 'set', 'dev', 'tap3', 'up']);
  return b;
}

test('batch: one command per line; unsafe tokens are refused', () => {
  assert.equal(batch().script(), 'link add kbr1 type bridge\nlink del dev tap1\nlink set dev tap2 up\nlink set dev tap3 up\n');
  assert.throws(() => new CommandBatch().add('x', ['link', 'set', 'dev', 'a b']));
  assert.throws(() => new CommandBatch().add('x', ['link', 'set', 'dev', 'a"b']));
  assert.throws(() => new CommandBatch().add('x', ['addr', '#']));
  assert.deepEqual(batch().without(new Set(['port-2', 'port-3'])).lines.map((l) => l.resourceId), ['net-1', 'port-1']);
});

test('batch: "Command failed -:N" lines fail the resource of line N; gone objects of deletes are fine', () => {
  const b = batch();
  const stderr = 'RTNETLINK answers: File exists\nCommand failed -:1\nCannot find device "tap1"\nCommand failed -:2\nRTNETLINK answers: Invalid argument\nCommand failed -:4\n';
  const failures = batchFailures(b.lines, { code: 1, stdout: '', stderr });
  assert.deepEqual([...failures.keys()], ['net-1', 'port-3']);
  assert.match(failures.get('net-1')!, /File exists/);
  assert.equal(batchFailures(b.lines, { code: 0, stdout: '', stderr: 'noise' }).size, 0);
  // A veth end that went with its peer between the host read and the delete.
  assert.equal(batchFailures(b.lines, { code: 1, stdout: '', stderr: 'RTNETLINK answers: No such device\nCommand failed -:2\n' }).size, 0);
});

test('batch: an iproute2 exit without line number fails everything after the last reported line', () => {
  const b = batch();
  const stderr = 'RTNETLINK answers: File exists\nCommand failed -:1\nError: argument "kbr9" is wrong: Device does not exist\n';
  const failures = batchFailures(b.lines, { code: 255, stdout: '', stderr });
  assert.deepEqual([...failures.keys()].sort(), ['net-1', 'port-1', 'port-2', 'port-3']);
  assert.match(failures.get('port-3')!, /batch stopped: Error: argument "kbr9"/);
  const silent = batchFailures(b.lines, { code: 137, stdout: '', stderr: '' });
  assert.equal(silent.size, 4);
});
