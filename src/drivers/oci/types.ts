/**
 * The container runtime an agent drives: an image store (OCI distribution client, layer store,
 * overlay root filesystems) and a container runtime (runc under conmon). Plain data only; no
 * library types cross this file.
 *
 * Ownership works as in the net driver: every host object carries the driver's `owner` label
 * (runc container ids, namespaces, mounts and directories are named from it and the container's
 * UUID), so a restarted agent finds its own and never touches anyone else's.
 * @module
 */

// ---------------------------------------------------------------- images

/** The runtime defaults an image carries (the `config` of an OCI image config blob). */
export interface ImageRuntimeConfig {
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  /** `KEY=value` entries. */
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly user: string;
  readonly exposedPorts: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly stopSignal: string | null;
}

export interface StoredImage {
  /** The image id: the digest of its config blob (`sha256:...`). */
  readonly id: string;
  /** The digest of the manifest it was pulled by, or null for an imported image without one. */
  readonly manifestDigest: string | null;
  /** `registry/repository:tag` names that point at it. */
  readonly repoTags: readonly string[];
  /** Sum of its compressed layer sizes, bytes. */
  readonly size: number;
  readonly architecture: string;
  readonly os: string;
  readonly config: ImageRuntimeConfig;
  /** Layer digests (compressed blobs), bottom first. */
  readonly layers: readonly string[];
  readonly createdAt: string | null;
}

export interface PullOptions {
  /** Credentials for bearer-token or basic auth. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Which entry of a manifest list / index to take; default: the host's (linux/amd64). */
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
}

export interface ImageStore {
  /**
   * Pulls `reference` (`[registry/]repository[:tag|@digest]`; no registry means Docker Hub) and
   * records it under that name. Every blob is verified against its digest before it is kept;
   * on any failure nothing new is left in the store except fully verified blobs, which a later
   * pull reuses and `garbageCollect` removes if nothing references them.
   */
  pull(reference: string, options?: PullOptions): Promise<StoredImage>;
  /** Imports a `docker save` tar or an OCI image layout tar; all images in it, or none on failure. */
  importArchive(path: string): Promise<StoredImage[]>;
  list(): Promise<StoredImage[]>;
  /** By id (full or unique prefix), or by name (`repo:tag`, normalised as `pull` does). */
  get(idOrName: string): Promise<StoredImage | null>;
  /** Forgets the image; its layers stay until `garbageCollect`. Refuses (throws) while a root filesystem uses it. */
  remove(idOrName: string): Promise<void>;
  /**
   * Mounts a container's root filesystem: overlayfs with the image's unpacked layers as lower
   * dirs and the container's own upper/work dirs. Idempotent (an existing mount is returned).
   * On failure nothing is mounted and the container's dirs are removed.
   */
  mountRootfs(imageId: string, containerId: string): Promise<string>;
  /** Unmounts and deletes the container's upper layer. Idempotent. */
  removeRootfs(containerId: string): Promise<void>;
  /** Container ids that have a root filesystem (mounted or not) in this store. */
  listRootfs(): Promise<string[]>;
  /** Removes blobs and unpacked layers no stored image references. */
  garbageCollect(): Promise<{ readonly removedLayers: number; readonly freedBytes: number }>;
}

export interface ImageStoreOptions {
  readonly owner: string;
  /** Where blobs, unpacked layers, image records and container upper dirs live. */
  readonly root: string;
  /** Registries reachable over plain http (loopback ones always are), as `host:port`. */
  readonly insecureRegistries: readonly string[];
}

// ---------------------------------------------------------------- containers

export interface ContainerLimits {
  /** CPUs (fractions allowed), as a CFS quota; null: no limit. */
  readonly cpu: number | null;
  readonly memoryBytes: number | null;
  readonly pids: number | null;
}

export interface ContainerSpec {
  /** The container's UUID (Zun's `uuid`). */
  readonly id: string;
  /** From `ImageStore.mountRootfs`. */
  readonly rootfs: string;
  /** The process to run: entrypoint + command already merged as Docker does. */
  readonly args: readonly string[];
  /** `KEY=value` entries, image env merged with the container's. */
  readonly env: readonly string[];
  readonly workdir: string;
  readonly hostname: string;
  /** `uid[:gid]` or a user name from the image; empty: root. */
  readonly user: string;
  /** The network namespace to join (created with `ensureNetns`), or null for a private, unconnected one. */
  readonly netns: string | null;
  readonly limits: ContainerLimits;
  readonly tty: boolean;
  /** Keep stdin open. */
  readonly interactive: boolean;
  /** Bind mounts: files Kumo writes (/etc/hosts, /etc/resolv.conf) and volumes. */
  readonly mounts: readonly { readonly source: string; readonly destination: string; readonly readonly: boolean }[];
  readonly labels: Readonly<Record<string, string>>;
}

