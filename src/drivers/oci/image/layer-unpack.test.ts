import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KumoError } from '../../../errors.js';
import { createSilentLogger } from '../../../log.js';
import { sha256Digest } from './digest.js';
import { entryComponents, unpackLayer } from './layer-unpack.js';
import { buildTar, type TarWriteEntry } from './tar-writer.js';
import type { WhiteoutRequest } from './whiteouts.js';

const LAYER = `sha256:${'1'.repeat(64)}`;

async function unpack(t: { after(fn: () => void): void }, entries: readonly TarWriteEntry[], opts: { gzip?: boolean; diffId?: string | null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kumo-unpack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tar = buildTar(entries);
  const blobFile = join(dir, 'blob');
  writeFileSync(blobFile, opts.gzip === false ? tar : gzipSync(tar));
  const target = join(dir, 'layer');
  mkdirSync(target);
  const requests: WhiteoutRequest[] = [];
  const result = await unpackLayer({
    blobFile, target, layerDigest: LAYER, diffId: opts.diffId === undefined ? sha256Digest(tar) : opts.diffId,
    preserveOwnership: false,
    // Stands in for the kernel: markers the test can see.
    applyWhiteouts: async (_scratch, request) => {
      requests.push(request);
      for (const f of request.files) writeFileSync(f, 'WHITEOUT');
    },
    scratchDir: dir,
    makeNode: async (path) => writeFileSync(path, 'NODE'),
    logger: createSilentLogger(),
  });
  return { target, requests, result, outside: dir };
}

test('unpack: files, modes, times, symlinks, hard links land in the layer dir (gzip or plain)', async (t) => {
  for (const gzip of [true, false]) {
    const { target, result } = await unpack(t, [
      { name: './', type: 'directory', mode: 0o755 },
      { name: './bin/', type: 'directory', mode: 0o755, mtime: 1_600_000_000 },
      { name: './bin/busybox', data: 'BB', mode: 0o755, mtime: 1_500_000_000 },
      { name: './bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: './bin/ash', type: 'hardlink', linkname: './bin/busybox' },
      { name: './etc/motd', data: 'hi', mode: 0o600 },
      { name: './dev/null', type: 'char', devmajor: 1, devminor: 3 },
    ], { gzip });
    assert.equal(result.entries, 7);
    assert.equal(readFileSync(join(target, 'bin/busybox'), 'utf8'), 'BB');
    assert.equal(statSync(join(target, 'bin/busybox')).mode & 0o7777, 0o755);
    assert.equal(statSync(join(target, 'bin/busybox')).mtimeMs, 1_500_000_000_000);
    assert.equal(statSync(join(target, 'bin')).mtimeMs, 1_600_000_000_000, 'directory times are set after their content');
    assert.equal(readlinkSync(join(target, 'bin/sh')), 'busybox');
    assert.equal(statSync(join(target, 'bin/ash')).ino, statSync(join(target, 'bin/busybox')).ino);
    assert.equal(statSync(join(target, 'etc/motd')).mode & 0o777, 0o600);
    assert.equal(statSync(join(target, 'etc')).mode & 0o777, 0o755, 'implied parents are 0755');
    assert.equal(readFileSync(join(target, 'dev/null'), 'utf8'), 'NODE');
  }
});

test('unpack: whiteouts and opaque markers become requests for overlay whiteouts, not files', async (t) => {
  const { target, requests, result } = await unpack(t, [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.shadow' },
    { name: 'var/cache/apt/', type: 'directory' },
    { name: 'var/cache/apt/.wh..wh..opq' },
    { name: 'var/cache/apt/new', data: 'n' },
    { name: 'usr/.wh..wh.plnk' },
    // A whiteout for a path the same layer also writes: the entry wins.
    { name: 'opt/.wh.tool' },
    { name: 'opt/tool', data: 't' },
  ]);
  assert.equal(requests.length, 1);
  assert.deepEqual(requests[0].files, [join(target, 'etc/shadow')]);
  assert.deepEqual(requests[0].opaqueDirs, [join(target, 'var/cache/apt')]);
  assert.equal(result.whiteouts, 1);
  assert.equal(result.opaqueDirs, 1);
  assert.deepEqual(readdirSync(join(target, 'etc')), ['shadow']);
  assert.equal(readFileSync(join(target, 'etc/shadow'), 'utf8'), 'WHITEOUT');
  assert.deepEqual(readdirSync(join(target, 'var/cache/apt')), ['new']);
  assert.deepEqual(readdirSync(join(target, 'usr')), []);
  assert.equal(readFileSync(join(target, 'opt/tool'), 'utf8'), 't');
});

test('unpack: nothing can be written outside the layer, through .. or through a symlink', async (t) => {
  await assert.rejects(unpack(t, [{ name: '../escape', data: 'x' }]), (e: unknown) => e instanceof KumoError && /points outside the layer/.test(e.message));
  const { target, outside } = await unpack(t, [
    { name: 'evil', type: 'symlink', linkname: '/' },
    { name: 'up', type: 'symlink', linkname: '../../..' },
    { name: 'evil/etc/owned', data: 'x' },
    { name: 'up/tmp/owned', data: 'y' },
  ]);
  // Followed as if the layer were the root: both land inside it.
  assert.equal(readFileSync(join(target, 'etc/owned'), 'utf8'), 'x');
  assert.equal(readFileSync(join(target, 'tmp/owned'), 'utf8'), 'y');
  assert.deepEqual(readdirSync(outside).sort(), ['blob', 'layer']);
  await assert.rejects(unpack(t, [{ name: 'link', type: 'hardlink', linkname: 'nowhere' }]), /not a file earlier in the same layer/);
});

test('unpack: a later entry replaces an earlier one of another type', async (t) => {
  const { target } = await unpack(t, [
    { name: 'a', data: 'file' },
    { name: 'a', type: 'directory' },
    { name: 'a/inner', data: 'i' },
    { name: 'b/', type: 'directory' },
    { name: 'b/x', data: 'x' },
    { name: 'b', type: 'symlink', linkname: 'a' },
  ]);
  assert.ok(statSync(join(target, 'a')).isDirectory());
  assert.equal(readFileSync(join(target, 'a/inner'), 'utf8'), 'i');
  assert.ok(lstatSync(join(target, 'b')).isSymbolicLink());
});

test('unpack: content that does not match the diff id, or is not gzip/tar, is refused naming the layer', async (t) => {
  await assert.rejects(unpack(t, [{ name: 'a', data: 'A' }], { diffId: sha256Digest('other') }), (e: unknown) =>
    e instanceof KumoError && e.message.startsWith(`layer ${LAYER} does not match its image config`));
  const dir = mkdtempSync(join(tmpdir(), 'kumo-unpack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const blobFile = join(dir, 'blob');
  writeFileSync(blobFile, Buffer.concat([gzipSync(buildTar([{ name: 'a', data: 'A' }])).subarray(0, 30)]));
  mkdirSync(join(dir, 'l'));
  await assert.rejects(unpackLayer({
    blobFile, target: join(dir, 'l'), layerDigest: LAYER, diffId: null, preserveOwnership: false, applyWhiteouts: async () => undefined,
    scratchDir: dir, makeNode: async () => undefined, logger: createSilentLogger(),
  }), (e: unknown) => e instanceof KumoError && e.message.includes(LAYER));
});

test('entryComponents: ./ and // vanish, .. inside the layer resolves, .. above it is refused', () => {
  assert.deepEqual(entryComponents('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(entryComponents('/abs/path'), ['abs', 'path']);
  assert.deepEqual(entryComponents('a/../b'), ['b']);
  assert.deepEqual(entryComponents('./'), []);
  assert.throws(() => entryComponents('a/../../b'), /outside the layer/);
});
