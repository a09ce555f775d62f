import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQemuImgInfo, qemuImgConvertArgv, qemuImgInfoArgv } from './qemu-img.js';

test('qemu-img argv: info with and without a declared format, conversions sparse when raw', () => {
  assert.deepEqual(qemuImgInfoArgv('/i/a.qcow2'), ['qemu-img', 'info', '--output=json', '/i/a.qcow2']);
  assert.deepEqual(qemuImgInfoArgv('/i/a', { format: 'raw', forceShare: true }), ['qemu-img', 'info', '--output=json', '-U', '-f', 'raw', '/i/a']);
  assert.deepEqual(qemuImgConvertArgv({ source: '/a.qcow2', sourceFormat: 'qcow2', target: '/b.raw', targetFormat: 'raw' }),
    ['qemu-img', 'convert', '-q', '-f', 'qcow2', '-O', 'raw', '-S', '4k', '/a.qcow2', '/b.raw']);
  assert.deepEqual(qemuImgConvertArgv({ source: '/a.raw', sourceFormat: 'raw', target: '/b.qcow2', targetFormat: 'qcow2', forceShare: true }),
    ['qemu-img', 'convert', '-q', '-U', '-f', 'raw', '-O', 'qcow2', '/a.raw', '/b.qcow2']);
  assert.deepEqual(qemuImgConvertArgv({ source: '/a.qcow2', sourceFormat: 'qcow2', target: '/b.raw', targetFormat: 'raw', directTarget: true }),
    ['qemu-img', 'convert', '-q', '-t', 'none', '-f', 'qcow2', '-O', 'raw', '-S', '4k', '/a.qcow2', '/b.raw']);
  assert.deepEqual(qemuImgConvertArgv({ source: '/a.qcow2', sourceFormat: 'qcow2', target: '/b.raw', targetFormat: 'raw', directTarget: true, intoZeroedTarget: true }),
    ['qemu-img', 'convert', '-q', '-t', 'none', '-n', '--target-is-zero', '-f', 'qcow2', '-O', 'raw', '-S', '4k', '/a.qcow2', '/b.raw']);
});

test('qemu-img info JSON: format, virtual size and backing file', () => {
  assert.deepEqual(parseQemuImgInfo('{"virtual-size": 1073741824, "filename": "x", "format": "qcow2", "actual-size": 200704}'), { format: 'qcow2', virtualSize: 1073741824, backing: null });
  assert.deepEqual(parseQemuImgInfo('{"virtual-size": 5, "format": "qcow2", "backing-filename": "/etc/shadow"}'), { format: 'qcow2', virtualSize: 5, backing: '/etc/shadow' });
});
