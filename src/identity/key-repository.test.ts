import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRepository } from './key-repository.js';
import { decodeToken, encodeToken } from './token-format.js';

test('key repository: staged 0, primary highest, rotation promotes staged and prunes to the limit', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'kumo-keys-')), 'keys');
  try {
    const repo = new KeyRepository(dir, 3);
    repo.initialize();
    assert.deepEqual(readdirSync(dir).sort(), ['0', '1']);
    assert.equal(statSync(join(dir, '0')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const staged = readFileSync(join(dir, '0'), 'utf8');
    const r1 = repo.rotate();
    assert.equal(r1.primary, 2);
    assert.equal(readFileSync(join(dir, '2'), 'utf8'), staged, 'the staged key becomes primary');
    assert.equal(repo.primary().encoded, staged);
    const r2 = repo.rotate();
    assert.deepEqual(r2.keys, [0, 2, 3]);
    assert.deepEqual(r2.removed, [1]);
    repo.initialize();
    assert.deepEqual(readdirSync(dir).filter((f) => /^\d+$/.test(f)).sort(), ['0', '2', '3'], 'initialize keeps existing keys');
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('token format: round trip of every field; garbage and foreign tokens decode to undefined', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'kumo-keys-')), 'keys');
  try {
    const repo = new KeyRepository(dir, 3);
    repo.initialize();
    const payload = {
      userId: 'u1', methods: ['password' as const, 'token' as const], scope: { type: 'project' as const, id: 'p1' },
      issuedAt: 1_700_000_000_123, expiresAt: 1_700_003_600_123, auditIds: ['a', 'b'], trustId: 't1',
    };
    const token = encodeToken(repo.primary(), payload);
    assert.deepEqual(decodeToken(repo.all(), token, payload.issuedAt), payload);
    assert.equal(decodeToken(repo.all(), `${token.slice(0, -2)}AA`, payload.issuedAt), undefined);
    assert.equal(decodeToken(repo.all(), 'not-a-token', payload.issuedAt), undefined);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

function dirname(p: string): string {
  return p.slice(0, p.lastIndexOf('/'));
}
