/**
 * runc's command line: argv builders for every subcommand the runtime uses, and parsers for what
 * runc prints. Pure. Every call carries `--root` (Kumo's own runc state dir, so `runc list` shows
 * this owner's containers and nobody else's) and `--log-format json` (errors on stderr as JSON
 * lines, so the message can be taken out cleanly).
 * @module
 */
import type { RuntimeState } from '../types.js';

export interface RuncCli {
  /** Absolute path of the runc binary. */
  readonly runtimePath: string;
  readonly root: string;
}

/** Global flags, also what conmon passes on with `--runtime-arg` for `runc create`. */
export function runcGlobalArgs(cli: RuncCli): string[] {
  return ['--root', cli.root, '--log-format', 'json'];
}

const base = (cli: RuncCli) => [cli.runtimePath, ...runcGlobalArgs(cli)];

export const runcArgv = {
  start: (cli: RuncCli, id: string) => [...base(cli), 'start', id],
  kill: (cli: RuncCli, id: string, signal: string) => [...base(cli), 'kill', id, signal],
  pause: (cli: RuncCli, id: string) => [...base(cli), 'pause', id],
  resume: (cli: RuncCli, id: string) => [...base(cli), 'resume', id],
  delete: (cli: RuncCli, id: string, force: boolean) => [...base(cli), 'delete', ...(force ? ['--force'] : []), id],
  state: (cli: RuncCli, id: string) => [...base(cli), 'state', id],
  list: (cli: RuncCli) => [...base(cli), 'list', '--format', 'json'],
  /**
   * Resources come as JSON on stdin, so null limits can be written as explicit -1. runc reads `-`
   * as stdin; crun wants a file name, and /dev/stdin is one.
   */
  update: (cli: RuncCli, id: string, from: '-' | '/dev/stdin' = '-') => [...base(cli), 'update', '--resources', from, id],
  /** Non-detached: runc waits for the process and exits with its status (128 + signal when killed). */
  exec: (cli: RuncCli, id: string, processFile: string, pidFile: string) =>
    [...base(cli), 'exec', '--process', processFile, '--pid-file', pidFile, id],
  /** Detached: the process keeps the caller's stdio as is (non-detached, runc puts pipes in between). */
  execDetached: (cli: RuncCli, id: string, processFile: string, pidFile: string) =>
    [...base(cli), 'exec', '--detach', '--process', processFile, '--pid-file', pidFile, id],
} as const;

/** One entry of `runc list --format json` / the output of `runc state`. */
export interface RuncState {
  readonly id: string;
  readonly pid: number;
  readonly status: string;
  readonly bundle: string;
  readonly created: string;
  readonly annotations: Readonly<Record<string, string>>;
}

function toState(raw: unknown): RuncState | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.status !== 'string') return null;
  return {
    id: r.id,
    pid: typeof r.pid === 'number' ? r.pid : 0,
    status: r.status,
    bundle: typeof r.bundle === 'string' ? r.bundle : '',
    created: typeof r.created === 'string' ? r.created : '',
    annotations: typeof r.annotations === 'object' && r.annotations !== null ? (r.annotations as Record<string, string>) : {},
  };
}

export function parseRuncState(stdout: string): RuncState | null {
  try {
    return toState(JSON.parse(stdout));
  } catch {
    return null;
  }
}

/** `runc list --format json` prints `null` when there is nothing. */
export function parseRuncList(stdout: string): RuncState[] {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout.trim() || 'null');
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw.map(toState).filter((s): s is RuncState => s !== null);
}

/** runc's status words, with "creating" (a create under way) seen as created. */
export function toRuntimeState(status: string): RuntimeState {
  switch (status) {
    case 'running':
      return 'running';
    case 'paused':
    case 'pausing':
      return 'paused';
    case 'created':
    case 'creating':
      return 'created';
    default:
      return 'stopped';
  }
}

/** The error message in runc's stderr (JSON log lines), or the stderr itself. */
export function runcErrorMessage(stderr: string): string {
  const messages: string[] = [];
  for (const line of stderr.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    try {
      const entry = JSON.parse(t) as { level?: unknown; msg?: unknown };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') messages.push(entry.msg);
    } catch {
      // runc's text log format: time="..." level=error msg="..."
      const m = /level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(t);
      messages.push(m ? m[1].replace(/\\(.)/g, '$1') : t);
    }
  }
  return messages.join('; ') || stderr.trim();
}

export function isNotExistError(message: string): boolean {
  // crun: "error opening file `<root>/<id>/status`: No such file or directory".
  return /does not exist|container not found|\/status`?: No such file or directory/i.test(message);
}

const SIGNAL_NAMES = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
  'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO',
  'PWR', 'SYS',
];
const SIGNAL_ALIASES: Record<string, string> = { IOT: 'ABRT', POLL: 'IO', CLD: 'CHLD' };

/**
 * A signal as runc takes it (`SIGTERM`, or a number 1-64), from `TERM`, `sigterm`, `SIGTERM`,
 * `15`, `RTMIN+3`; null for anything else (never passed on to runc).
 */
export function normalizeSignal(signal: string): string | null {
  const s = signal.trim().toUpperCase();
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? String(n) : null;
  }
  const name = s.startsWith('SIG') ? s.slice(3) : s;
  const canonical = SIGNAL_ALIASES[name] ?? name;
  if (SIGNAL_NAMES.includes(canonical)) return `SIG${canonical}`;
  const rt = /^RTMIN(?:\+([0-9]+))?$/.exec(canonical) ?? null;
  if (rt) {
    const n = 34 + Number(rt[1] ?? 0);
    return n <= 64 ? String(n) : null;
  }
  const rtmax = /^RTMAX(?:-([0-9]+))?$/.exec(canonical);
  if (rtmax) {
    const n = 64 - Number(rtmax[1] ?? 0);
    return n >= 34 ? String(n) : null;
  }
  return null;
}
