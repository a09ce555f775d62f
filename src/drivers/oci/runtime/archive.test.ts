import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createArchive, entryPath, extractArchive } from './archive.js';
import { createCommandRunner } from './command-runner.js';
import { readTar } from './tar.js';

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kumo-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  for (const d of [path.join(root, 'tmp'), path.join(root, 'etc'), outside]) mkdirSync(d, { recursive: true });
  // The container's own symlinks: absolute ones that on the host would point elsewhere.
  symlinkSync('/etc', path.join(root, 'tmp/esc'));
  symlinkSync(outside, path.join(root, 'tmp/hostpath'));
  return { dir, root, outside };
}

const tarOf = (dir: string, ...names: string[]) => execFileSync('tar', ['-c', '-f', '-', '-C', dir, ...names]);

test('archive in: files, dirs, symlinks land inside the root, also through the container\'s own absolute symlinks', async (t) => {
  const { dir, root, outside } = setup(t);
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'a/b'), { recursive: true });
  writeFileSync(path.join(src, 'a/b/file'), 'data\n', { mode: 0o600 });
  symlinkSync('b/file', path.join(src, 'a/ln'));
  await extractArchive(root, '/tmp', tarOf(src, 'a'));
  assert.equal(readFileSync(path.join(root, 'tmp/a/b/file'), 'utf8'), 'data\n');
  assert.equal(lstatSync(path.join(root, 'tmp/a/b/file')).mode & 0o777, 0o600);
  assert.equal(readlinkSync(path.join(root, 'tmp/a/ln')), 'b/file');

  writeFileSync(path.join(src, 'marker'), 'x');
  await extractArchive(root, '/tmp/esc', tarOf(src, 'marker'));
  assert.ok(existsSync(path.join(root, 'etc/marker')), 'followed /tmp/esc to the container\'s /etc');
  // /tmp/hostpath points at a host dir; inside the root that path does not exist.
  await assert.rejects(extractArchive(root, '/tmp/hostpath', tarOf(src, 'marker')), /no such directory/);
  assert.ok(!existsSync(path.join(outside, 'marker')), 'never out of the root');
});

test('archive in: entries climbing out, overwriting a symlink, non-directory targets', async (t) => {
  const { root, outside } = setup(t);
  assert.equal(entryPath('./a//b/'), 'a/b');
  assert.equal(entryPath('/abs/x'), 'abs/x');
  assert.equal(entryPath('a/../b'), 'b');
  assert.throws(() => entryPath('../x'), /outside the target/);
  assert.throws(() => entryPath('a/../../x'), /outside the target/);

  // A file entry whose name is a symlink in the container replaces the link, never writes through it.
  const src = mkdtempSync(path.join(path.dirname(root), 'src2-'));
  writeFileSync(path.join(src, 'hostpath'), 'replaced\n');
  await extractArchive(root, '/tmp', tarOf(src, 'hostpath'));
  assert.equal(readFileSync(path.join(root, 'tmp/hostpath'), 'utf8'), 'replaced\n');
  assert.ok(!lstatSync(path.join(root, 'tmp/hostpath')).isSymbolicLink());
  assert.equal(existsSync(path.join(outside, 'hostpath')), false);

  await assert.rejects(extractArchive(root, '/nope', tarOf(src, 'hostpath')), /no such directory/);
  await assert.rejects(extractArchive(root, '/tmp/hostpath', tarOf(src, 'hostpath')), /not a directory/);
  await assert.rejects(extractArchive(root, '/tmp', Buffer.from('not a tar'.padEnd(1024, 'x'))), /not a tar archive/);
});

test('archive out: the path resolved inside the root, symlinks stored as links', async (t) => {
  const { root } = setup(t);
  mkdirSync(path.join(root, 'etc/app'));
  writeFileSync(path.join(root, 'etc/app/conf'), 'c=1\n');
  const runner = createCommandRunner();
  const entries = readTar(await createArchive(runner, 'tar', root, '/tmp/esc/app'));
  assert.deepEqual(entries.map((e) => e.name).sort(), ['app/', 'app/conf']);
  assert.equal(entries.find((e) => e.name === 'app/conf')?.data.toString(), 'c=1\n');
  const link = readTar(await createArchive(runner, 'tar', root, '/tmp/esc'));
  assert.equal(link[0].type, 'symlink');
  assert.equal(link[0].linkname, '/etc');
  await assert.rejects(createArchive(runner, 'tar', root, '/missing'), /no such file/);
});
