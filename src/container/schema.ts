/**
 * The container service's tables. What the user asked for that the agent needs as a whole
 * (command, environment, nets, restart policy, ...) is one JSON `spec`; what lists filter on or
 * quotas sum has columns of its own.
 * @module
 */

export interface ContainerTable {
  uuid: string;
  project_id: string;
  user_id: string;
  name: string;
  /** The image reference as the user gave it. */
  image: string;
  image_driver: string;
  /** JSON `ContainerSpecRecord`. */
  spec: string;
  cpu: number | null;
  memory_mib: number | null;
  disk_gib: number | null;
  /** The agent host that runs it (set at create: the only host until scheduling exists). */
  host: string | null;
  /** What the agent drives it to: `created`, `running`, `stopped`, `paused` or `deleted`. */
  desired: string;
  /** Zun's status: Creating, Created, Running, Stopped, Paused, Restarting, Deleting, Error. */
  status: string;
  status_reason: string | null;
  status_detail: string | null;
  task_state: string | null;
  exit_code: number | null;
  restart_count: number;
  /** JSON array of the Neutron port ids Kumo created for it (deleted with it). */
  port_ids: string;
  /** The capsule this container is a member of (it shares the capsule's network namespace and ports); null for a plain container. */
  capsule_id: string | null;
  created_at: string;
  updated_at: string;
}

/** A Zun capsule (a pod): its members are container rows with its uuid in `capsule_id`. */
export interface CapsuleTable {
  uuid: string;
  project_id: string;
  user_id: string;
  name: string;
  /** JSON `CapsuleSpecRecord`: labels, annotations, restart policy. */
  spec: string;
  /** The sums of its containers' requests. */
  cpu: number;
  memory_mib: number;
  host: string | null;
  /** `running`, or `deleted` until the agent has removed its members, network namespace and ports. */
  desired: string;
  /** JSON array of `PortRecord`: the ports every member shares. */
  port_ids: string;
  created_at: string;
  updated_at: string;
}

export interface ContainerQuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

/**
 * A volume a container mounts (Zun's volume mapping): reserved by the API, or `creating` while a
 * volume asked for by size is made; the agent mounts it and completes the Cinder attachment.
 */
export interface ContainerVolumeTable {
  id: string;
  container_uuid: string;
  volume_id: string;
  /** The Cinder attachment; null while the volume made for the container is not available yet. */
  attachment_id: string | null;
  /** The absolute path in the container. */
  destination: string;
  /** 1: made for the container (`size=`), deleted with it, as Zun's auto-created volumes. */
  auto_remove: number;
  /** `creating`, `reserved`, `attached`, or `released` (the container gone, a volume made for it not deleted yet). */
  state: string;
  created_at: string;
}

export interface ContainerTables {
  container_container: ContainerTable;
  container_volume: ContainerVolumeTable;
  container_capsule: CapsuleTable;
  container_quota: ContainerQuotaTable;
}
