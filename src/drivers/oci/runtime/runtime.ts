/**
 * The runc + conmon implementation of `ContainerRuntime`.
 *
 * Everything it knows lives on disk, so a new instance over the same state dir (after a restart,
 * even a kill -9) sees what the old one left: runc's state under its own `--root`, conmon's exit
 * and OOM files, the bundle with its `config.json` and Kumo's `kumo.json` (rootfs, start time),
 * and the log. There is no in-memory container table; operations on one container are serialised
 * so a stop and a delete never interleave.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { accessSync, existsSync, constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { CHILD_PATH, createShellRunner, shellQuote } from '../../../lib/shell-runner.js';
import { findBinary } from '../../../lib/find-binary.js';
import { keyedMutex } from '../../../lib/keyed-mutex.js';
import { KumoError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type {
  ContainerLimits, ContainerRuntime, ContainerRuntimeOptions, ContainerSpec, ExecResult, InteractiveSession, LogOptions, ObservedContainer,
} from '../types.js';
import { createArchive, extractArchive } from './archive.js';
import { detectCgroupHost, readOomKilled, readPids, readStats, type CgroupHost } from './cgroups.js';
import { createCommandRunner, type CommandResult, type CommandRunner } from './command-runner.js';
import { buildConmonArgv, createConmonLauncher, createShellConmonLauncher, type ConmonLauncher } from './conmon.js';
import { parseK8sLog, renderLogs } from './logs.js';
import {
  cgroupsPath, containerPaths, isUuid, NETNS_DIR, isValidOwner, netnsName, parseRuncId, runcId, stateLayout, type ContainerPaths,
} from './naming.js';
import { detectNofileLimit } from './host-limits.js';
import { HYBRID_CGROUP_SETUP, makeSharedArgv, parseMountPropagation, PRIVATE_MOUNT_NS_WRAP, UNIFIED_CGROUP_MARKER } from './mount-namespace.js';
import { ensureNamedNetns, removeNamedNetns } from './netns.js';
import { resolveInRoot } from './rootfs-path.js';
import { listRuncIds, readRuncState } from './runc-state.js';
import {
  isNotExistError, normalizeSignal, parseRuncList, parseRuncState, runcArgv, runcErrorMessage, runcGlobalArgs, toRuntimeState,
  type RuncCli, type RuncState,
} from './runc.js';
import { CRUN_SECCOMP_FILE, createSeccompFilterCache, SECCOMP_BPF_ANNOTATION } from './seccomp-filter-cache.js';
import { buildRuntimeSpec, limitsToResources, limitsToUpdate, type OciProcess, type OciSpec } from './spec.js';
import { formatTopRow, parseBootTime, readProcesses, TOP_TITLES } from './top.js';
import { parsePasswd, readUserDatabase, resolveUser } from './user.js';

/** Tunables and test seams; production passes none. */
export interface RuntimeDeps {
  readonly runner?: CommandRunner;
  readonly conmon?: ConmonLauncher;
  readonly cgroupHost?: CgroupHost;
  /** RLIMIT_NOFILE for containers (default: detected, see host-limits.ts). */
  readonly nofile?: number;
  readonly now?: () => Date;
  /** conmon truncates a container's log when it grows past this (bytes). */
  readonly logSizeMax?: number;
  /** How long `runc create` under conmon may take. */
  readonly createTimeoutMs?: number;
  /** How long a container may take to die after SIGKILL. */
  readonly killTimeoutMs?: number;
  readonly pollIntervalMs?: number;
}

/** Kumo's own record of a container, next to its bundle. */
interface ContainerMeta {
  readonly id: string;
  readonly rootfs: string;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly tty: boolean;
  readonly interactive: boolean;
}

/** What the environment of conmon and runc is: nothing of Kumo's own (database URLs, secrets). */
const CHILD_ENV = { PATH: CHILD_PATH };
const MAX_EXEC_OUTPUT = 16 * 1024 * 1024;
/** Exit code of an exec that ran out of time, as timeout(1) reports it. */
export const EXEC_TIMEOUT_EXIT_CODE = 124;

