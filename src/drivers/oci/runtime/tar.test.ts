import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTar, TarFormatError } from './tar.js';

test('tar reader: GNU and pax archives (long names, links, modes), gzip or not', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-tar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = 'd'.repeat(120);
  mkdirSync(path.join(dir, 'src', long), { recursive: true });
  writeFileSync(path.join(dir, 'src', long, 'f.txt'), 'long\n', { mode: 0o640 });
  writeFileSync(path.join(dir, 'src', 'empty'), '');
  symlinkSync(`${long}/f.txt`, path.join(dir, 'src', 'ln'));
  linkSync(path.join(dir, 'src', 'empty'), path.join(dir, 'src', 'hard'));
  for (const format of ['gnu', 'posix']) {
    const tarball = execFileSync('tar', ['--format', format, '-c', '-f', '-', '-C', path.join(dir, 'src'), '.']);
    for (const archive of [tarball, gzipSync(tarball)]) {
      const entries = new Map(readTar(archive).map((e) => [e.name.replace(/^\.\//, '').replace(/\/$/, ''), e]));
      assert.equal(entries.get(`${long}/f.txt`)?.data.toString(), 'long\n', format);
      assert.equal(entries.get(`${long}/f.txt`)?.mode, 0o640);
      assert.equal(entries.get(long)?.type, 'directory');
      assert.equal(entries.get('ln')?.type, 'symlink');
      assert.equal(entries.get('ln')?.linkname, `${long}/f.txt`);
      const hardlinks = [...entries.values()].filter((e) => e.type === 'hardlink');
      assert.equal(hardlinks.length, 1);
      assert.ok(['./empty', 'empty', './hard', 'hard'].includes(hardlinks[0].linkname));
      assert.equal(entries.get(`${long}/f.txt`)?.uid, process.getuid?.());
    }
  }
  assert.throws(() => readTar(Buffer.alloc(1024, 7)), TarFormatError);
  assert.deepEqual(readTar(Buffer.alloc(1024)), []);
});
