import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FernetKey, fernetDecrypt, fernetEncrypt } from './fernet.js';

interface Vector { token: string; now: string; secret: string; src?: string; iv?: number[]; ttl_sec?: number; desc?: string }
const spec = JSON.parse(readFileSync(new URL('../../../test/fixtures/fernet-spec.json', import.meta.url), 'utf8')) as Record<string, Vector[]>;
const seconds = (iso: string) => Date.parse(iso) / 1000;

test('fernet: generates the spec token byte for byte', () => {
  for (const v of spec.generate) {
    const token = fernetEncrypt(new FernetKey(v.secret), Buffer.from(v.src!), { nowSeconds: seconds(v.now), iv: Buffer.from(v.iv!) });
    assert.equal(token, v.token.replace(/=+$/, ''));
  }
});

test('fernet: verifies the spec token, padded and unpadded', () => {
  for (const v of spec.verify) {
    for (const token of [v.token, v.token.replace(/=+$/, '')]) {
      const out = fernetDecrypt([new FernetKey(v.secret)], token, { nowSeconds: seconds(v.now), ttlSeconds: v.ttl_sec });
      assert.equal(out?.plaintext.toString(), v.src);
    }
  }
});

test('fernet: refuses every invalid spec token', () => {
  for (const v of spec.invalid) {
    const out = fernetDecrypt([new FernetKey(v.secret)], v.token, { nowSeconds: seconds(v.now), ttlSeconds: v.ttl_sec });
    assert.equal(out, undefined, v.desc);
  }
});

test('fernet: any of several keys decrypts; a foreign key does not', () => {
  const a = FernetKey.generate();
  const b = FernetKey.generate();
  const token = fernetEncrypt(b, Buffer.from('payload'), { nowSeconds: 1000 });
  assert.equal(fernetDecrypt([a, b], token, { nowSeconds: 1000 })?.plaintext.toString(), 'payload');
  assert.equal(fernetDecrypt([a], token, { nowSeconds: 1000 }), undefined);
});
