import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commandLine, createShellRunner, parseReportLine, shellQuote } from './shell-runner.js';
import { isNotInstalled } from './command-runner.js';

test('shellQuote, commandLine and parseReportLine', () => {
  assert.equal(shellQuote(`it's $HOME`), `'it'\\''s $HOME'`);
  assert.equal(commandLine(3, 0, ['echo', 'a b']), `(r 3 0 '' '' 'echo' 'a b' &)\n`);
  assert.equal(commandLine(4, 2, ['cat'], '/tmp', '/d/2.i'), `(r 4 2 '/tmp' '/d/2.i' 'cat' &)\n`);
  assert.deepEqual(['p 1 4242', '1 0 1 0', '0 3 0 1', '1 0', 'noise'].map(parseReportLine), [
    { started: 1, pid: 4242 }, { ended: 1, status: 0, stdout: true, stderr: false }, { ended: 0, status: 3, stdout: false, stderr: true }, null, null,
  ]);
});

test('one shell starts every command, each with its own status, output and directory, and nothing of our environment', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-shell-test-'));
  process.env.KUMO_SECRET_FOR_TEST = 'do-not-leak';
  try {
    const log = path.join(dir, 'shells');
    const shell = path.join(dir, 'sh');
    await writeFile(shell, `#!/bin/sh\necho started >> ${shellQuote(log)}\nexec /bin/sh "$@"\n`);
    await chmod(shell, 0o755);
    const runner = createShellRunner({ shell, tempDir: dir });
    const tricky = `quote ' dollar $HOME star * newline\nend`;
    const [echo, fail, cwd, env, stdin] = await Promise.all([
      runner.run(['printf', '%s', tricky]),
      runner.run(['sh', '-c', 'echo oops >&2; exit 3']),
      runner.run(['pwd'], { cwd: '/usr' }),
      runner.run(['sh', '-c', 'echo "${KUMO_SECRET_FOR_TEST:-unset} $PATH"']),
      runner.run(['cat'], { input: 'through stdin' }),
    ]);
    assert.deepEqual(echo, { code: 0, stdout: tricky, stderr: '' });
    assert.deepEqual([fail.code, fail.stderr], [3, 'oops\n']);
    assert.equal(cwd.stdout.trim(), '/usr');
    assert.match(env.stdout, /^unset \/usr\/local\/sbin:/);
    assert.equal(stdin.stdout, 'through stdin');
    // Later calls go to the same shell.
    assert.equal((await runner.run(['true'])).code, 0);
    assert.equal((await readFile(log, 'utf8')).trim().split('\n').length, 1, 'six commands, one shell');
    await assert.rejects(runner.run(['kumo-no-such-program-xyz']), (err) => isNotInstalled(err));
    // Commands reuse the files of free slots: six commands, five at once at most, so at most five slots.
    const [work] = (await readdir(dir)).filter((f) => f.startsWith('kumo-sh-'));
    const slots = new Set((await readdir(path.join(dir, work))).map((f) => f.split('.')[0]));
    assert.ok(slots.size <= 5, `slots: ${[...slots].join(' ')}`);
    for (let i = 0; i < 20; i++) assert.equal((await runner.run(['sh', '-c', `echo ${i}`])).stdout, `${i}\n`, 'a reused slot holds only its own output');
    assert.ok(new Set((await readdir(path.join(dir, work))).map((f) => f.split('.')[0])).size <= 5, 'one at a time reuses the same slot');
  } finally {
    delete process.env.KUMO_SECRET_FOR_TEST;
    await rm(dir, { recursive: true, force: true });
  }
});

test('a command past its time is killed and reported as such, while a quick one is answered at once', async () => {
  const runner = createShellRunner();
  const started = Date.now();
  const slow = runner.run(['sleep', '30'], { timeoutMs: 300 });
  assert.equal((await runner.run(['true'])).code, 0);
  assert.equal((await slow).code, 137);
  assert.ok(Date.now() - started < 10_000);
});

test('a wrapped shell runs its setup first, then every command under the wrap; its pid is the shell', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-shell-test-'));
  try {
    // env(1) execs what follows, as `unshare --mount --` does: the shell keeps the wrapper's pid.
    const runner = createShellRunner({ tempDir: dir, wrap: ['env', 'KUMO_WRAPPED=yes'], setup: `cd ${shellQuote(dir)} && touch set-up` });
    const seen = await runner.run(['sh', '-c', 'echo "$KUMO_WRAPPED"; ls set-up']);
    assert.deepEqual([seen.code, seen.stdout], [0, 'yes\nset-up\n']);
    const pid = runner.shellPid();
    assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /sh\0-s\0/);
    assert.equal(runner.shellPid(), pid, 'the same shell');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
