import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectQmp, QmpCommandError } from './qmp.js';

/** A fake QEMU monitor: greets, answers commands with `reply`, records what it received. */
function fakeQemu(reply: (cmd: { execute: string; arguments?: Record<string, unknown>; id?: string }, socket: net.Socket) => void, greet = true) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-qmp-'));
  const socketPath = path.join(dir, 'qmp.sock');
  const received: { execute: string; arguments?: Record<string, unknown>; id?: string }[] = [];
  const server = net.createServer((socket) => {
    if (greet) socket.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n');
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        received.push(cmd);
        if (cmd.execute === 'qmp_capabilities') socket.write(`{"return": {}, "id": ${JSON.stringify(cmd.id)}}\r\n`);
        else reply(cmd, socket);
      }
    });
  });
  return {
    socketPath,
    received,
    listen: () => new Promise<void>((r) => server.listen(socketPath, r)),
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('qmp: negotiates capabilities, matches replies to commands by id (out of order), passes arguments', async () => {
  const qemu = fakeQemu((cmd, socket) => {
    if (cmd.execute === 'query-status') setTimeout(() => socket.write(`{"return": {"status": "running", "running": true}, "id": "${cmd.id}"}\n`), 20);
    else socket.write(`{"return": {"echo": ${JSON.stringify(cmd.arguments ?? null)}}, "id": "${cmd.id}"}\n`);
  });
  await qemu.listen();
  const qmp = await connectQmp(qemu.socketPath);
  const [status, echoed] = await Promise.all([qmp.execute('query-status'), qmp.execute('device_del', { id: 'nic-1' })]);
  assert.deepEqual(status, { status: 'running', running: true });
  assert.deepEqual(echoed, { echo: { id: 'nic-1' } });
  assert.equal(qemu.received[0].execute, 'qmp_capabilities');
  assert.deepEqual(qemu.received[2], { execute: 'device_del', arguments: { id: 'nic-1' }, id: qemu.received[2].id });
  qmp.close();
  qemu.close();
});

test('qmp: an error reply rejects with its class and description; events reach listeners and waitForEvent', async () => {
  const qemu = fakeQemu((cmd, socket) => {
    if (cmd.execute === 'device_add') {
      socket.write(`{"error": {"class": "GenericError", "desc": "Duplicate device ID 'x'"}, "id": "${cmd.id}"}\n`);
    } else {
      socket.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/disk-a/virtio-backend"}}\n');
      socket.write('{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "DEVICE_DELETED", "data": {"device": "disk-a", "path": "/machine/peripheral/disk-a"}}\n');
      socket.write(`{"return": {}, "id": "${cmd.id}"}\n`);
    }
  });
  await qemu.listen();
  const qmp = await connectQmp(qemu.socketPath);
  const seen: string[] = [];
  qmp.onEvent((e) => seen.push(e.event));
  const deleted = qmp.waitForEvent('DEVICE_DELETED', 2000, (e) => e.data.device === 'disk-a');
  await assert.rejects(qmp.execute('device_add', { id: 'x' }), (err: unknown) =>
    err instanceof QmpCommandError && err.errorClass === 'GenericError' && err.message === "QMP device_add: Duplicate device ID 'x'");
  await qmp.execute('device_del', { id: 'disk-a' });
  assert.deepEqual((await deleted).data, { device: 'disk-a', path: '/machine/peripheral/disk-a' });
  assert.deepEqual(seen, ['DEVICE_DELETED', 'DEVICE_DELETED']);
  await assert.rejects(qmp.waitForEvent('SHUTDOWN', 50), /no SHUTDOWN event within 50 ms/);
  qmp.close();
  qemu.close();
});

test('qmp: pending commands reject when QEMU closes the socket; no greeting times out; no socket is an error', async () => {
  const qemu = fakeQemu((_cmd, socket) => socket.destroy());
  await qemu.listen();
  const qmp = await connectQmp(qemu.socketPath);
  await assert.rejects(qmp.execute('quit'), /closed the connection/);
  await assert.rejects(qmp.execute('query-status'), /closed the connection/);
  qemu.close();

  const silent = fakeQemu(() => undefined, false);
  await silent.listen();
  await assert.rejects(connectQmp(silent.socketPath, { timeoutMs: 50 }), /no greeting within 50 ms/);
  silent.close();

  await assert.rejects(connectQmp('/nonexistent/qmp.sock'), /ENOENT/);
});