const toBytes = (r: { code: number; stdout: string; stderr: string }): CommandResult => ({ ...r, stdout: Buffer.from(r.stdout) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** An executable by absolute path, or looked up in PATH plus the sbin dirs (runc lives in /usr/sbin). */
export function findExecutable(name: string): string | null {
  if (!name.includes('/')) return findBinary(name) ?? null;
  try {
    accessSync(path.resolve(name), fsConstants.X_OK);
    return path.resolve(name);
  } catch {
    return null;
  }
}

export function createRuncContainerRuntime(options: ContainerRuntimeOptions, logger: Logger, deps: RuntimeDeps = {}): ContainerRuntime {
  const owner = options.owner;
  if (!isValidOwner(owner)) throw new KumoError('ERR_VALIDATION', `container runtime owner must be 1-8 characters [a-z0-9], got ${JSON.stringify(owner)}`);
  const layout = stateLayout(options.stateDir);
  const runner = deps.runner ?? createCommandRunner();
  // runc, ip netns and conmon are started by a long-lived shell rather than forked from Node (see
  // shell-runner.ts). What needs bytes on stdin or the output on a given fd (exec, archives) is
  // still spawned directly; a runner given by a test takes everything.
  const shell = deps.runner ? null : createShellRunner();
  const hostRunner: CommandRunner = shell
    ? { run: async (argv, o = {}) => (o.input !== undefined || o.outputFd !== undefined ? runner.run(argv, o) : toBytes(await shell.run(argv, { timeoutMs: o.timeoutMs }))) }
    : runner;
  // crun on a hybrid cgroup host: the runtime and conmon run in a private mount namespace of their
  // own (see mount-namespace.ts); network namespaces are still made in the host's.
  const privateNamespace = shell !== null && path.basename(options.runtimePath || 'runc') === 'crun' && existsSync(UNIFIED_CGROUP_MARKER);
  const runtimeShell = privateNamespace ? createShellRunner({ wrap: PRIVATE_MOUNT_NS_WRAP, setup: HYBRID_CGROUP_SETUP }) : shell;
  const runtimeRunner: CommandRunner = runtimeShell && privateNamespace
    ? {
      run: async (argv, o = {}) => o.outputFd !== undefined
        ? runner.run(runtimeCommand(argv), o)
        : toBytes(await runtimeShell.run(argv, { input: o.input === undefined ? undefined : String(o.input), timeoutMs: o.timeoutMs })),
    }
    : hostRunner;
  const launcher = deps.conmon ?? (runtimeShell ? createShellConmonLauncher(runtimeShell) : createConmonLauncher());
  /** A runtime command line for a process Kumo starts itself: inside the runtime's mount namespace when it has one. */
  const runtimeCommand = (argv: readonly string[]): string[] => (privateNamespace ? ['nsenter', `--mount=/proc/${runtimeShell!.shellPid()}/ns/mnt`, '--', ...argv] : [...argv]);
  const now = deps.now ?? (() => new Date());
  const logSizeMax = deps.logSizeMax ?? 32 * 1024 * 1024;
  const createTimeoutMs = deps.createTimeoutMs ?? 60_000;
  const killTimeoutMs = deps.killTimeoutMs ?? 10_000;
  const pollMs = deps.pollIntervalMs ?? 25;
  const log = logger.child({ component: 'oci-runtime', owner });
  const withLock = keyedMutex();
  const seccompFilters = createSeccompFilterCache();
  /** Containers this instance created and has not started since: start() may skip asking their state. */
  const justCreated = new Set<string>();

  interface Ready { cli: RuncCli; conmonPath: string; cgroup: CgroupHost; nofile: number }
  let ready: Promise<Ready> | null = null;
  function init(): Promise<Ready> {
    ready ??= (async () => {
      const runtimePath = findExecutable(options.runtimePath || 'runc');
      if (!runtimePath) throw new KumoError('ERR_INTERNAL', `OCI runtime ${options.runtimePath || 'runc'} not found (Debian package: runc)`);
      const conmonPath = findExecutable(options.conmonPath || 'conmon');
      if (!conmonPath) throw new KumoError('ERR_INTERNAL', `conmon ${options.conmonPath || 'conmon'} not found (Debian package: conmon)`);
      for (const dir of [layout.runcRoot, layout.exitDir, layout.socketDir, layout.logDir, layout.containersDir]) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      }
      if (privateNamespace) {
        // Before the namespace exists: mounts made below these later must reach it.
        const mounts = parseMountPropagation(await readFile('/proc/self/mountinfo', 'utf8'));
        for (const dir of [NETNS_DIR, ...(options.sharedMountRoots ?? [])]) {
          await mkdir(dir, { recursive: true, mode: 0o755 });
          for (const argv of makeSharedArgv(mounts, await realpath(dir))) {
            const r = await hostRunner.run(argv);
            if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `${argv.join(' ')}: ${r.stderr.toString().trim()}`);
          }
        }
        log.info({ pid: runtimeShell!.shellPid() }, 'crun runs in a private mount namespace without the unified cgroup hierarchy');
      }
      const cgroup = deps.cgroupHost ?? (await detectCgroupHost());
      const nofile = deps.nofile ?? (await detectNofileLimit());
      return { cli: { runtimePath, root: layout.runcRoot }, conmonPath, cgroup, nofile };
    })();
    ready.catch(() => {
      ready = null;
    });
    return ready;
  }

  const pathsOf = (id: string): ContainerPaths => containerPaths(layout, owner, id);

  function checkId(id: string): void {
    if (!isUuid(id)) throw new KumoError('ERR_VALIDATION', `container id must be a lower-case UUID, got ${JSON.stringify(id)}`);
  }

  // ---- runc ----

  async function runc(argv: string[], input?: string): Promise<CommandResult> {
    log.debug({ argv }, 'runc');
    return runtimeRunner.run(argv, { input, env: CHILD_ENV, timeoutMs: 120_000 });
  }

  /** Runs a runc subcommand that must succeed; maps "does not exist" and state conflicts to user errors. */
  async function runcOrThrow(id: string, what: string, argv: string[], input?: string): Promise<void> {
    const r = await runc(argv, input);
    if (r.code === 0) return;
    const msg = runcErrorMessage(r.stderr);
    if (isNotExistError(msg)) throw new KumoError('ERR_NOT_FOUND', `container ${id} does not exist`);
    if (/not running|not paused|is paused|is stopped|cannot (?:pause|resume)|already|container is not/i.test(msg)) {
      throw new KumoError('ERR_CONFLICT', `cannot ${what} container ${id}: ${msg}`);
    }
    throw new KumoError('ERR_INTERNAL', `runc ${what} ${id}: ${msg}`);
  }

  async function runcState(cli: RuncCli, id: string): Promise<RuncState | null> {
    if (readsStateFiles(cli)) {
      try {
        return await readRuncState(cli.root, runcId(owner, id));
      } catch (err) {
        log.debug({ id, err: message(err) }, 'runc state file not understood; asking runc');
      }
    }
    const r = await runc(runcArgv.state(cli, runcId(owner, id)));
    if (r.code === 0) return parseRuncState(r.stdout.toString('utf8'));
    const msg = runcErrorMessage(r.stderr);
    if (isNotExistError(msg)) return null;
    throw new KumoError('ERR_INTERNAL', `runc state ${id}: ${msg}`);
  }

  function isRunc(cli: RuncCli): boolean {
    return path.basename(cli.runtimePath) === 'runc';
  }

  /** crun loads a filter from an annotation instead of compiling the seccomp section (seccomp-filter-cache.ts). */
  function takesCompiledSeccomp(cli: RuncCli): boolean {
    return path.basename(cli.runtimePath) === 'crun';
  }

  /** Keeps the filter crun compiled for a container's profile, for the next containers; without one they compile their own. */
  async function learnSeccompFilter(cli: RuncCli, id: string, seccomp: unknown): Promise<void> {
    const file = path.join(cli.root, runcId(owner, id), CRUN_SECCOMP_FILE);
    const filter = await readFile(file).catch(() => null);
    if (filter && seccompFilters.learn(seccomp, filter)) log.info({ id, bytes: filter.length }, 'seccomp filter compiled by the runtime kept for the next containers');
    else log.debug({ id, file }, 'no seccomp filter to keep from this container');
  }

  /** runc's state files are read directly (see runc-state.ts); any other runtime is asked. */
  function readsStateFiles(cli: RuncCli): boolean {
    return isRunc(cli);
  }

  // ---- files ----

  async function readMeta(id: string): Promise<ContainerMeta | null> {
    const text = await readTextOrNull(pathsOf(id).meta);
    return text ? (JSON.parse(text) as ContainerMeta) : null;
  }

  async function writeMeta(id: string, meta: ContainerMeta): Promise<void> {
    await writeFile(pathsOf(id).meta, JSON.stringify(meta), { mode: 0o600 });
  }

  async function readExit(paths: ContainerPaths): Promise<{ code: number | null; finishedAt: string } | null> {
    try {
      const [text, st] = await Promise.all([readFile(paths.exitFile, 'utf8'), stat(paths.exitFile)]);
      const n = Number(text.trim());
      // conmon writes -1 when it could not learn the status (its own timeout).
      return { code: Number.isInteger(n) && n >= 0 ? n : null, finishedAt: st.mtime.toISOString() };
    } catch (err) {
      if (errCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  /** The pid of the container's conmon while it runs (checked against its argv, so a reused pid is not taken for it). */
  async function conmonPid(id: string): Promise<number | null> {
    const text = await readTextOrNull(pathsOf(id).conmonPidFile);
    const pid = Number((text ?? '').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const cmdline = await readTextOrNull(`/proc/${pid}/cmdline`).catch(() => null);
    if (!cmdline) return null;
    const argv = cmdline.split('\0');
    return argv[0]?.endsWith('conmon') && argv.includes(runcId(owner, id)) ? pid : null;
  }

  /** Waits until the container has exited and conmon has recorded it (or is gone); false on timeout. */
  async function waitForExit(cli: RuncCli, id: string, timeoutMs: number): Promise<boolean> {
    const paths = pathsOf(id);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await exists(paths.exitFile)) return true;
      if ((await conmonPid(id)) === null) {
        const rs = await runcState(cli, id);
        if (!rs || rs.status === 'stopped') return true;
      }
      if (Date.now() >= deadline) return false;
      await sleep(pollMs);
    }
  }

  async function waitForConmonExit(id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = await conmonPid(id);
      if (pid === null) return;
      if (Date.now() >= deadline) {
        log.warn({ id, pid }, 'conmon still running after its container ended; killing it');
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        return;
      }
      await sleep(pollMs);
    }
  }

  // ---- observing ----

  async function observe(ready: Ready, id: string, rs: RuncState | null): Promise<ObservedContainer | null> {
    const paths = pathsOf(id);
    const meta = await readMeta(id);
    if (!rs && !meta) return null;
    const state = rs ? toRuntimeState(rs.status) : 'stopped';
    let exit = await readExit(paths);
    if (state === 'stopped' && rs && !exit && (await conmonPid(id)) !== null) {
      // The process is gone and conmon is draining its output; the status follows within moments.
      const deadline = Date.now() + 2_000;
      while (!exit && Date.now() < deadline && (await conmonPid(id)) !== null) {
        await sleep(pollMs);
        exit = await readExit(paths);
      }
      exit ??= await readExit(paths);
    }
    let oomKilled = false;
    if (state === 'stopped') {
      oomKilled = await exists(paths.oomFile);
      if (!oomKilled && rs && (await readOomKilled(ready.cgroup, cgroupsPath(owner, id))) === true) {
        // conmon did not see it (it was killed, or its event never came); the cgroup's counter did, until runc delete removes it.
        oomKilled = true;
        await writeFile(paths.oomFile, '').catch(() => undefined);
      }
    }
    return {
      id,
      state,
      pid: state !== 'stopped' && rs && rs.pid > 0 ? rs.pid : null,
      exitCode: state === 'stopped' ? exit?.code ?? null : null,
      oomKilled,
      startedAt: meta?.startedAt ?? null,
      finishedAt: state === 'stopped' ? exit?.finishedAt ?? null : null,
    };
  }

  /** The runtime keeps a dir per container under its root: without one there is nothing to ask it about. */
  const hasRuntimeDir = (cli: RuncCli, id: string) => exists(path.join(cli.root, runcId(owner, id)));

  async function requireState(cli: RuncCli, id: string): Promise<RuncState> {
    const rs = await runcState(cli, id);
    if (!rs) throw new KumoError('ERR_NOT_FOUND', `container ${id} does not exist`);
    return rs;
  }

  /**
   * The start of every exec: the container must be running; the process spec for `args` (the
   * container's own process with these args, `env` added, `fallbackEnv` entries only where the
   * container sets no such name) is written next to its bundle, with the pid file's name.
   */
  async function prepareExec(id: string, args: readonly string[], o: { env?: readonly string[]; fallbackEnv?: readonly string[]; workdir?: string }) {
    checkId(id);
    if (args.length === 0) throw new KumoError('ERR_BAD_REQUEST', 'exec needs a command');
    const r = await init();
    const rs = await requireState(r.cli, id);
    if (rs.status !== 'running') throw new KumoError('ERR_CONFLICT', `container ${id} is ${toRuntimeState(rs.status)}, not running`);
    const config = await readConfig(id);
    const env = [...config.process.env, ...(o.env ?? [])];
    const named = new Set(env.map((e) => e.split('=', 1)[0]));
    const execProcess: OciProcess = {
      ...config.process,
      terminal: false,
      args: [...args],
      env: [...env, ...(o.fallbackEnv ?? []).filter((e) => !named.has(e.split('=', 1)[0]))],
      cwd: o.workdir || config.process.cwd,
    };
    const paths = pathsOf(id);
    const tag = randomBytes(6).toString('hex');
    const processFile = path.join(paths.bundle, `exec-${tag}.json`);
    const pidFile = path.join(paths.bundle, `exec-${tag}.pid`);
    await writeFile(processFile, JSON.stringify(execProcess), { mode: 0o600 });
    return { r, paths, tag, processFile, pidFile };
  }

  // ---- create / start ----

  async function launchConmon(r: Ready, id: string, meta: ContainerMeta): Promise<void> {
    const paths = pathsOf(id);
    const argv = buildConmonArgv({
      conmonPath: r.conmonPath,
      runtimePath: r.cli.runtimePath,
      runtimeArgs: runcGlobalArgs(r.cli),
      runcId: runcId(owner, id),
      containerId: id,
      bundle: paths.bundle,
      containerPidFile: paths.containerPidFile,
      conmonPidFile: paths.conmonPidFile,
      exitDir: layout.exitDir,
      logFile: paths.logFile,
      logSizeMax,
      socketDir: layout.socketDir,
      tty: meta.tty,
      stdin: meta.interactive,
    });
    log.debug({ id, argv }, 'starting conmon');
    const result = await launcher.launch(argv, { cwd: paths.bundle, env: CHILD_ENV, timeoutMs: createTimeoutMs });
    if ('error' in result) throw new KumoError('ERR_BAD_REQUEST', `cannot create container ${id}: ${result.error}`);
  }

  /** Whatever a failed or abandoned create left: runc state, conmon, files. */
  async function removeLeftovers(r: Ready, id: string, keepLog: boolean): Promise<void> {
    const paths = pathsOf(id);
    const del = await runc(runcArgv.delete(r.cli, runcId(owner, id), true));
    if (del.code !== 0 && !isNotExistError(runcErrorMessage(del.stderr))) {
      throw new KumoError('ERR_INTERNAL', `runc delete ${id}: ${runcErrorMessage(del.stderr)}`);
    }
    await waitForConmonExit(id, 5_000);
    await rm(paths.bundle, { recursive: true, force: true });
    await rm(paths.exitFile, { force: true });
    await rm(paths.socketLink, { force: true });
    if (!keepLog) await removeLogFiles(paths);
  }

  async function removeLogFiles(paths: ContainerPaths): Promise<void> {
    await rm(paths.logFile, { force: true });
    await rm(`${paths.logFile}.tmp`, { force: true });
  }

  /** A fresh conmon + `runc create` from the bundle a stopped container already has (Docker's restart of a stopped container). */
  async function recreate(r: Ready, id: string, meta: ContainerMeta): Promise<void> {
    const paths = pathsOf(id);
    await waitForConmonExit(id, 5_000);
    const del = await runc(runcArgv.delete(r.cli, runcId(owner, id), true));
    if (del.code !== 0 && !isNotExistError(runcErrorMessage(del.stderr))) {
      throw new KumoError('ERR_INTERNAL', `runc delete ${id}: ${runcErrorMessage(del.stderr)}`);
    }
    for (const f of [paths.exitFile, paths.oomFile, paths.containerPidFile, paths.conmonPidFile]) await rm(f, { force: true });
    await launchConmon(r, id, meta);
  }

  async function readConfig(id: string): Promise<OciSpec> {
    const text = await readTextOrNull(pathsOf(id).config);
    if (!text) throw new KumoError('ERR_NOT_FOUND', `container ${id} does not exist`);
    return JSON.parse(text) as OciSpec;
  }

  /** The container's root as its processes see it (with its mounts) while it has any, else the rootfs dir. */
  async function containerRoot(id: string, rs: RuncState): Promise<string> {
    if (rs.status !== 'stopped' && rs.pid > 0) return `/proc/${rs.pid}/root`;
    const meta = await readMeta(id);
    if (!meta) throw new KumoError('ERR_NOT_FOUND', `container ${id} does not exist`);
    return meta.rootfs;
  }

  /** Runs `fn` with the container frozen if it is running, so nothing inside can swap a path under the copy. */
  async function frozen<T>(r: Ready, id: string, rs: RuncState, fn: () => Promise<T>): Promise<T> {
    if (rs.status !== 'running') return fn();
    await runcOrThrow(id, 'pause', runcArgv.pause(r.cli, runcId(owner, id)));
    try {
      return await fn();
    } finally {
      await runcOrThrow(id, 'resume', runcArgv.resume(r.cli, runcId(owner, id))).catch((err: unknown) =>
        log.error({ id, err: message(err) }, 'could not resume container after copying'));
    }
  }

  // ---- the interface ----

  const runtime: ContainerRuntime = {
    async ensureNetns(containerId) {
      checkId(containerId);
      const name = netnsName(owner, containerId);
      await ensureNamedNetns(hostRunner, name);
      return name;
    },

    async removeNetns(containerId) {
      checkId(containerId);
      await removeNamedNetns(hostRunner, netnsName(owner, containerId));
    },

    async create(spec: ContainerSpec) {
      checkId(spec.id);
      if (spec.args.length === 0) throw new KumoError('ERR_BAD_REQUEST', 'container has no command to run');
      const r = await init();
      await withLock(spec.id, async () => {
        const paths = pathsOf(spec.id);
        // `crun state` is a process (whose start reads the host's whole mount table): asked only when the runtime has a dir for it.
        if ((await exists(paths.bundle)) || ((await hasRuntimeDir(r.cli, spec.id)) && (await runcState(r.cli, spec.id)))) {
          throw new KumoError('ERR_CONFLICT', `container ${spec.id} already exists`);
        }
        const started = Date.now();
        await mkdir(paths.bundle, { mode: 0o700 });
        try {
          const { passwd, group } = await readUserDatabase(spec.rootfs);
          const user = resolveUser(spec.user, passwd, group);
          const config = buildRuntimeSpec(spec, {
            owner,
            cgroupsPath: cgroupsPath(owner, spec.id),
            user,
            host: { swapLimit: r.cgroup.swapLimit, cgroupV2: r.cgroup.v2, arch: process.arch, nofile: r.nofile },
          });
          const compiledSeccomp = takesCompiledSeccomp(r.cli) ? seccompFilters.lookup(config.linux.seccomp) : null;
          if (compiledSeccomp) config.annotations[SECCOMP_BPF_ANNOTATION] = compiledSeccomp;
          await writeFile(paths.config, JSON.stringify(config), { mode: 0o600 });
          const meta: ContainerMeta = {
            id: spec.id, rootfs: spec.rootfs, createdAt: now().toISOString(), startedAt: null, tty: spec.tty, interactive: spec.interactive,
          };
          await writeMeta(spec.id, meta);
          await launchConmon(r, spec.id, meta);
          if (takesCompiledSeccomp(r.cli) && !compiledSeccomp) await learnSeccompFilter(r.cli, spec.id, config.linux.seccomp);
        } catch (err) {
          await removeLeftovers(r, spec.id, false).catch((cleanupErr: unknown) =>
            log.error({ id: spec.id, err: message(cleanupErr) }, 'cleanup after a failed create failed'));
          throw err;
        }
        justCreated.add(spec.id);
        log.info({ id: spec.id, ms: Date.now() - started }, 'container created');
      });
    },

    async start(id) {
      checkId(id);
      const r = await init();
      await withLock(id, async () => {
        // Just created here: `crun start` straight away, without a `crun state` first (a process per
        // container). Only a container in the created state starts; any other answer falls through
        // to the path that asks for the state.
        const fresh = justCreated.delete(id) ? await readMeta(id) : null;
        if (fresh) {
          try {
            await runcOrThrow(id, 'start', runcArgv.start(r.cli, runcId(owner, id)));
            await writeMeta(id, { ...fresh, startedAt: now().toISOString() });
            log.info({ id }, 'container started');
            return;
          } catch (err) {
            log.debug({ id, err: message(err) }, 'start of a just-created container failed; asking its state');
          }
        }
        const rs = await requireState(r.cli, id);
        const meta = await readMeta(id);
        if (!meta) throw new KumoError('ERR_NOT_FOUND', `container ${id} has no bundle`);
        if (rs.status === 'running') return;
        if (rs.status === 'paused') throw new KumoError('ERR_CONFLICT', `container ${id} is paused`);
        if (rs.status === 'stopped') await recreate(r, id, meta);
        await runcOrThrow(id, 'start', runcArgv.start(r.cli, runcId(owner, id)));
        await writeMeta(id, { ...meta, startedAt: now().toISOString() });
        log.info({ id }, 'container started');
      });
    },

    async stop(id, timeoutSeconds, signal) {
      checkId(id);
      const sig = normalizeSignal(signal || 'SIGTERM');
      if (!sig) throw new KumoError('ERR_BAD_REQUEST', `unknown signal ${JSON.stringify(signal)}`);
      const r = await init();
      await withLock(id, async () => {
        const rs = await requireState(r.cli, id);
        if (rs.status === 'stopped') return;
        const rid = runcId(owner, id);
        const signalIt = async (s: string) => {
          const k = await runc(runcArgv.kill(r.cli, rid, s));
          if (k.code !== 0) log.debug({ id, signal: s, err: runcErrorMessage(k.stderr) }, 'runc kill');
          // A frozen process only acts on the signal once thawed.
          if (rs.status === 'paused') await runc(runcArgv.resume(r.cli, rid));
        };
        // A created container has not run its process yet: nothing to ask nicely.
        if (rs.status === 'created') {
          await signalIt('SIGKILL');
          if (!(await waitForExit(r.cli, id, killTimeoutMs))) throw new KumoError('ERR_INTERNAL', `container ${id} did not die after SIGKILL`);
          return;
        }
        await signalIt(sig);
        if (await waitForExit(r.cli, id, Math.max(0, timeoutSeconds) * 1000)) return;
        log.info({ id, timeoutSeconds }, 'container ignored the stop signal; killing it');
        await signalIt('SIGKILL');
        if (!(await waitForExit(r.cli, id, killTimeoutMs))) throw new KumoError('ERR_INTERNAL', `container ${id} did not die after SIGKILL`);
      });
    },

    async kill(id, signal) {
      checkId(id);
      const sig = normalizeSignal(signal);
      if (!sig) throw new KumoError('ERR_BAD_REQUEST', `unknown signal ${JSON.stringify(signal)}`);
      const r = await init();
      await runcOrThrow(id, 'kill', runcArgv.kill(r.cli, runcId(owner, id), sig));
    },

    async pause(id) {
      checkId(id);
      const r = await init();
      await withLock(id, () => runcOrThrow(id, 'pause', runcArgv.pause(r.cli, runcId(owner, id))));
    },

    async unpause(id) {
      checkId(id);
      const r = await init();
      await withLock(id, () => runcOrThrow(id, 'resume', runcArgv.resume(r.cli, runcId(owner, id))));
    },

    async delete(id, force) {
      checkId(id);
      const r = await init();
      await withLock(id, async () => {
        justCreated.delete(id);
        const rs = await runcState(r.cli, id);
        const rid = runcId(owner, id);
        if (rs && rs.status !== 'stopped' && rs.status !== 'created') {
          if (!force) throw new KumoError('ERR_CONFLICT', `container ${id} is ${toRuntimeState(rs.status)}; stop it first`);
          // A running one is killed by the `runc delete --force` below; a frozen one must be thawed to die.
          if (rs.status === 'paused') {
            await runc(runcArgv.kill(r.cli, rid, 'SIGKILL'));
            await runc(runcArgv.resume(r.cli, rid));
            if (!(await waitForExit(r.cli, id, killTimeoutMs))) throw new KumoError('ERR_INTERNAL', `container ${id} did not die after SIGKILL`);
          }
        }
        await removeLeftovers(r, id, true);
        log.info({ id }, 'container deleted');
      });
    },

    async update(id, limits: ContainerLimits) {
      checkId(id);
      const r = await init();
      await withLock(id, async () => {
        const resources = limitsToUpdate(limits, r.cgroup.swapLimit, isRunc(r.cli));
        await runcOrThrow(id, 'update', runcArgv.update(r.cli, runcId(owner, id), isRunc(r.cli) ? '-' : '/dev/stdin'), JSON.stringify(resources));
        // The bundle keeps the new limits too, for when a stopped container is started again.
        const config = await readConfig(id);
        config.linux.resources = { devices: config.linux.resources.devices, ...limitsToResources(limits, r.cgroup.swapLimit) };
        await writeFile(pathsOf(id).config, JSON.stringify(config), { mode: 0o600 });
      });
    },

    async exec(id, args, execOptions = {}): Promise<ExecResult> {
      const { r, paths, tag, processFile, pidFile } = await prepareExec(id, args, { env: execOptions.env, workdir: execOptions.workdir });
      const outFile = path.join(paths.bundle, `exec-${tag}.out`);
      const out = await open(outFile, 'w+', 0o600);
      const timeoutMs = execOptions.timeoutMs ?? 0;
      let timedOut = false;
      let finished = false;
      // Killing runc would leave the process running in the container: kill the process (once it
      // has a pid), and runc returns with its status.
      const killProcess = async () => {
        timedOut = true;
        while (!finished) {
          const pid = Number(((await readTextOrNull(pidFile).catch(() => null)) ?? '').trim());
          if (pid > 0) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // exited meanwhile
            }
            return;
          }
          await sleep(pollMs);
        }
      };
      const timer = timeoutMs > 0 ? setTimeout(() => void killProcess(), timeoutMs) : null;
      try {
        const result = await runtimeRunner.run(runcArgv.exec(r.cli, runcId(owner, id), processFile, pidFile), {
          outputFd: out.fd,
          env: CHILD_ENV,
          timeoutMs: timeoutMs > 0 ? timeoutMs + 30_000 : 24 * 3600_000,
        });
        const { size } = await out.stat();
        const buf = Buffer.alloc(Math.min(size, MAX_EXEC_OUTPUT));
        await out.read(buf, 0, buf.length, 0);
        const output = buf.toString('utf8');
        if (result.code !== 0 && !timedOut && (await readTextOrNull(pidFile)) === null) {
          // runc failed before the process started; its JSON error line is all the output. Exit codes as Docker's.
          const msg = runcErrorMessage(output);
          return { exitCode: /not found|no such file/i.test(msg) ? 127 : 126, output: `${msg}\n` };
        }
        return { exitCode: timedOut ? EXEC_TIMEOUT_EXIT_CODE : result.code, output };
      } finally {
        finished = true;
        if (timer) clearTimeout(timer);
        await out.close();
        await Promise.all([processFile, pidFile, outFile].map((f) => rm(f, { force: true })));
      }
    },

    async execInteractive(id, args): Promise<InteractiveSession> {
      const { r, processFile, pidFile } = await prepareExec(id, args, { fallbackEnv: ['TERM=xterm'] });
      // The terminal: script(1) (util-linux) opens a pseudo-terminal and runs the runtime's exec on
      // its other end. A detached exec leaves that terminal to the process as its stdio (attached,
      // the runtime would put pipes in between; its own -t hands the terminal over a unix socket as
      // a file descriptor, which Node cannot receive); a wait loop then keeps script's child alive until the
      // process is gone. The process's exit code is not learnt this way.
      const execArgv = runtimeCommand(runcArgv.execDetached(r.cli, runcId(owner, id), processFile, pidFile));
      // After the process, a moment more: script(1) stops reading the terminal when its own child
      // ends, and what the process wrote last would be lost.
      const script = `${execArgv.map(shellQuote).join(' ')} || exit 125; p=$(cat ${shellQuote(pidFile)}); while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; sleep 0.2`;
      const child = spawn('script', ['--quiet', '--return', '--flush', '--command', script, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...CHILD_ENV, SHELL: '/bin/sh' },
      });
      const listeners: ((data: Uint8Array) => void)[] = [];
      const emit = (data: Buffer) => { for (const l of listeners) l(data); };
      child.stdout.on('data', emit);
      child.stderr.on('data', emit);
      child.stdin.on('error', () => undefined);
      const exited = new Promise<number | null>((resolve) => {
        child.on('error', () => resolve(null));
        child.on('close', (code) => resolve(code));
      }).then(async (code) => {
        // The terminal hung up; a process that ignored SIGHUP is not left behind.
        const pid = Number(((await readTextOrNull(pidFile).catch(() => null)) ?? '').trim());
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
        await Promise.all([processFile, pidFile].map((f) => rm(f, { force: true })));
        log.info({ id, code }, 'interactive exec ended');
        return code;
      });
      let ended = false;
      void exited.then(() => { ended = true; });
      log.info({ id, args }, 'interactive exec started');
      return {
        write: (data) => { if (!ended) child.stdin.write(data); },
        onOutput: (listener) => { listeners.push(listener); },
        exited,
        async resize(columns, rows) {
          if (ended || !Number.isInteger(columns) || !Number.isInteger(rows) || columns < 1 || rows < 1 || columns > 10_000 || rows > 10_000) return;
          const pid = Number(((await readTextOrNull(pidFile).catch(() => null)) ?? '').trim());
          if (!(pid > 0)) return;
          // The process's stdin is the terminal: stty sets its size there, and the kernel sends SIGWINCH.
          await hostRunner.run(['stty', '-F', `/proc/${pid}/fd/0`, 'cols', String(columns), 'rows', String(rows)]).catch(() => undefined);
        },
        close: () => { if (!ended) child.kill('SIGTERM'); },
      };
    },

    async logs(id, logOptions: LogOptions) {
      checkId(id);
      const text = await readTextOrNull(pathsOf(id).logFile);
      if (text === null) {
        if (await exists(pathsOf(id).bundle)) return '';
        throw new KumoError('ERR_NOT_FOUND', `no logs for container ${id}`);
      }
      return renderLogs(parseK8sLog(text), logOptions);
    },

    async removeLogs(id) {
      checkId(id);
      await removeLogFiles(pathsOf(id));
    },

    async top(id) {
      checkId(id);
      const r = await init();
      const rs = await requireState(r.cli, id);
      if (rs.status !== 'running' && rs.status !== 'paused') {
        throw new KumoError('ERR_CONFLICT', `container ${id} is ${toRuntimeState(rs.status)}, not running`);
      }
      const [pids, procStat] = await Promise.all([readPids(r.cgroup, cgroupsPath(owner, id)), readFile('/proc/stat', 'utf8')]);
      const samples = await readProcesses(pids);
      const root = await containerRoot(id, rs);
      const passwd = await readFile(await resolveInRoot(root, '/etc/passwd'), 'utf8').catch(() => '');
      const names = new Map(parsePasswd(passwd).map((u) => [u.uid, u.name]));
      const clock = { bootMs: parseBootTime(procStat), now: now() };
      return { titles: TOP_TITLES, processes: samples.map((s) => formatTopRow(s, clock, (uid) => names.get(uid) ?? String(uid))) };
    },

    async stats(id) {
      checkId(id);
      const r = await init();
      await requireState(r.cli, id);
      return readStats(r.cgroup, cgroupsPath(owner, id));
    },

    async putArchive(id, containerPath, tar) {
      checkId(id);
      const r = await init();
      await withLock(id, async () => {
        const rs = await requireState(r.cli, id);
        const root = await containerRoot(id, rs);
        const result = await frozen(r, id, rs, () => extractArchive(root, containerPath, tar));
        if (result.skipped.length) log.warn({ id, skipped: result.skipped.slice(0, 20) }, 'device nodes and FIFOs in an archive were not created');
      });
    },

    async getArchive(id, containerPath) {
      checkId(id);
      const r = await init();
      return withLock(id, async () => {
        const rs = await requireState(r.cli, id);
        const root = await containerRoot(id, rs);
        return frozen(r, id, rs, () => createArchive(runner, 'tar', root, containerPath));
      });
    },

    async state(id) {
      checkId(id);
      const r = await init();
      // Neither a runtime state dir nor a bundle: nothing to observe, and no need to start `crun
      // state` to learn so (what a container not created yet costs the reconciler).
      if (!(await hasRuntimeDir(r.cli, id)) && !(await exists(pathsOf(id).bundle))) return null;
      return observe(r, id, await runcState(r.cli, id));
    },

    async list() {
      const r = await init();
      const byId = new Map<string, RuncState>();
      if (readsStateFiles(r.cli)) {
        const ids = (await listRuncIds(r.cli.root)).map((rid) => parseRuncId(owner, rid)).filter((id): id is string => id !== null);
        const states = await Promise.all(ids.map((id) => runcState(r.cli, id)));
        for (const s of states) if (s) byId.set(parseRuncId(owner, s.id)!, s);
      } else {
        const result = await runc(runcArgv.list(r.cli));
        if (result.code !== 0) throw new KumoError('ERR_INTERNAL', `runc list: ${runcErrorMessage(result.stderr)}`);
        for (const s of parseRuncList(result.stdout.toString('utf8'))) {
          const id = parseRuncId(owner, s.id);
          if (id) byId.set(id, s);
        }
      }
      // Bundles without runc state: a create cut short by a crash, to be deleted by the reconciler.
      const dirs = (await readdir(layout.containersDir).catch(() => [] as string[])).filter(isUuid);
      const ids = [...new Set([...byId.keys(), ...dirs])].sort();
      const observed = await Promise.all(ids.map((id) => observe(r, id, byId.get(id) ?? null)));
      return observed.filter((o): o is ObservedContainer => o !== null);
    },
  };
  return runtime;
}
