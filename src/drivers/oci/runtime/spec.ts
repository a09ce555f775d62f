/**
 * The OCI runtime spec (`config.json`) of a container, built from a ContainerSpec: what Docker
 * would give the same container (default capabilities, seccomp profile, masked and read-only
 * /proc paths, mounts, no new privileges), with Kumo's ownership annotations, cgroup and network
 * namespace. Pure: everything read from the host (the user's ids, cgroup facts) comes in as data.
 * @module
 */
import type { ContainerLimits, ContainerSpec } from '../types.js';
import {
  AF_VSOCK, ALLOWED_PERSONALITIES, ALLOWED_SYSCALLS, ARCHITECTURES, CLONE_NAMESPACE_FLAGS, ENOSYS, EPERM,
} from './seccomp-default.js';
import { ANNOTATION, NETNS_DIR } from './naming.js';
import type { ResolvedUser } from './user.js';

// ---- the parts of the runtime-spec schema Kumo writes ----

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: OciSeccompRule[];
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: { type: string; hard: number; soft: number }[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface OciResources {
  devices: { allow: boolean; access: string; type?: string; major?: number; minor?: number }[];
  memory?: { limit?: number; swap?: number };
  cpu?: { quota?: number; period?: number };
  pids?: { limit: number };
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    namespaces: { type: string; path?: string }[];
    resources: OciResources;
    cgroupsPath: string;
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp: OciSeccomp;
  };
}

// ---- Docker's defaults ----

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const CPU_PERIOD_US = 100_000;
/** The kernel refuses CFS quotas under 1 ms. */
const MIN_CPU_QUOTA_US = 1_000;

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
}

/**
 * Annotation keys a runtime acts on rather than stores: crun's `run.oci.*` swaps the seccomp filter,
 * keeps supplementary groups or picks another handler; CRI, Kata and CRIU keys steer those tools;
 * `kumo.*` is Kumo's own. A tenant's labels with these keys would change how the container is
 * confined, so they stay in the API's record and out of the bundle.
 */
const RUNTIME_ANNOTATION_PREFIXES = ['run.oci.', 'runc.', 'org.criu.', 'io.kubernetes.', 'io.katacontainers.', 'io.containerd.', 'module.wasm.', 'org.opencontainers.', 'kumo.'];

/** The container's labels that may go into its OCI annotations. */
export function labelAnnotations(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([key]) => !RUNTIME_ANNOTATION_PREFIXES.some((p) => key.toLowerCase().startsWith(p))));
}

/** Docker's default seccomp profile for this architecture (Node's `process.arch` name). */
export function defaultSeccompProfile(arch: string): OciSeccomp {
  const archInfo = ARCHITECTURES[arch] ?? { scmp: [], extra: [] };
  // s390 passes clone's flags in the second argument.
  const cloneFlagsIndex = arch === 's390x' ? 1 : 0;
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: [...archInfo.scmp],
    syscalls: [
      { names: [...ALLOWED_SYSCALLS, ...archInfo.extra], action: 'SCMP_ACT_ALLOW' },
      ...ALLOWED_PERSONALITIES.map((value) => ({
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
      })),
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: cloneFlagsIndex, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
    ],
  };
}

/** Host facts the spec depends on. */
export interface HostFacts {
  /** The memory cgroup can limit swap (v1 memory.memsw.*, v2 memory.swap.max). */
  readonly swapLimit: boolean;
  /** The host runs the unified hierarchy only (a private cgroup namespace then, as Docker does). */
  readonly cgroupV2: boolean;
  /** Node's `process.arch`. */
  readonly arch: string;
  /** RLIMIT_NOFILE (soft = hard), see host-limits.ts. */
  readonly nofile: number;
}

export interface SpecContext {
  readonly owner: string;
  readonly cgroupsPath: string;
  readonly user: ResolvedUser;
  readonly host: HostFacts;
}

/** OCI resources for the limits; null fields are left out (unlimited). */
export function limitsToResources(limits: ContainerLimits, swapLimit: boolean): Omit<OciResources, 'devices'> {
  const out: Omit<OciResources, 'devices'> = {};
  if (limits.memoryBytes !== null) {
    // memory+swap equal to memory: no swap on top of the limit (Docker's --memory alone would allow as much again).
    out.memory = swapLimit ? { limit: limits.memoryBytes, swap: limits.memoryBytes } : { limit: limits.memoryBytes };
  }
  if (limits.cpu !== null) out.cpu = { quota: cpuQuota(limits.cpu), period: CPU_PERIOD_US };
  if (limits.pids !== null) out.pids = { limit: limits.pids };
  return out;
}

