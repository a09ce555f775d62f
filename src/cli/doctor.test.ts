import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findBinary, formatDoctorReport } from './doctor.js';

test('doctor: lists what is missing with one apt-get line', () => {
  const report = formatDoctorReport([
    { name: 'runc (containers)', present: true, detail: '/usr/sbin/runc 1.1', aptPackage: 'runc' },
    { name: 'qemu', present: false, detail: 'qemu-system-x86_64 not found', aptPackage: 'qemu-system-x86' },
    { name: 'nftables', present: false, detail: 'nft not found', aptPackage: 'nftables' },
  ]);
  assert.match(report, /^ok {7}runc/m);
  assert.match(report, /^missing {2}qemu/m);
  assert.match(report, /apt-get install -y qemu-system-x86 nftables$/m);
});

test('doctor: finds binaries on PATH only', () => {
  assert.ok(findBinary('sh', '/bin:/usr/bin'));
  assert.equal(findBinary('definitely-not-a-binary-kumo', '/bin'), undefined);
});
