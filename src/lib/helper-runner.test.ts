import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCommandRunner, isNotInstalled } from './command-runner.js';
import { createHelperRunner } from './helper-runner.js';

test('helper runner: exit status, stdout, stderr and stdin as the direct runner gives them', async (t) => {
  const runner = createHelperRunner();
  t.after(() => runner.close());
  assert.deepEqual(await runner.run(['sh', '-c', 'echo out; echo err >&2; exit 3']), { code: 3, stdout: 'out\n', stderr: 'err\n' });
  assert.deepEqual(await runner.run(['cat'], { input: 'line one\nline two\n' }), { code: 0, stdout: 'line one\nline two\n', stderr: '' });
  assert.deepEqual(await runner.run(['pwd'], { cwd: '/tmp' }), { code: 0, stdout: '/tmp\n', stderr: '' });
  // The helper's program mirrors createCommandRunner: the same commands give the same results.
  const direct = createCommandRunner();
  for (const [argv, options] of [[['sh', '-c', 'printf a; printf b >&2; exit 7'], {}], [['cat'], { input: 'x\ny' }], [['sh', '-c', 'kill -TERM $$'], {}]] as const) {
    assert.deepEqual(await runner.run(argv, options), await direct.run(argv, options));
  }
  // Several at once, answered each to its own caller.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.run(['sh', '-c', `echo ${i}`])));
  assert.deepEqual(many.map((r) => r.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
});

test('helper runner: a missing program rejects as not installed; a timeout kills (137)', async (t) => {
  const runner = createHelperRunner();
  t.after(() => runner.close());
  await assert.rejects(runner.run(['kumo-no-such-program-here']), (err: unknown) => isNotInstalled(err));
  const r = await runner.run(['sleep', '5'], { timeoutMs: 100 });
  assert.equal(r.code, 137);
});

test('helper runner: when the helper dies its commands are answered as killed, and the next call starts a new one', async (t) => {
  const runner = createHelperRunner();
  t.after(() => runner.close());
  const pid = Number((await runner.run(['sh', '-c', 'echo $PPID'])).stdout.trim());
  assert.ok(pid > 0);
  const inFlight = runner.run(['sleep', '5']);
  await new Promise((r) => setTimeout(r, 100));
  process.kill(pid, 'SIGKILL');
  assert.equal((await inFlight).code, 137);
  assert.deepEqual(await runner.run(['sh', '-c', 'echo again']), { code: 0, stdout: 'again\n', stderr: '' });
});
