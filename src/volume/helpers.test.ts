import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVolumeMinor } from './microversion.js';
import { parseMetadataFilter, parseSize, serviceUuid } from './volumes.js';

test('volume microversions: absent is 3.0, latest is 3.70, out of range 406, garbage 400', () => {
  assert.equal(parseVolumeMinor(undefined), 0);
  assert.equal(parseVolumeMinor('volume 3.60'), 60);
  assert.equal(parseVolumeMinor('compute 2.1, volume latest'), 70);
  assert.throws(() => parseVolumeMinor('volume 3.71'), (e: { status: number; message: string }) => e.status === 406 && /maximum is 3\.70/.test(e.message));
  assert.throws(() => parseVolumeMinor('volume 2.0'), (e: { status: number }) => e.status === 406);
  assert.throws(() => parseVolumeMinor('volume three'), (e: { status: number }) => e.status === 400);
});

test('sizes as Cinder reads them: integers or digit strings of at least 1', () => {
  assert.equal(parseSize(3), 3);
  assert.equal(parseSize('4'), 4);
  assert.throws(() => parseSize(0), /0 is less than the minimum of 1/);
  assert.throws(() => parseSize('-1'), /does not match/);
  assert.throws(() => parseSize(1.5), /is not of type/);
});

test('metadata filters in cinderclient\'s dict form and JSON; service uuids are stable', () => {
  assert.deepEqual(parseMetadataFilter("{'a': 'b'}"), { a: 'b' });
  assert.deepEqual(parseMetadataFilter('{"a": 1}'), { a: '1' });
  assert.throws(() => parseMetadataFilter('nope'), (e: { status: number }) => e.status === 400);
  assert.equal(serviceUuid('h1'), serviceUuid('h1'));
  assert.notEqual(serviceUuid('h1'), serviceUuid('h2'));
  assert.match(serviceUuid('h1'), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});
