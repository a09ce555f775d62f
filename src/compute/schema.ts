/**
 * The compute service's tables. A server is desired state (`desired`, `pending_action`) the API
 * writes and observed state (`vm_state`, `task_state`, `power_state`, `fault`) the agent's compute
 * controller writes back; what the agent needs as a whole (networks asked for, user data, the
 * flavor as it was at boot) is JSON, what lists filter on has columns.
 * @module
 */

export interface FlavorTable {
  /** Nova's flavor id: a string the admin chooses (or a UUID). */
  flavorid: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  ephemeral_gb: number;
  swap_mb: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  description: string | null;
  created_at: string;
}

export interface FlavorExtraSpecTable {
  flavorid: string;
  key: string;
  value: string;
}

export interface FlavorAccessTable {
  flavorid: string;
  project_id: string;
}

export interface KeypairTable {
  user_id: string;
  name: string;
  /** `ssh` or `x509`. */
  type: string;
  public_key: string;
  fingerprint: string;
  created_at: string;
}

export interface InstanceTable {
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  hostname: string;
  description: string | null;
  /** The agent host it was scheduled to (null until scheduled, or when no host fitted). */
  host: string | null;
  image_id: string | null;
  /** JSON `FlavorRecord`: the flavor as it was when the server was built or resized. */
  flavor: string;
  key_name: string | null;
  key_data: string | null;
  /** Base64 as the user sent it. */
  user_data: string | null;
  /** JSON `InstanceSpecRecord`. */
  spec: string;
  availability_zone: string | null;
  /** What the agent drives it to: `running`, `stopped`, `paused`, `suspended` or `deleted`. */
  desired: string;
  /** JSON `PendingAction` the agent carries out once (reboot, rebuild, resize), or null. */
  pending_action: string | null;
  vm_state: string;
  task_state: string | null;
  /** Nova's power states: 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED. */
  power_state: number;
  locked: number;
  locked_reason: string | null;
  /** JSON `{code, message, details, created}` of the last failure, or null. */
  fault: string | null;
  /** JSON array of `{id, adopted}`: the Neutron ports of the server. */
  port_ids: string;
  access_ipv4: string | null;
  access_ipv6: string | null;
  launched_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface InstanceMetadataTable {
  instance_id: string;
  key: string;
  value: string;
}

export interface InstanceTagTable {
  instance_id: string;
  tag: string;
}

export interface InstanceActionTable {
  id: string;
  instance_id: string;
  request_id: string;
  action: string;
  project_id: string;
  user_id: string;
  start_time: string;
  finish_time: string | null;
  message: string | null;
}

export interface InstanceActionEventTable {
  action_id: string;
  event: string;
  start_time: string;
  finish_time: string | null;
  /** `Success` or `Error`. */
  result: string | null;
  host: string | null;
  details: string | null;
}

export interface ServerGroupTable {
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  /** affinity, anti-affinity, soft-affinity, soft-anti-affinity. */
  policy: string;
  /** JSON object (`max_server_per_host`). */
  rules: string;
  created_at: string;
}

export interface ServerGroupMemberTable {
  group_id: string;
  instance_id: string;
}

export interface ComputeQuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

/**
 * A volume of a server (Nova's volume block device mapping). `state`: creating (a volume made for
 * the server, not available yet), reserved (Cinder attachment reserved, not in the VM yet),
 * attaching (attach asked for on a built server), attached, detaching.
 */
export interface VolumeAttachmentTable {
  /** Nova's BDM uuid. */
  id: string;
  instance_id: string;
  volume_id: string;
  /** The Cinder attachment, once reserved. */
  attachment_id: string | null;
  boot: number;
  /** What Nova reports as the device, e.g. /dev/vdb. */
  device: string;
  tag: string | null;
  delete_on_termination: number;
  state: string;
  /** The size the VM was last told (GiB): a larger volume was extended and QEMU is told again. */
  size_gb: number;
  created_at: string;
}

export interface ComputeTables {
  compute_flavor: FlavorTable;
  compute_flavor_extra_spec: FlavorExtraSpecTable;
  compute_flavor_access: FlavorAccessTable;
  compute_keypair: KeypairTable;
  compute_instance: InstanceTable;
  compute_instance_metadata: InstanceMetadataTable;
  compute_instance_tag: InstanceTagTable;
  compute_instance_action: InstanceActionTable;
  compute_instance_action_event: InstanceActionEventTable;
  compute_server_group: ServerGroupTable;
  compute_server_group_member: ServerGroupMemberTable;
  compute_quota: ComputeQuotaTable;
  compute_volume_attachment: VolumeAttachmentTable;
}
