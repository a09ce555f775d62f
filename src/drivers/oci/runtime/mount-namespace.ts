/**
 * The private mount namespace crun needs on a hybrid cgroup host.
 *
 * crun 1.8 refuses a host that mounts cgroup v1 controllers and the v2 `unified` hierarchy side by
 * side ("cgroups in hybrid mode not supported"), which is Debian 12's default without systemd's
 * unified boot. In a mount namespace where /sys/fs/cgroup/unified is unmounted it sees a pure v1
 * host and works; the host itself is unchanged. Measured on the 2-core host (shared/tools/probe
 * crun-compare.sh, 300 containers, 8 at a time): crun called directly inside one such namespace
 * brought up 52/s against runc's 33/s, while a wrapper that makes a namespace per call (an
 * unshare copies the whole mount table each time) was no faster than runc (35/s).
 *
 * So the runtime keeps one namespace for as long as it runs: the shell that starts crun and conmon
 * lives in it (see shell-runner.ts `wrap`), it is a slave of the host's shared mounts, and the
 * directories below which root filesystems and network namespaces are mounted afterwards are made
 * shared mount points first, so those mounts and their unmounts reach it.
 * @module
 */
import { unescapeMountField } from '../image/overlay-mount.js';

/** What the runtime shell is started under: a new mount namespace, every mount a slave of its host peer. */
export const PRIVATE_MOUNT_NS_WRAP = ['unshare', '--mount', '--propagation', 'slave', '--'] as const;

/** The runtime shell's first line inside that namespace. */
export const HYBRID_CGROUP_SETUP = 'umount /sys/fs/cgroup/unified 2>/dev/null';

/** The v2 hierarchy a hybrid host mounts next to the v1 controllers. */
export const UNIFIED_CGROUP_MARKER = '/sys/fs/cgroup/unified/cgroup.controllers';

interface MountPoint {
  readonly mountPoint: string;
  readonly shared: boolean;
}


/** Mount points with their propagation (the optional `shared:N` field of proc(5) mountinfo); the last entry of a path wins. */
export function parseMountPropagation(text: string): Map<string, MountPoint> {
  const result = new Map<string, MountPoint>();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    const mountPoint = unescapeMountField(fields[4]);
    result.set(mountPoint, { mountPoint, shared: fields.slice(6, dash).some((f) => f.startsWith('shared:')) });
  }
  return result;
}

/**
 * The commands that make `dir` (an absolute, resolved path) a shared mount point: nothing when it
 * is one, `--make-shared` when it is a private mount point, else a bind mount onto itself first
 * (what `ip netns add` does for /run/netns).
 */
export function makeSharedArgv(mounts: ReadonlyMap<string, MountPoint>, dir: string): string[][] {
  const entry = mounts.get(dir);
  if (entry?.shared) return [];
  const share = ['mount', '--make-shared', dir];
  return entry ? [share] : [['mount', '--bind', dir, dir], share];
}