export function cpuQuota(cpus: number): number {
  return Math.max(MIN_CPU_QUOTA_US, Math.round(cpus * CPU_PERIOD_US));
}

/** The limits for `runc update -r -`: explicit "unlimited" (-1) where the limit is null. */
/**
 * The resources of an update; null limits are written as -1 (unlimited). `minusOne` false (crun):
 * a null cpu or pids limit is left out (unchanged) instead, since crun 1.8 writes -1 into cgroup v1's
 * cpu.cfs_quota_us and pids.max unsigned or as is ("Numerical result out of range", "Invalid
 * argument"); such a limit, once set, is then changed but not lifted. Kumo never sets pids.
 */
export function limitsToUpdate(limits: ContainerLimits, swapLimit: boolean, minusOne = true): Omit<OciResources, 'devices'> {
  const memory = limits.memoryBytes ?? -1;
  return {
    memory: swapLimit ? { limit: memory, swap: memory } : { limit: memory },
    ...(limits.cpu !== null ? { cpu: { quota: cpuQuota(limits.cpu), period: CPU_PERIOD_US } } : minusOne ? { cpu: { quota: -1, period: CPU_PERIOD_US } } : {}),
    ...(limits.pids !== null || minusOne ? { pids: { limit: limits.pids ?? -1 } } : {}),
  };
}

const envName = (entry: string) => entry.split('=', 1)[0];

/** The container's environment: its own entries first, plus what Docker adds when missing. */
export function containerEnv(spec: ContainerSpec, user: ResolvedUser): string[] {
  const env = [...spec.env];
  const has = (name: string) => env.some((e) => envName(e) === name);
  if (!has('PATH')) env.push(DEFAULT_PATH_ENV);
  if (!has('HOSTNAME') && spec.hostname) env.push(`HOSTNAME=${spec.hostname}`);
  if (!has('HOME')) env.push(`HOME=${user.home}`);
  if (spec.tty && !has('TERM')) env.push('TERM=xterm');
  return env;
}

export function buildRuntimeSpec(spec: ContainerSpec, ctx: SpecContext): OciSpec {
  if (spec.args.length === 0) throw new Error('a container needs a command (args is empty)');
  const caps = [...DEFAULT_CAPABILITIES];
  const binds: OciMount[] = spec.mounts.map((m) => ({
    destination: m.destination,
    type: 'bind',
    source: m.source,
    options: ['rbind', 'rprivate', m.readonly ? 'ro' : 'rw'],
  }));
  // A bind on one of the default destinations (a volume on /dev/shm) replaces the default.
  const bound = new Set(binds.map((m) => m.destination.replace(/\/+$/, '')));
  const mounts = [...defaultMounts().filter((m) => !bound.has(m.destination)), ...binds];

  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    spec.netns ? { type: 'network', path: spec.netns.startsWith('/') ? spec.netns : `${NETNS_DIR}/${spec.netns}` } : { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (ctx.host.cgroupV2) namespaces.push({ type: 'cgroup' });

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: spec.tty,
      user: {
        uid: ctx.user.uid,
        gid: ctx.user.gid,
        ...(ctx.user.additionalGids.length ? { additionalGids: [...ctx.user.additionalGids] } : {}),
      },
      args: [...spec.args],
      env: containerEnv(spec, ctx.user),
      cwd: spec.workdir || '/',
      // Inheritable stays empty (CVE-2022-24769); a non-root process loses the rest at execve anyway.
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: ctx.host.nofile, soft: ctx.host.nofile }],
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts,
    annotations: { ...labelAnnotations(spec.labels), [ANNOTATION.owner]: ctx.owner, [ANNOTATION.containerId]: spec.id },
    linux: {
      namespaces,
      resources: {
        // Deny all; runc appends the standard allowed set (null, zero, full, tty, urandom, random, pts, ...).
        devices: [{ allow: false, access: 'rwm' }],
        ...limitsToResources(spec.limits, ctx.host.swapLimit),
      },
      cgroupsPath: ctx.cgroupsPath,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      seccomp: defaultSeccompProfile(ctx.host.arch),
    },
  };
}
