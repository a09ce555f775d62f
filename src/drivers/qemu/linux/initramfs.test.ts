import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpioArchive, kernelModules } from './initramfs.js';

/** Parses a newc archive back into (name, mode, data) records. */
function readCpio(buf: Buffer): { name: string; mode: number; data: string }[] {
  const out: { name: string; mode: number; data: string }[] = [];
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701');
    const field = (i: number) => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    const dataStart = align(off + 110 + nameSize);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data: buf.toString('utf8', dataStart, dataStart + size) });
    off = align(dataStart + size);
  }
}

test('cpio: newc records with types, permissions, 4-byte alignment and the trailer', () => {
  const archive = cpioArchive([
    { path: 'bin', kind: 'dir' },
    { path: '/init', kind: 'file', data: '#!/bin/sh\n', mode: 0o755 },
    { path: 'bin/sh', kind: 'symlink', data: 'busybox' },
    { path: 'etc', kind: 'dir', mode: 0o700 },
  ]);
  assert.equal(archive.length % 4, 0);
  assert.deepEqual(readCpio(archive), [
    { name: 'bin', mode: 0o040755, data: '' },
    { name: 'init', mode: 0o100755, data: '#!/bin/sh\n' },
    { name: 'bin/sh', mode: 0o120777, data: 'busybox' },
    { name: 'etc', mode: 0o040700, data: '' },
  ]);
});

test('kernel modules: dependencies first, each once, dashes and underscores alike; an unknown module is an error', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-mod-'));
  try {
    mkdirSync(path.join(dir, 'kernel/drivers'), { recursive: true });
    for (const m of ['virtio', 'virtio_ring', 'virtio_net', 'net_failover', 'failover', 'nls_iso8859-1']) writeFileSync(path.join(dir, `kernel/drivers/${m}.ko`), m);
    writeFileSync(path.join(dir, 'modules.dep'), [
      'kernel/drivers/virtio_net.ko: kernel/drivers/net_failover.ko kernel/drivers/failover.ko kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko',
      'kernel/drivers/net_failover.ko: kernel/drivers/failover.ko',
      'kernel/drivers/failover.ko:',
      'kernel/drivers/virtio.ko:',
      'kernel/drivers/virtio_ring.ko:',
      'kernel/drivers/nls_iso8859-1.ko:',
      '',
    ].join('\n'));
    const { entries, loadOrder } = kernelModules(dir, ['virtio_net', 'virtio', 'nls-iso8859-1']);
    assert.deepEqual(loadOrder, ['failover', 'net_failover', 'virtio', 'virtio_ring', 'virtio_net', 'nls_iso8859_1']);
    assert.deepEqual(entries.map((e) => e.path), ['mod', ...loadOrder.map((m) => `mod/${m}.ko`)]);
    assert.equal(String(entries[1].data), 'failover');
    assert.throws(() => kernelModules(dir, ['e1000']), /e1000 is not in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
