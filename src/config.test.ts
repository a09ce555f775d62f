import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDataDir, loadConfig, parseListen } from './config.js';
import { KumoError } from './errors.js';

test('config: defaults, flags over environment, frozen', () => {
  const c = loadConfig({}, { HOME: '/home/x' }, 1000);
  assert.equal(c.dataDir, '/home/x/.local/state/kumo');
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 5000 });
  assert.equal(c.publicUrl, 'http://127.0.0.1:5000');
  assert.equal(c.database.kind, 'sqlite');
  assert.equal(c.identity.tokenExpirationSeconds, 3600);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.identity));
  assert.equal(defaultDataDir({}, 0), '/var/lib/kumo');
  const f = loadConfig({ listen: '0.0.0.0:6000', dataDir: '/d' }, { KUMO_LISTEN: '127.0.0.1:7000', KUMO_DATABASE_URL: 'postgresql://u@h/db', KUMO_TOKEN_EXPIRATION: '60' });
  assert.equal(f.listen.port, 6000);
  assert.equal(f.publicUrl, 'http://127.0.0.1:6000');
  assert.deepEqual(f.database, { kind: 'postgres', url: 'postgresql://u@h/db' });
  assert.equal(f.identity.tokenExpirationSeconds, 60);
});

test('config: bad values are clear errors', () => {
  assert.throws(() => parseListen('nonsense'), KumoError);
  assert.throws(() => parseListen('127.0.0.1:70000'), /out of range/);
  assert.deepEqual(parseListen('[::1]:5000'), { host: '::1', port: 5000 });
  assert.throws(() => loadConfig({ databaseUrl: 'mysql://x' }), /postgresql/);
  assert.throws(() => loadConfig({ tokenExpiration: '-5' }), /positive integer/);
  assert.throws(() => loadConfig({ logLevel: 'loud' }), /log level/);
});
