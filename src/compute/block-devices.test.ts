import assert from 'node:assert/strict';
import test from 'node:test';
import { parseBlockDeviceMappingV2, parseLegacyBlockDeviceMapping, planBlockDevices } from './block-devices.js';

const VOL = '3f0e1c52-7a4e-4d0e-9a55-1b7b1a6c9d01';
const IMG = '9d6c1c0e-2b1f-4d8e-8a0e-5e0b7f1f2a33';
const plan = (bdms: unknown, imageRef = "", minor = 92) => planBlockDevices(parseBlockDeviceMappingV2(bdms, minor), imageRef);

test('bdm v2: what `server create --volume` sends boots from the volume; string boot indexes as OSC sends them', () => {
  const p = plan([{ uuid: VOL, boot_index: '0', source_type: 'volume', destination_type: 'volume' }]);
  assert.deepEqual(p, { bootImageId: null, volumes: [{ kind: 'existing', volumeId: VOL, boot: true, deleteOnTermination: false, deviceName: null, tag: null }] });
});

test('bdm v2: `--boot-from-volume N` makes a volume from the image; a data volume follows the boot one', () => {
  const p = plan([
    { uuid: VOL, source_type: 'volume', destination_type: 'volume', boot_index: -1, delete_on_termination: true, tag: 'data' },
    { uuid: IMG, boot_index: 0, source_type: 'image', destination_type: 'volume', volume_size: 2 },
  ]);
  assert.equal(p.bootImageId, null);
  assert.deepEqual(p.volumes.map((v) => [v.kind, v.boot]), [['new', true], ['existing', false]]);
  assert.deepEqual(p.volumes[0], { kind: 'new', imageId: IMG, sizeGb: 2, boot: true, deleteOnTermination: false, deviceName: null, tag: null, volumeType: null });
  assert.equal(p.volumes[1].deleteOnTermination, true);
});

test('bdm v2: imageRef plus a data volume and a blank volume boots the image', () => {
  const p = plan([{ uuid: VOL, source_type: 'volume', boot_index: 1 }, { source_type: 'blank', destination_type: 'volume', volume_size: 1 }], IMG);
  assert.equal(p.bootImageId, IMG);
  assert.deepEqual(p.volumes.map((v) => (v.kind === 'existing' ? v.volumeId : `new:${v.sizeGb}`)), [VOL, 'new:1']);
  assert.equal(plan([{ uuid: IMG, source_type: 'image', destination_type: 'local', boot_index: 0 }]).bootImageId, IMG);
});

test('bdm v2: refusals with Nova-style messages', () => {
  const bad: [unknown, RegExp, string?][] = [
    [[{ source_type: 'volume', destination_type: 'volume', boot_index: 0 }], /Missing device UUID/],
    [[{ uuid: VOL, source_type: 'disk' }], /'disk' is not one of/],
    [[{ uuid: VOL, source_type: 'volume', boot_index: 'x' }], /does not match/],
    [[{ uuid: VOL, source_type: 'volume', boot_index: 1 }], /Boot sequence/],
    [[{ uuid: VOL, source_type: 'volume', boot_index: 0 }, { uuid: IMG, source_type: 'image', destination_type: 'volume', volume_size: 1, boot_index: 0 }], /Boot sequence/],
    [[{ uuid: IMG, source_type: 'image', destination_type: 'volume', boot_index: 0 }], /non-zero size/],
    [[{ source_type: 'blank', destination_type: 'volume', volume_size: 1, boot_index: 0 }], /Boot sequence/],
    [[{ source_type: 'blank', destination_type: 'local', volume_size: 1, guest_format: 'swap', boot_index: -1 }], /no swap or ephemeral/, IMG],
    [[{ uuid: VOL, source_type: 'snapshot', destination_type: 'volume', boot_index: 0 }], /from a volume snapshot/],
    [[{ uuid: VOL, source_type: 'volume', boot_index: 0, volume_size: -1 }], /non-negative integer/],
    [[{ uuid: VOL, source_type: 'volume', boot_index: 0, bogus: 1 }], /'bogus' was unexpected/],
    [{ uuid: VOL }, /is not of type 'array'/],
  ];
  for (const [bdms, message, imageRef] of bad) assert.throws(() => plan(bdms, imageRef ?? ''), (err: Error) => message.test(err.message), JSON.stringify(bdms));
  assert.throws(() => parseBlockDeviceMappingV2([{ uuid: VOL, source_type: 'volume', tag: 't' }], 31), /'tag' was unexpected/);
});

test('legacy block_device_mapping: vda boots, others attach', () => {
  const p = planBlockDevices(parseLegacyBlockDeviceMapping([{ device_name: 'vda', volume_id: VOL, delete_on_termination: '1' }, { device_name: '/dev/vdb', volume_id: IMG }]), '');
  assert.deepEqual(p.volumes.map((v) => [v.kind === 'existing' && v.volumeId, v.boot, v.deleteOnTermination, v.deviceName]), [[VOL, true, true, 'vda'], [IMG, false, false, '/dev/vdb']]);
  assert.throws(() => parseLegacyBlockDeviceMapping([{ device_name: 'vda' }]), /Missing device UUID/);
});
