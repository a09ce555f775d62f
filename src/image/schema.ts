/**
 * The image service's tables. Base attributes have columns (lists filter and sort on them);
 * extra properties, tags and members have tables of their own, keyed by image id.
 * @module
 */

export interface ImageTable {
  id: string;
  name: string | null;
  /** queued, saving, active, deactivated, uploading (staged for glance-direct), importing. */
  status: string;
  visibility: string;
  /** 0/1. */
  protected: number;
  /** 0/1. */
  os_hidden: number;
  /** The owning project. */
  owner: string | null;
  size: number | null;
  virtual_size: number | null;
  /** md5 hex of the data. */
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  disk_format: string | null;
  container_format: string | null;
  min_ram: number;
  min_disk: number;
  created_at: string;
  updated_at: string;
}

/** An extra (non-base) property: always a string, as Glance stores them. */
export interface ImagePropertyTable {
  image_id: string;
  name: string;
  value: string;
}

export interface ImageTagTable {
  image_id: string;
  value: string;
}

/** A project an image is shared with, and that project's answer. */
export interface ImageMemberTable {
  image_id: string;
  member: string;
  /** pending, accepted or rejected. */
  status: string;
  created_at: string;
  updated_at: string;
}

/** An import task: what `POST /v2/images/{id}/import` did, kept for `GET /v2/images/{id}/tasks`. */
export interface ImageTaskTable {
  id: string;
  image_id: string;
  /** api_image_import. */
  type: string;
  /** success or failure (imports finish within the request here). */
  status: string;
  owner: string;
  user_id: string;
  request_id: string;
  /** JSON: the task input as Glance shows it (image_id, import_req, backend). */
  input: string;
  /** JSON or null. */
  result: string | null;
  message: string;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}

export interface ImageTables {
  image: ImageTable;
  image_property: ImagePropertyTable;
  image_tag: ImageTagTable;
  image_member: ImageMemberTable;
  image_task: ImageTaskTable;
}