export type RuntimeState = 'created' | 'running' | 'paused' | 'stopped';

export interface ObservedContainer {
  readonly id: string;
  readonly state: RuntimeState;
  readonly pid: number | null;
  /** Set once stopped, from conmon's exit file. */
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface ExecResult {
  readonly exitCode: number;
  /** stdout and stderr interleaved, as Zun returns them. */
  readonly output: string;
}

/**
 * A process started in a running container on a pseudo-terminal, for a user at a keyboard (Zun's
 * interactive exec). Bytes go in and come out as a terminal makes them; the process ends when it
 * exits or `close` hangs the terminal up.
 */
export interface InteractiveSession {
  write(data: Uint8Array): void;
  /** Terminal output, as it comes. */
  onOutput(listener: (data: Uint8Array) => void): void;
  /** Resolves once the process and its terminal are gone: 0, or non-zero when it could not be started (its exit code is not known). */
  readonly exited: Promise<number | null>;
  /** Sets the terminal's size (the process gets SIGWINCH); a no-op once it has exited. */
  resize(columns: number, rows: number): Promise<void>;
  /** Hangs the terminal up; the process gets SIGHUP. Nothing is left once `exited` resolves. */
  close(): void;
}

export interface LogOptions {
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** Last N lines; null: all. */
  readonly tail: number | null;
  /** Only lines at or after this time (ISO-8601). */
  readonly since: string | null;
  readonly timestamps: boolean;
}

export interface ContainerRuntime {
  /** Creates (if missing) the network namespace the container will join; returns its name. */
  ensureNetns(containerId: string): Promise<string>;
  removeNetns(containerId: string): Promise<void>;
  /**
   * Creates the container (conmon + `runc create`): it exists, stopped before its first
   * instruction, with its stdio held by conmon and logged. On failure nothing is left
   * (no runc state, no conmon, no bundle dir).
   */
  create(spec: ContainerSpec): Promise<void>;
  start(id: string): Promise<void>;
  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSeconds`. Stopped containers: no-op. */
  stop(id: string, timeoutSeconds: number, signal?: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** Removes the container (killing it first when `force`); keeps nothing but what `logs` needs until `removeLogs`. */
  delete(id: string, force: boolean): Promise<void>;
  update(id: string, limits: ContainerLimits): Promise<void>;
  exec(id: string, args: readonly string[], options?: { readonly env?: readonly string[]; readonly workdir?: string; readonly timeoutMs?: number }): Promise<ExecResult>;
  /** Starts `args` in the running container on a terminal of its own; fails (and starts nothing) when the container is not running. */
  execInteractive(id: string, args: readonly string[]): Promise<InteractiveSession>;
  logs(id: string, options: LogOptions): Promise<string>;
  removeLogs(id: string): Promise<void>;
  /** `ps`-like rows of the container's processes: titles and rows. */
  top(id: string): Promise<{ readonly titles: readonly string[]; readonly processes: readonly (readonly string[])[] }>;
  stats(id: string): Promise<{ readonly cpuNanos: number; readonly memoryBytes: number; readonly memoryLimitBytes: number | null; readonly pids: number }>;
  /** Writes a tar's contents into the container at `path` (a directory). */
  putArchive(id: string, path: string, tar: Buffer): Promise<void>;
  /** A tar of `path` inside the container. */
  getArchive(id: string, path: string): Promise<Buffer>;
  state(id: string): Promise<ObservedContainer | null>;
  /** Every container of this owner on the host, with its state (what a restarted agent reconciles against). */
  list(): Promise<ObservedContainer[]>;
}

export interface ContainerRuntimeOptions {
  readonly owner: string;
  /** Bundles, conmon pid/exit files, logs live here. */
  readonly stateDir: string;
  /** `runc` (default) or another OCI runtime binary with runc's CLI (crun). */
  readonly runtimePath: string;
  readonly conmonPath: string;
  /**
   * Directories below which root filesystems are mounted while the runtime runs (the image store's).
   * Only used when the runtime needs a private mount namespace (crun on a hybrid cgroup host): they
   * are made shared mount points so those mounts reach it.
   */
  readonly sharedMountRoots?: readonly string[];
}
