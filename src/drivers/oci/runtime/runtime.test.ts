import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSilentLogger } from '../../../log.js';
import type { ContainerSpec } from '../types.js';
import type { CommandResult, CommandRunner } from './command-runner.js';
import type { ConmonLauncher, SyncResult } from './conmon.js';
import { createRuncContainerRuntime } from './runtime.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const C = '33333333-3333-4333-8333-333333333333';

const ok = (stdout = ''): CommandResult => ({ code: 0, stdout: Buffer.from(stdout), stderr: '' });
const fail = (msg: string): CommandResult => ({ code: 1, stdout: Buffer.alloc(0), stderr: `{"level":"error","msg":"${msg}"}\n` });

/** A runc that answers from a table of containers; every call is recorded. */
function fakeRunc(containers: Record<string, { status: string; pid: number }>) {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    async run(argv) {
      calls.push([...argv]);
      const sub = argv[5];
      const id = argv[argv.length - 1];
      if (sub === 'list') return ok(JSON.stringify(Object.entries(containers).map(([cid, c]) => ({ id: cid, ...c, bundle: '/b', created: '' }))));
      if (sub === 'state') return containers[id] ? ok(JSON.stringify({ id, ...containers[id] })) : fail('container does not exist');
      if (sub === 'delete') return containers[id] ? (delete containers[id], ok()) : fail('container does not exist');
      return ok();
    },
  };
  return { runner, calls };
}

function setup(t: { after(fn: () => void): void }, containers: Record<string, { status: string; pid: number }>, sync: SyncResult = { pid: 4242 }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-runtime-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  const fake = fakeRunc(containers);
  const launches: string[][] = [];
  const conmon: ConmonLauncher = { async launch(argv) { launches.push([...argv]); return sync; } };
  const stateDir = path.join(dir, 'state');
  // The runtime keeps a dir per container under its root, as runc and crun do.
  for (const rid of Object.keys(containers)) mkdirSync(path.join(stateDir, 'runc', rid), { recursive: true });
  const runtime = createRuncContainerRuntime(
    { owner: 'ab12', stateDir, runtimePath: process.execPath, conmonPath: process.execPath },
    createSilentLogger(),
    { runner: fake.runner, conmon, cgroupHost: { root: path.join(dir, 'cgroup'), v2: false, swapLimit: true }, nofile: 1024, pollIntervalMs: 5 },
  );
  return { runtime, calls: fake.calls, launches, stateDir, rootfs };
}

const spec = (id: string, rootfs: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec => ({
  id, rootfs, args: ['sleep', '1'], env: [], workdir: '/', hostname: 'h', user: 'app', netns: null,
  limits: { cpu: null, memoryBytes: null, pids: null }, tty: false, interactive: false, mounts: [], labels: {}, ...overrides,
});

test('runtime: create writes the bundle and starts conmon for runc id <owner>-<uuid>', async (t) => {
  const { runtime, launches, stateDir, rootfs, calls } = setup(t, {});
  await runtime.create(spec(A, rootfs));
  // Nothing of it on the host before: the runtime was not asked for its state (a process each).
  assert.ok(!calls.some((c) => c.includes('state')), JSON.stringify(calls));
  const config = JSON.parse(readFileSync(path.join(stateDir, 'containers', A, 'config.json'), 'utf8'));
  assert.deepEqual(config.process.user, { uid: 1000, gid: 1000, additionalGids: [1000] });
  assert.equal(config.linux.cgroupsPath, `/kumo/ab12-${A}`);
  assert.equal(launches.length, 1);
  assert.equal(launches[0][launches[0].indexOf('--cid') + 1], `ab12-${A}`);
});

test('runtime: a failed create leaves nothing and says why', async (t) => {
  const { runtime, calls, stateDir, rootfs } = setup(t, {}, { error: 'exec: "sleep": executable file not found in $PATH' });
  await assert.rejects(runtime.create(spec(A, rootfs)), /cannot create container .*executable file not found/);
  assert.ok(!existsSync(path.join(stateDir, 'containers', A)));
  assert.ok(calls.some((c) => c.includes('delete') && c.includes('--force') && c.includes(`ab12-${A}`)), 'runc state removed in case it was made');
  assert.equal(await runtime.state(A), null);
  await assert.rejects(runtime.create(spec(B, rootfs, { user: 'ghost' })), /unable to find user ghost/);
  assert.ok(!existsSync(path.join(stateDir, 'containers', B)));
});

test('runtime: list is this owner\'s runc containers plus bundles a crash left without runc state', async (t) => {
  const { runtime, stateDir, rootfs } = setup(t, {
    [`ab12-${A}`]: { status: 'running', pid: 100 },
    [`ab123-${B}`]: { status: 'running', pid: 101 },
    'ab12-not-a-uuid': { status: 'running', pid: 102 },
  });
  await runtime.create(spec(C, rootfs));
  writeFileSync(path.join(stateDir, 'exits', `ab12-${C}`), '3');
  writeFileSync(path.join(stateDir, 'containers', C, 'oom'), '');
  const listed = await runtime.list();
  assert.deepEqual(listed.map((c) => [c.id, c.state, c.pid, c.exitCode, c.oomKilled]), [
    [A, 'running', 100, null, false],
    [C, 'stopped', null, 3, true],
  ]);
  assert.ok(listed[1].finishedAt);
});

test('runtime: bad input is refused before anything runs', async (t) => {
  const { runtime, calls, rootfs } = setup(t, { [`ab12-${A}`]: { status: 'running', pid: 100 } });
  assert.throws(() => createRuncContainerRuntime({ owner: 'Bad-Owner', stateDir: '/x', runtimePath: 'runc', conmonPath: 'conmon' }, createSilentLogger()), /owner/);
  await assert.rejects(runtime.kill(A, 'TERM; reboot'), /unknown signal/);
  await assert.rejects(runtime.stop(A, 1, 'NOPE'), /unknown signal/);
  await assert.rejects(runtime.start('../../etc'), /UUID/);
  await assert.rejects(runtime.create(spec(A, rootfs)), /already exists/);
  await assert.rejects(runtime.create(spec(B, rootfs, { args: [] })), /no command/);
  await assert.rejects(runtime.delete(A, false), /stop it first/);
  assert.ok(!calls.some((c) => c.includes('kill')));
});

test('runtime: a container it just created is started without asking its state; others are asked first', async (t) => {
  const { runtime, calls, rootfs, stateDir } = setup(t, { [`ab12-${B}`]: { status: 'created', pid: 200 } });
  await runtime.create(spec(A, rootfs));
  calls.length = 0;
  await runtime.start(A);
  assert.deepEqual(calls.map((c) => c[5]), ['start']);
  assert.ok(JSON.parse(readFileSync(path.join(stateDir, 'containers', A, 'kumo.json'), 'utf8')).startedAt);
  // B was created by someone before (another life of the agent): its state is read first.
  mkdirSync(path.join(stateDir, 'containers', B), { recursive: true });
  writeFileSync(path.join(stateDir, 'containers', B, 'kumo.json'), JSON.stringify({ id: B, rootfs, createdAt: '', startedAt: null, tty: false, interactive: false }));
  calls.length = 0;
  await runtime.start(B);
  assert.deepEqual(calls.map((c) => c[5]), ['state', 'start']);
});
