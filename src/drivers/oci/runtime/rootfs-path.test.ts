import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveInRoot } from './rootfs-path.js';

test('rootfs paths: symlinks and .. resolve inside the root, never out of it', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'kumo-rootfs-path-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'etc'));
  mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
  writeFileSync(path.join(root, 'etc/passwd'), '');
  symlinkSync('/etc', path.join(root, 'abs'));
  symlinkSync('../../..', path.join(root, 'usr/lib/up'));
  symlinkSync('/../../../../etc/passwd', path.join(root, 'pw'));
  symlinkSync('loop2', path.join(root, 'loop1'));
  symlinkSync('loop1', path.join(root, 'loop2'));
  symlinkSync('lib', path.join(root, 'usr/rel'));

  assert.equal(await resolveInRoot(root, '/abs/passwd'), path.join(root, 'etc/passwd'));
  assert.equal(await resolveInRoot(root, '/usr/lib/up/etc'), path.join(root, 'etc'));
  assert.equal(await resolveInRoot(root, '../../../etc'), path.join(root, 'etc'));
  assert.equal(await resolveInRoot(root, '/pw'), path.join(root, 'etc/passwd'));
  assert.equal(await resolveInRoot(root, '/pw', { followFinal: false }), path.join(root, 'pw'));
  assert.equal(await resolveInRoot(root, '/usr/rel/x/../y'), path.join(root, 'usr/lib/y'));
  assert.equal(await resolveInRoot(root, '/missing/a/../b'), path.join(root, 'missing/b'));
  assert.equal(await resolveInRoot(root, '/'), root);
  await assert.rejects(resolveInRoot(root, '/loop1/x'), /too many levels/);
});
