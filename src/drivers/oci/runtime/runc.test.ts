import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNotExistError, normalizeSignal, parseRuncList, parseRuncState, runcArgv, runcErrorMessage, toRuntimeState } from './runc.js';

const cli = { runtimePath: '/usr/sbin/runc', root: '/var/lib/kumo/oci/runc' };
const G = ['/usr/sbin/runc', '--root', '/var/lib/kumo/oci/runc', '--log-format', 'json'];

test('runc argv: every call under Kumo\'s own --root, flags before the container id', () => {
  assert.deepEqual(runcArgv.start(cli, 'o-1'), [...G, 'start', 'o-1']);
  assert.deepEqual(runcArgv.kill(cli, 'o-1', 'SIGTERM'), [...G, 'kill', 'o-1', 'SIGTERM']);
  assert.deepEqual(runcArgv.delete(cli, 'o-1', true), [...G, 'delete', '--force', 'o-1']);
  assert.deepEqual(runcArgv.delete(cli, 'o-1', false), [...G, 'delete', 'o-1']);
  assert.deepEqual(runcArgv.list(cli), [...G, 'list', '--format', 'json']);
  assert.deepEqual(runcArgv.update(cli, 'o-1'), [...G, 'update', '--resources', '-', 'o-1']);
  assert.deepEqual(runcArgv.exec(cli, 'o-1', '/b/p.json', '/b/p.pid'), [...G, 'exec', '--process', '/b/p.json', '--pid-file', '/b/p.pid', 'o-1']);
  assert.deepEqual(runcArgv.pause(cli, 'o-1').slice(-2), ['pause', 'o-1']);
  assert.deepEqual(runcArgv.resume(cli, 'o-1').slice(-2), ['resume', 'o-1']);
});

test('runc output: state and list parse; statuses map; error messages come out of JSON log lines', () => {
  const state = parseRuncState('{"ociVersion":"1.0.2","id":"o-1","pid":42,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-01-01T00:00:00Z","owner":"","annotations":{"kumo.owner":"o"}}');
  assert.deepEqual(state, { id: 'o-1', pid: 42, status: 'running', bundle: '/b', created: '2026-01-01T00:00:00Z', annotations: { 'kumo.owner': 'o' } });
  assert.deepEqual(parseRuncList('null\n'), []);
  assert.deepEqual(parseRuncList('').length, 0);
  assert.equal(parseRuncList('[{"id":"a","pid":0,"status":"stopped"},{"bogus":1}]').length, 1);
  assert.equal(parseRuncState('not json'), null);
  assert.equal(toRuntimeState('creating'), 'created');
  assert.equal(toRuntimeState('paused'), 'paused');
  assert.equal(toRuntimeState('stopped'), 'stopped');
  assert.equal(runcErrorMessage('{"level":"error","msg":"container does not exist","time":"x"}\n'), 'container does not exist');
  assert.equal(runcErrorMessage('time="x" level=error msg="runc create failed: \\"x\\" missing"\n'), 'runc create failed: "x" missing');
  assert.equal(runcErrorMessage('plain failure\n'), 'plain failure');
  assert.ok(isNotExistError('container does not exist'));
  assert.ok(isNotExistError('error opening file `/run/k/ab-1/status`: No such file or directory'), 'crun');
  assert.ok(!isNotExistError('container not running'));
});

test('signals: names, numbers and real-time signals are normalised; anything else is refused', () => {
  assert.equal(normalizeSignal('TERM'), 'SIGTERM');
  assert.equal(normalizeSignal('sigkill'), 'SIGKILL');
  assert.equal(normalizeSignal('SIGUSR1'), 'SIGUSR1');
  assert.equal(normalizeSignal('IOT'), 'SIGABRT');
  assert.equal(normalizeSignal('15'), '15');
  assert.equal(normalizeSignal('RTMIN+2'), '36');
  assert.equal(normalizeSignal('RTMAX'), '64');
  for (const bad of ['0', '65', 'NOPE', 'TERM; rm -rf /', '', 'RTMIN+40']) assert.equal(normalizeSignal(bad), null, bad);
});
