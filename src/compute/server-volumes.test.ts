import assert from 'node:assert/strict';
import test from 'node:test';
import { validateSpec } from '../drivers/qemu/linux/driver.js';
import { volumeDiskName } from './server-volumes.js';

test("a volume's disk name is one the QEMU driver accepts, and stays distinct per volume", () => {
  const a = 'EF0A1B2C-3D4E-4F50-8A6B-7C8D9E0F1A2B';
  const name = volumeDiskName(a);
  assert.equal(name, 'vef0a1b2c3d4e4f508a6');
  validateSpec({ instanceId: a, name: 'vm', vcpus: 1, memoryMb: 128, nics: [], disks: [{ name, path: '/x/v.raw', format: 'raw' }] });
  assert.notEqual(volumeDiskName('ef0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2c'), volumeDiskName('ff0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b'));
});
