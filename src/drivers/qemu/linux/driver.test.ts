import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../../../log.js';
import type { VmSpec } from '../types.js';
import { KumoError } from '../../../errors.js';
import { createQemuHypervisor, trimConsoleLog, validateSpec } from './driver.js';

const ID = '3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab';
const good: VmSpec = {
  instanceId: ID, name: 'vm', vcpus: 1, memoryMb: 128,
  disks: [{ name: 'root', path: '/x/root.qcow2', format: 'qcow2' }],
  nics: [{ portId: 'p1', tapName: 'tapp1', macAddress: 'fa:16:3e:00:00:01' }],
};

test('spec validation: each bad field is refused with what is wrong', () => {
  validateSpec(good);
  const bad: [Partial<VmSpec>, RegExp][] = [
    [{ instanceId: '../etc' }, /is not a UUID/],
    [{ vcpus: 0 }, /vcpus/],
    [{ memoryMb: 1.5 }, /memoryMb/],
    [{ machine: 'microvm' }, /needs a kernel/],
    [{ disks: [{ name: 'Root!', path: '/x', format: 'qcow2' }] }, /disk name/],
    [{ disks: [good.disks[0], good.disks[0]] }, /used twice/],
    [{ disks: [{ name: 'root', path: 'rel.qcow2', format: 'qcow2' }] }, /absolute/],
    [{ disks: [{ name: 'root', path: '/x', format: 'vmdk' as 'raw' }] }, /format/],
    [{ nics: [{ portId: 'p', tapName: 'tap', macAddress: 'nope' }] }, /not a MAC/],
    [{ nics: [{ portId: 'p', tapName: 'tap-name-too-long-x', macAddress: 'fa:16:3e:00:00:01' }] }, /tap name/],
  ];
  for (const [change, message] of bad) {
    assert.throws(() => validateSpec({ ...good, ...change }), (err: unknown) => err instanceof KumoError && err.code === 'ERR_VALIDATION' && message.test(err.message), JSON.stringify(change));
  }
});

test('driver: owner label and instance ids are checked before anything touches the host', async () => {
  assert.throws(() => createQemuHypervisor({ owner: 'Bad-Owner', stateDir: '/nonexistent', imageDir: '/nonexistent' }, createSilentLogger()), /owner label/);
  const hv = createQemuHypervisor({ owner: 'ab12', stateDir: '/nonexistent/state', imageDir: '/nonexistent/images' }, createSilentLogger());
  await assert.rejects(hv.state('../../etc'), /is not a UUID/);
  await assert.rejects(hv.destroy('x'), /is not a UUID/);
  assert.deepEqual(await hv.list(), []);
  assert.equal(await hv.state(ID), null);
  assert.equal(await hv.consoleLog(ID), '');
  await assert.rejects(hv.pause(ID), /is not running/);
  await assert.rejects(hv.ensureBaseImage('../x', 'raw', {}, async function* () {}), /not usable as a file name/);
});

test('console log: left alone up to 2 MiB, then cut back to its last 512 KiB at the next start', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-console-'));
  try {
    const file = path.join(dir, 'console.log');
    await trimConsoleLog(file);
    writeFileSync(file, 'x'.repeat(2 * 1024 * 1024));
    await trimConsoleLog(file);
    assert.equal(readFileSync(file).length, 2 * 1024 * 1024);
    writeFileSync(file, `${'x'.repeat(2 * 1024 * 1024)}${'y'.repeat(512 * 1024 - 3)}END`);
    await trimConsoleLog(file);
    const kept = readFileSync(file, 'utf8');
    assert.equal(kept.length, 512 * 1024);
    assert.ok(kept.endsWith('yEND') && !kept.includes('x'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
