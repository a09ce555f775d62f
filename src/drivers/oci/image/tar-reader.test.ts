import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KumoError } from '../../../errors.js';
import { parsePaxRecords, readTar, type TarEntry } from './tar-reader.js';
import { buildTar } from './tar-writer.js';

/** Feeds the buffer in awkward chunk sizes, as a network stream would. */
async function* chunks(data: Buffer, size = 777): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function entries(data: Buffer, readBodies = true): Promise<(Omit<TarEntry, 'body'> & { data: string })[]> {
  const out = [];
  for await (const e of readTar(chunks(data))) {
    let text = '';
    if (readBodies) for await (const c of e.body) text += c.toString('utf8');
    const { body: _body, ...rest } = e;
    out.push({ ...rest, data: text });
  }
  return out;
}

test('tar: regular files, directories, symlinks, hard links, devices with their metadata', async () => {
  const tar = buildTar([
    { name: './', type: 'directory', mode: 0o755 },
    { name: './bin/', type: 'directory', mode: 0o755 },
    { name: './bin/busybox', data: 'ELF'.repeat(400), mode: 0o4755, uid: 1000, gid: 100, mtime: 1_700_000_000 },
    { name: './bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: './bin/ash', type: 'hardlink', linkname: './bin/busybox' },
    { name: './dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: './run/fifo', type: 'fifo' },
  ]);
  const got = await entries(tar);
  assert.deepEqual(got.map((e) => [e.name, e.type]), [
    ['.', 'directory'], ['./bin', 'directory'], ['./bin/busybox', 'file'], ['./bin/sh', 'symlink'], ['./bin/ash', 'hardlink'], ['./dev/null', 'char'], ['./run/fifo', 'fifo'],
  ]);
  const bb = got[2];
  assert.equal(bb.data, 'ELF'.repeat(400));
  assert.equal(bb.size, 1200);
  assert.equal(bb.mode, 0o4755);
  assert.equal(bb.uid, 1000);
  assert.equal(bb.gid, 100);
  assert.equal(bb.mtime, 1_700_000_000);
  assert.equal(got[3].linkname, 'busybox');
  assert.equal(got[4].linkname, './bin/busybox');
  assert.deepEqual([got[5].devmajor, got[5].devminor], [1, 3]);
});

test('tar: long names and link targets through pax headers and through GNU L/K headers', async () => {
  const deep = `${'very-long-directory-name/'.repeat(8)}file.txt`;
  const target = `/${'t'.repeat(150)}`;
  for (const longNames of ['pax', 'gnu'] as const) {
    const got = await entries(buildTar([
      { name: deep, data: 'x' },
      { name: 'link', type: 'symlink', linkname: target },
      { name: 'short', data: 'y' },
    ], { longNames }));
    assert.deepEqual(got.map((e) => [e.name, e.linkname, e.data]), [[deep, '', 'x'], ['link', target, ''], ['short', '', 'y']], longNames);
  }
});

test('tar: pax xattrs reach the entry; pax records are length-prefixed and may hold any bytes', async () => {
  const got = await entries(buildTar([{ name: 'bin/ping', data: 'p', xattrs: { 'security.capability': 'caps' } }]));
  assert.equal(got[0].xattrs['security.capability'].toString(), 'caps');
  const records = parsePaxRecords(Buffer.from('17 path=a/b/cdé\n8 uid=7\n'));
  assert.equal(records.get('path')?.toString('utf8'), 'a/b/cdé');
  assert.equal(records.get('uid')?.toString(), '7');
  assert.throws(() => parsePaxRecords(Buffer.from('99 path=x\n')), KumoError);
});

test('tar: whiteout and opaque markers are plain entries for the unpacker to interpret', async () => {
  const got = await entries(buildTar([{ name: 'etc/.wh.passwd' }, { name: 'var/cache/.wh..wh..opq' }]));
  assert.deepEqual(got.map((e) => [e.name, e.type]), [['etc/.wh.passwd', 'file'], ['var/cache/.wh..wh..opq', 'file']]);
});

test('tar: unread bodies are skipped; base-256 numbers are read; the ustar prefix joins the name', async () => {
  const tar = buildTar([{ name: 'a', data: 'A'.repeat(5000) }, { name: 'b', data: 'B' }]);
  assert.deepEqual((await entries(tar, false)).map((e) => e.name), ['a', 'b']);

  const custom = buildTar([{ name: 'c', data: 'C', uid: 1 }]);
  // GNU base-256: a uid too large for 7 octal digits.
  custom.fill(0, 108, 116);
  custom[108] = 0x80;
  custom.writeUInt32BE(4_000_000_000, 112);
  custom.write('dir/in/prefix\0', 345, 'latin1');
  let sum = 0;
  custom.fill(0x20, 148, 156);
  for (let i = 0; i < 512; i++) sum += custom[i];
  custom.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const [e] = await entries(custom);
  assert.equal(e.uid, 4_000_000_000);
  assert.equal(e.name, 'dir/in/prefix/c');
});

test('tar: a corrupt header or truncated data is a clear error, not garbage', async () => {
  const tar = buildTar([{ name: 'a', data: 'hello' }]);
  const corrupt = Buffer.from(tar);
  corrupt[10] ^= 0xff;
  await assert.rejects(entries(corrupt), /checksum mismatch at byte 0/);
  await assert.rejects(entries(tar.subarray(0, 600)), /unexpected end of data/);
  await assert.rejects(entries(Buffer.from('{"not": "a tar"}'.padEnd(512, ' '))), /not a valid tar archive/);
  // An archive cut right after a complete entry (no end blocks) still reads.
  assert.deepEqual((await entries(tar.subarray(0, 1024))).map((e) => e.data), ['hello']);
});
