import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchFailures, batchOutcome, CommandBatch, runBatch } from './command-batch.js';

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

test('batch: an exit that names its argument fails only that line, and the lines after it run again', async () => {
  const b = new CommandBatch();
  b.add('port-1', ['link', 'add', 'name', 'eth0', 'netns', 'ns-1', 'type', 'veth', 'peer', 'name', 'tap1']);
  b.add('port-2', ['link', 'add', 'name', 'eth0', 'netns', 'ns-2', 'type', 'veth', 'peer', 'name', 'tap2']);
  b.add('port-3', ['link', 'add', 'name', 'eth0', 'netns', 'ns-3', 'type', 'veth', 'peer', 'name', 'tap3']);
  b.add('port-4', ['link', 'set', 'dev', 'tap4', 'up']);
  const stderr = 'Error: argument "ns-2" is wrong: Invalid "netns" value\n';
  const outcome = batchOutcome(b.lines, { code: 255, stdout: '', stderr });
  assert.deepEqual([...outcome.failures.keys()], ['port-2']);
  assert.equal(outcome.resumeAt, 2);

  const scripts: string[] = [];
  const { failures, runs } = await runBatch(b.lines, async (script) => {
    scripts.push(script);
    // The first run stops at ns-2; the second at line 2 of its own script ("tap4" missing, -force goes on).
    return scripts.length === 1
      ? { code: 255, stdout: '', stderr }
      : { code: 1, stdout: '', stderr: 'Cannot find device "tap4"\nCommand failed -:2\n' };
  });
  assert.equal(runs, 2);
  assert.equal(scripts[1], b.lines.slice(2).map((l) => l.args.join(' ') + '\n').join(''));
  assert.deepEqual([...failures.keys()].sort(), ['port-2', 'port-4']);
  assert.match(failures.get('port-4')!, /tap4/);
});
