/**
 * The volume service's tables. A volume row is desired state (status `creating`, `deleting`,
 * `extending`, `uploading` plus `pending`) the API writes and the controller on the volume's
 * `host` carries out, writing back `available`/`in-use`/`error` and a reason. Metadata and extra
 * specs are JSON: they are read whole with their row and never joined on.
 * @module
 */

export interface VolumeTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  /** GiB. */
  size: number;
  status: string;
  /** Why the last operation failed (Kumo keeps it; Cinder shows admins only its logs). */
  status_reason: string | null;
  /** The volume host whose BlockStorage holds the file; null when none could take it. */
  host: string | null;
  availability_zone: string;
  volume_type_id: string;
  snapshot_id: string | null;
  source_volid: string | null;
  image_id: string | null;
  bootable: number;
  /** READONLY_UNSET (never set), READONLY_TRUE or READONLY_FALSE (os-update_readonly_flag). */
  readonly: number;
  multiattach: number;
  /** JSON object of strings. */
  metadata: string;
  /** JSON object of strings: the image's properties for volumes made from one. */
  image_metadata: string;
  /** JSON `PendingWork` the controller carries out once (extend, upload), or null. */
  pending: string | null;
  created_at: string;
  updated_at: string;
}

export interface VolumeSnapshotTable {
  id: string;
  project_id: string;
  user_id: string;
  volume_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  status_reason: string | null;
  host: string | null;
  metadata: string;
  created_at: string;
  updated_at: string;
}

export interface VolumeTypeTable {
  id: string;
  name: string;
  description: string | null;
  is_public: number;
  /** JSON object of strings. */
  extra_specs: string;
  created_at: string;
}

export interface VolumeTypeAccessTable {
  volume_type_id: string;
  project_id: string;
}

export interface VolumeAttachmentTable {
  id: string;
  volume_id: string;
  /** The server or container the volume is attached to. */
  instance_id: string;
  host_name: string | null;
  mountpoint: string | null;
  /** rw or ro. */
  mode: string;
  /** reserved, attaching, attached, detaching. */
  status: string;
  /** JSON connector the consumer gave (Cinder attachments API), or null. */
  connector: string | null;
  attached_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface VolumeQuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

/** One row per volume host (cinder-volume@host): the controller's heartbeat and capacity. */
export interface VolumeServiceTable {
  host: string;
  availability_zone: string;
  /** Milliseconds since the epoch of the last heartbeat. */
  heartbeat_at: number;
  total_bytes: number;
  free_bytes: number;
  /** The BlockStorage's volume directory: volume files are `<volume_dir>/<volumeId>.raw` (the driver contract). */
  volume_dir: string;
  disabled: number;
  disabled_reason: string | null;
  created_at: string;
}

export interface VolumeTables {
  volume_volume: VolumeTable;
  volume_snapshot: VolumeSnapshotTable;
  volume_type: VolumeTypeTable;
  volume_type_access: VolumeTypeAccessTable;
  volume_attachment: VolumeAttachmentTable;
  volume_quota: VolumeQuotaTable;
  volume_service: VolumeServiceTable;
}
