/**
 * Block device mappings of a server create (Nova's `block_device_mapping_v2` and the legacy
 * `block_device_mapping`), checked and reduced to what Kumo builds: the boot source (the image, or
 * a volume) and the volumes to attach, existing or made for the server.
 *
 * Kumo builds volume destinations only. A local destination other than the image itself (swap,
 * ephemeral disks) and a snapshot source are refused with a clear 400, before anything is made.
 * @module
 */
import { invalid } from './context.js';

export type BdmSource = 'volume' | 'image' | 'snapshot' | 'blank';

/** One mapping after the schema check, with Nova's defaults applied. */
export interface BlockDeviceRequest {
  readonly sourceType: BdmSource;
  readonly destinationType: 'volume' | 'local';
  readonly uuid: string | null;
  /** null: not bootable (Nova's -1 and absent). */
  readonly bootIndex: number | null;
  /** GiB; required where a volume is made (image or blank to volume). */
  readonly volumeSize: number | null;
  readonly deleteOnTermination: boolean;
  readonly deviceName: string | null;
  readonly tag: string | null;
  readonly volumeType: string | null;
}

/** What the compute service does with the mappings. */
export interface BlockDevicePlan {
  /** The image the server boots from (imageRef or an image→local mapping with boot index 0); null when it boots from a volume. */
  readonly bootImageId: string | null;
  /** Volumes in boot order first (the boot volume, when there is one, is the first), then the rest in the order given. */
  readonly volumes: readonly PlannedVolume[];
}

export type PlannedVolume =
  | { readonly kind: 'existing'; readonly volumeId: string; readonly boot: boolean; readonly deleteOnTermination: boolean; readonly deviceName: string | null; readonly tag: string | null }
  | { readonly kind: 'new'; readonly imageId: string | null; readonly sizeGb: number; readonly boot: boolean; readonly deleteOnTermination: boolean; readonly deviceName: string | null; readonly tag: string | null; readonly volumeType: string | null };

const BDM_INVALID = (why: string) => invalid(`Block Device Mapping is Invalid: ${why}`);
const BAD_BOOT = 'Boot sequence for the instance and image/block device mapping combination is not valid.';
const field = (name: string, value: unknown, why: string) => invalid(`Invalid input for field/attribute ${name}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${why}`);
const ID = /^[a-zA-Z0-9._-]*$/;
const DEVICE = /^[a-zA-Z0-9._\-r/]*$/;

const V2_KEYS = new Set(['source_type', 'destination_type', 'uuid', 'image_id', 'guest_format', 'device_type', 'disk_bus', 'boot_index', 'tag', 'volume_type',
  'virtual_name', 'volume_id', 'snapshot_id', 'volume_size', 'device_name', 'delete_on_termination', 'no_device', 'connection_info']);
const LEGACY_KEYS = new Set(['virtual_name', 'volume_id', 'snapshot_id', 'volume_size', 'device_name', 'delete_on_termination', 'no_device', 'connection_info']);

function bool(name: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false|1|0|t|f|yes|no|y|n|on|off)$/i.test(value)) return /^(true|1|t|yes|y|on)$/i.test(value);
  throw field(name, value, `${JSON.stringify(value)} is not of type 'boolean'`);
}

function nonNegativeInt(name: string, value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw field(name, value, `${JSON.stringify(value)} is not a non-negative integer`);
  return n;
}

function optionalString(name: string, value: unknown, pattern?: RegExp, minLength = 0): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw field(name, value, `${JSON.stringify(value)} is not of type 'string'`);
  if (value.length < minLength || value.length > 255) throw field(name, value, `${JSON.stringify(value)} is too ${value.length < minLength ? 'short' : 'long'}`);
  if (pattern && !pattern.test(value)) throw field(name, value, `${JSON.stringify(value)} does not match '${pattern.source}'`);
  return value;
}

function entries(name: string, value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw field(name, value, `${JSON.stringify(value)} is not of type 'array'`);
  return value.map((item) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw field(name, value, `${JSON.stringify(item)} is not of type 'object'`);
    return item as Record<string, unknown>;
  });
}

/** The v2 list as Nova's schema (and from_api) reads it; `tag` from 2.32, `volume_type` from 2.67. */
export function parseBlockDeviceMappingV2(value: unknown, minor: number): BlockDeviceRequest[] {
  return entries('block_device_mapping_v2', value).map((m) => {
    const unknown = Object.keys(m).filter((k) => !V2_KEYS.has(k) || (k === 'tag' && minor < 32) || (k === 'volume_type' && minor < 67));
    if (unknown.length) throw field('block_device_mapping_v2', value, `Additional properties are not allowed ('${unknown.join("', '")}' ${unknown.length > 1 ? 'were' : 'was'} unexpected)`);
    const sourceType = optionalString('source_type', m.source_type) ?? (m.volume_id ? 'volume' : m.snapshot_id ? 'snapshot' : m.image_id ? 'image' : null);
    if (sourceType === null) throw BDM_INVALID('Missing device UUID.');
    if (!['volume', 'image', 'snapshot', 'blank'].includes(sourceType)) throw field('source_type', sourceType, `'${sourceType}' is not one of ['volume', 'image', 'snapshot', 'blank']`);
    const destinationType = optionalString('destination_type', m.destination_type) ?? (sourceType === 'image' || sourceType === 'blank' ? 'local' : 'volume');
    if (destinationType !== 'local' && destinationType !== 'volume') throw field('destination_type', destinationType, `'${destinationType}' is not one of ['local', 'volume']`);
    const uuid = optionalString('uuid', m.uuid, ID, 1) ?? optionalString('volume_id', m.volume_id, ID, 1) ?? optionalString('snapshot_id', m.snapshot_id, ID, 1) ?? optionalString('image_id', m.image_id, ID, 1);
    let bootIndex: number | null = null;
    if (m.boot_index !== undefined && m.boot_index !== null) {
      if (!(typeof m.boot_index === 'number' && Number.isInteger(m.boot_index)) && !(typeof m.boot_index === 'string' && /^-?[0-9]+$/.test(m.boot_index))) {
        throw field('boot_index', m.boot_index, `${JSON.stringify(m.boot_index)} does not match '^-?[0-9]+$'`);
      }
      const n = Number(m.boot_index);
      bootIndex = n < 0 ? null : n;
    }
    if (sourceType !== 'blank' && !uuid) throw BDM_INVALID('Missing device UUID.');
    return {
      sourceType: sourceType as BdmSource,
      destinationType,
      uuid,
      bootIndex,
      volumeSize: nonNegativeInt('volume_size', m.volume_size),
      deleteOnTermination: bool('delete_on_termination', m.delete_on_termination),
      deviceName: optionalString('device_name', m.device_name, DEVICE, 1),
      tag: optionalString('tag', m.tag),
      volumeType: optionalString('volume_type', m.volume_type),
    };
  });
}

