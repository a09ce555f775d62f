/**
 * Names of the host objects the container runtime owns, and where its files live.
 *
 * Every host object carries the owner label and the container's UUID, so a restarted agent can
 * list what it owns and never touches anyone else's: the runc id is `<owner>-<uuid>`, the cgroup
 * is `/kumo/<owner>-<uuid>`, the network namespace `kumo-ctr-<owner>-<uuid>`. Files live under the
 * runtime's state dir, which is the owner's alone (runc's `--root` is inside it too).
 * @module
 */
import path from 'node:path';

const OWNER_PATTERN = /^[a-z0-9]{1,8}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidOwner(owner: string): boolean {
  return OWNER_PATTERN.test(owner);
}

export function isUuid(id: string): boolean {
  return UUID_PATTERN.test(id);
}

/** The runc container id (also conmon's `--cid` and the exit file's name). */
export function runcId(owner: string, containerId: string): string {
  return `${owner}-${containerId}`;
}

/** The container UUID of one of this owner's runc ids, or null for anything else. */
export function parseRuncId(owner: string, id: string): string | null {
  const prefix = `${owner}-`;
  if (!id.startsWith(prefix)) return null;
  const uuid = id.slice(prefix.length);
  return isUuid(uuid) ? uuid : null;
}

/**
 * The cgroup path handed to runc (cgroupfs driver, absolute: relative to each hierarchy's root,
 * the same string on cgroup v1 and v2).
 */
export function cgroupsPath(owner: string, containerId: string): string {
  return `/kumo/${runcId(owner, containerId)}`;
}

/** Network namespace names are files in /run/netns, so the 15-byte interface limit does not apply. */
export function netnsName(owner: string, containerId: string): string {
  return `kumo-ctr-${owner}-${containerId}`;
}

export const NETNS_DIR = '/var/run/netns';

/** Where one runtime keeps its files. */
export interface StateLayout {
  /** runc's `--root`: Kumo's runc state, apart from anyone else's runc containers. */
  readonly runcRoot: string;
  /** conmon's `--exit-dir`: one file per runc id holding the exit status. */
  readonly exitDir: string;
  /** conmon's `--socket-dir-path`: a short symlink per container to its bundle (attach socket). */
  readonly socketDir: string;
  /** Container logs, kept after delete until `removeLogs`. */
  readonly logDir: string;
  /** One bundle dir per container. */
  readonly containersDir: string;
}

export function stateLayout(stateDir: string): StateLayout {
  const root = path.resolve(stateDir);
  return {
    runcRoot: path.join(root, 'runc'),
    exitDir: path.join(root, 'exits'),
    socketDir: path.join(root, 'sockets'),
    logDir: path.join(root, 'logs'),
    containersDir: path.join(root, 'containers'),
  };
}

/** The files of one container. */
export interface ContainerPaths {
  readonly bundle: string;
  readonly config: string;
  /** Kumo's own record of the container (rootfs, times). */
  readonly meta: string;
  readonly conmonPidFile: string;
  readonly containerPidFile: string;
  /** Written by conmon (its `--persist-dir` is the bundle) when the cgroup saw an OOM kill. */
  readonly oomFile: string;
  readonly exitFile: string;
  readonly logFile: string;
  readonly socketLink: string;
}

export function containerPaths(layout: StateLayout, owner: string, containerId: string): ContainerPaths {
  const bundle = path.join(layout.containersDir, containerId);
  return {
    bundle,
    config: path.join(bundle, 'config.json'),
    meta: path.join(bundle, 'kumo.json'),
    conmonPidFile: path.join(bundle, 'conmon.pid'),
    containerPidFile: path.join(bundle, 'container.pid'),
    oomFile: path.join(bundle, 'oom'),
    exitFile: path.join(layout.exitDir, runcId(owner, containerId)),
    logFile: path.join(layout.logDir, `${containerId}.log`),
    socketLink: path.join(layout.socketDir, containerId),
  };
}

/** Annotation keys on every container's OCI config. */
export const ANNOTATION = {
  owner: 'kumo.owner',
  containerId: 'kumo.container-id',
} as const;
