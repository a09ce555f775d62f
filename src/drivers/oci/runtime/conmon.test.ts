import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createShellRunner } from '../../../lib/shell-runner.js';
import { buildConmonArgv, createConmonLauncher, createShellConmonLauncher, parseSyncMessage } from './conmon.js';
import type { ConmonLauncher } from './conmon.js';

const params = {
  conmonPath: '/usr/bin/conmon', runtimePath: '/usr/sbin/runc', runtimeArgs: ['--root', '/s/runc', '--log-format', 'json'],
  runcId: 'ab12-u', containerId: 'u', bundle: '/s/containers/u', containerPidFile: '/s/containers/u/container.pid',
  conmonPidFile: '/s/containers/u/conmon.pid', exitDir: '/s/exits', logFile: '/s/logs/u.log', logSizeMax: 1024, socketDir: '/s/sockets',
  tty: false, stdin: false,
};

test('conmon argv: runc with Kumo\'s root, bundle, pid files, exit dir, k8s-file log, persist dir for the oom marker', () => {
  const argv = buildConmonArgv(params);
  const flag = (name: string) => argv[argv.indexOf(name) + 1];
  assert.equal(argv[0], '/usr/bin/conmon');
  assert.equal(flag('--api-version'), '1');
  assert.equal(flag('--cid'), 'ab12-u');
  assert.equal(flag('--cuuid'), 'u');
  assert.equal(flag('--runtime'), '/usr/sbin/runc');
  assert.deepEqual(argv.filter((_, i) => argv[i - 1] === '--runtime-arg'), ['--root', '/s/runc', '--log-format', 'json']);
  assert.equal(flag('--bundle'), '/s/containers/u');
  assert.equal(flag('--persist-dir'), '/s/containers/u');
  assert.equal(flag('--exit-dir'), '/s/exits');
  assert.equal(flag('--log-path'), 'k8s-file:/s/logs/u.log');
  assert.equal(flag('--log-size-max'), '1024');
  assert.equal(flag('--socket-dir-path'), '/s/sockets');
  assert.ok(!argv.includes('--terminal') && !argv.includes('--stdin'));
  const tty = buildConmonArgv({ ...params, tty: true, stdin: true });
  assert.ok(tty.includes('--terminal') && tty.includes('--stdin'));
  assert.ok(!tty.includes('-s'), 'conmon 2.1 reads -s as --systemd-cgroup');
});

test('conmon sync messages: a pid, or runc\'s error', () => {
  assert.deepEqual(parseSyncMessage('{"data": 4242}'), { pid: 4242 });
  assert.deepEqual(parseSyncMessage('{"data": -1, "message": "{\\"level\\":\\"error\\",\\"msg\\":\\"runc create failed: exec: \\\\\\"x\\\\\\": not found\\"}\\n"}'), { error: 'runc create failed: exec: "x": not found' });
  assert.match((parseSyncMessage('{"data": -1}') as { error: string }).error, /create failed/);
  assert.match((parseSyncMessage('garbage') as { error: string }).error, /unreadable/);
});

for (const [kind, make] of [['forked from Node', createConmonLauncher], ['started by the shell runner', () => createShellConmonLauncher(createShellRunner())]] as [string, () => ConmonLauncher][]) {
test(`conmon launcher (${kind}): reads the sync pipe (fd 3), reports a silent exit with its stderr, and times out`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-conmon-'));
  const fake = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!${process.execPath}\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const launcher = make();
  const options = { cwd: dir, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 5_000 };
  const ok = fake('ok', `require('fs').writeSync(Number(process.env._OCI_SYNCPIPE), '{"data": 99}\\n');`);
  assert.deepEqual(await launcher.launch([ok], options), { pid: 99 });
  const failing = fake('fail', `require('fs').writeSync(3, '{"data": -1, "message": "boom"}\\n');`);
  assert.deepEqual(await launcher.launch([failing], options), { error: 'boom' });
  const silent = fake('silent', `process.stderr.write('conmon: bad flag\\n'); process.exit(1);`);
  assert.deepEqual(await launcher.launch([silent], options), { error: 'conmon exited without reporting: conmon: bad flag' });
  const hangs = fake('hangs', `require('fs').writeFileSync('hangs.pid', String(process.pid)); setTimeout(() => {}, 10000);`);
  // One hook, in this order: the pid file goes with the dir.
  t.after(() => {
    try {
      process.kill(Number(readFileSync(path.join(dir, 'hangs.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  assert.match((await launcher.launch([hangs], { ...options, timeoutMs: 200 }) as { error: string }).error, /did not report within 200 ms/);
  assert.match((await launcher.launch([path.join(dir, 'missing')], options) as { error: string }).error, /cannot start conmon/);
});
}