/** The legacy list: volumes by id (a snapshot_id entry is refused like a snapshot source); the one named vda boots. */
export function parseLegacyBlockDeviceMapping(value: unknown): BlockDeviceRequest[] {
  return entries('block_device_mapping', value).map((m) => {
    const unknown = Object.keys(m).filter((k) => !LEGACY_KEYS.has(k));
    if (unknown.length) throw field('block_device_mapping', value, `Additional properties are not allowed ('${unknown.join("', '")}' ${unknown.length > 1 ? 'were' : 'was'} unexpected)`);
    const deviceName = optionalString('device_name', m.device_name, DEVICE, 1);
    const volumeId = optionalString('volume_id', m.volume_id, ID, 1);
    const snapshotId = optionalString('snapshot_id', m.snapshot_id, ID, 1);
    if (!volumeId && !snapshotId) throw BDM_INVALID('Missing device UUID.');
    const root = deviceName !== null && /^(\/dev\/)?[a-z]*da$/.test(deviceName);
    return {
      sourceType: volumeId ? 'volume' : 'snapshot', destinationType: 'volume', uuid: volumeId ?? snapshotId, bootIndex: root ? 0 : null,
      volumeSize: nonNegativeInt('volume_size', m.volume_size), deleteOnTermination: bool('delete_on_termination', m.delete_on_termination),
      deviceName, tag: null, volumeType: null,
    };
  });
}

/**
 * What to build from the mappings and imageRef (`''` when none). Boot indexes must not repeat and
 * something must boot: imageRef, an image→local mapping with boot index 0, or a volume mapping
 * with boot index 0.
 */
export function planBlockDevices(requests: readonly BlockDeviceRequest[], imageRef: string): BlockDevicePlan {
  const indexes = requests.map((r) => r.bootIndex).filter((i): i is number => i !== null).sort((a, b) => a - b);
  // imageRef is the implicit boot index 0 when no mapping claims it.
  if (imageRef && !indexes.includes(0)) indexes.unshift(0);
  if (indexes.some((i, n) => i !== n)) throw BDM_INVALID(BAD_BOOT);
  let bootImageId: string | null = imageRef || null;
  const volumes: PlannedVolume[] = [];
  const ordered = [...requests].sort((a, b) => (a.bootIndex ?? Infinity) - (b.bootIndex ?? Infinity));
  for (const r of ordered) {
    const boot = r.bootIndex === 0;
    if (r.sourceType === 'snapshot') throw BDM_INVALID('Kumo cannot make a volume from a volume snapshot while booting a server; create the volume from the snapshot first and boot from it.');
    if (r.destinationType === 'local') {
      // The image itself as the root disk: Nova's way of saying imageRef in a mapping.
      if (r.sourceType === 'image' && boot) {
        if (bootImageId && bootImageId !== r.uuid) throw BDM_INVALID(BAD_BOOT);
        bootImageId = r.uuid;
        continue;
      }
      throw BDM_INVALID('Kumo has no swap or ephemeral local disks; use a flavor with a larger disk or a blank volume (destination_type volume).');
    }
    if (r.sourceType === 'volume') {
      volumes.push({ kind: 'existing', volumeId: r.uuid!, boot, deleteOnTermination: r.deleteOnTermination, deviceName: r.deviceName, tag: r.tag });
      continue;
    }
    // image or blank into a new volume
    if (!r.volumeSize) throw BDM_INVALID(`${r.sourceType === 'image' ? 'Images' : 'Blank volumes'} with destination_type 'volume' need to have a non-zero size specified`);
    volumes.push({ kind: 'new', imageId: r.sourceType === 'image' ? r.uuid : null, sizeGb: r.volumeSize, boot, deleteOnTermination: r.deleteOnTermination, deviceName: r.deviceName, tag: r.tag, volumeType: r.volumeType });
  }
  const bootVolume = volumes.some((v) => v.boot);
  if (!bootVolume && !bootImageId) throw BDM_INVALID(BAD_BOOT);
  const blankBoot = volumes.find((v) => v.boot && v.kind === 'new' && v.imageId === null);
  if (blankBoot) throw BDM_INVALID(BAD_BOOT);
  return { bootImageId: bootVolume ? null : bootImageId, volumes };
}
