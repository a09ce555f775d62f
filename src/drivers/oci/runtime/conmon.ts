/**
 * conmon, the per-container monitor: it runs `runc create`, holds the container's stdio, writes
 * its log (k8s-file: `<RFC 3339 time> <stream> <P|F> <text>`), reaps it and writes its exit status
 * to `<exit dir>/<runc id>` (and an `oom` file to its persist dir, the bundle, on an OOM kill).
 * It double-forks and starts its own session, so it and the container outlive Kumo; a restarted
 * Kumo reads the files.
 *
 * Create errors come back the way Podman learns them: conmon is given a pipe as fd 3 and
 * `_OCI_SYNCPIPE=3`, and writes one JSON line on it: `{"data": <container pid>}` once
 * `runc create` succeeded, or `{"data": -1, "message": "<runc's stderr>"}` when it failed.
 * @module
 */
import { spawn } from 'node:child_process';
import type { CommandResult, CommandRunner } from '../../../lib/command-runner.js';
import { runcErrorMessage } from './runc.js';

export interface ConmonParams {
  readonly conmonPath: string;
  readonly runtimePath: string;
  /** Global runc flags (`--root ...`), passed with `--runtime-arg`. */
  readonly runtimeArgs: readonly string[];
  readonly runcId: string;
  readonly containerId: string;
  readonly bundle: string;
  readonly containerPidFile: string;
  readonly conmonPidFile: string;
  readonly exitDir: string;
  readonly logFile: string;
  readonly logSizeMax: number;
  readonly socketDir: string;
  readonly tty: boolean;
  readonly stdin: boolean;
}

export function buildConmonArgv(p: ConmonParams): string[] {
  return [
    p.conmonPath,
    // API v1: sync-pipe messages carry the pid or error under "data".
    '--api-version', '1',
    '--cid', p.runcId,
    '--cuuid', p.containerId,
    '--name', p.runcId,
    '--runtime', p.runtimePath,
    ...p.runtimeArgs.flatMap((a) => ['--runtime-arg', a]),
    '--bundle', p.bundle,
    '--container-pidfile', p.containerPidFile,
    '--conmon-pidfile', p.conmonPidFile,
    // The bundle as persist dir: conmon drops its `oom` marker there.
    '--persist-dir', p.bundle,
    '--exit-dir', p.exitDir,
    '--log-path', `k8s-file:${p.logFile}`,
    '--log-size-max', String(p.logSizeMax),
    // conmon links <socket dir>/<uuid> to the bundle so the attach socket path stays short.
    '--socket-dir-path', p.socketDir,
    ...(p.tty ? ['--terminal'] : []),
    ...(p.stdin ? ['--stdin'] : []),
  ];
}

export type SyncResult = { readonly pid: number } | { readonly error: string };

/** One line conmon wrote on the sync pipe. */
export function parseSyncMessage(line: string): SyncResult {
  let msg: { data?: unknown; message?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return { error: `unreadable message from conmon: ${line.slice(0, 200)}` };
  }
  if (typeof msg.data === 'number' && msg.data > 0) return { pid: msg.data };
  const message = typeof msg.message === 'string' ? runcErrorMessage(msg.message) : '';
  return { error: message || `runtime create failed (conmon reported ${String(msg.data)})` };
}

export interface ConmonLaunchOptions {
  readonly cwd: string;
  /** The whole environment conmon (and runc) get; Kumo's own is not passed on. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface ConmonLauncher {
  /** Starts conmon detached and resolves with what it reported on the sync pipe. */
  launch(argv: readonly string[], options: ConmonLaunchOptions): Promise<SyncResult>;
}

export function createConmonLauncher(): ConmonLauncher {
  return {
    launch(argv, options) {
      return new Promise((resolve) => {
        let settled = false;
        let buffered = '';
        let stderr = '';
        let timer: NodeJS.Timeout | undefined;
        const child = spawn(argv[0], argv.slice(1), {
          cwd: options.cwd,
          env: { ...options.env, _OCI_SYNCPIPE: '3' },
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        });
        const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
        const finish = (result: SyncResult) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          sync.destroy();
          child.stderr?.destroy();
          child.unref();
          resolve(result);
        };
        timer = setTimeout(() => finish({ error: `conmon did not report within ${options.timeoutMs} ms` }), options.timeoutMs);
        child.on('error', (err) => finish({ error: `cannot start conmon: ${err.message}` }));
        child.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
        });
        sync.on('data', (d: Buffer) => {
          buffered += d.toString('utf8');
          const nl = buffered.indexOf('\n');
          if (nl >= 0) finish(parseSyncMessage(buffered.slice(0, nl)));
        });
        // Without a message the pipe closes when conmon gives up before runc ran (bad flags, missing binary).
        let stderrClosed = false;
        const noReport = () => finish({ error: `conmon exited without reporting${stderr.trim() ? `: ${stderr.trim()}` : ''}` });
        child.stderr?.on('close', () => {
          stderrClosed = true;
        });
        sync.on('end', () => {
          if (buffered.trim()) return finish(parseSyncMessage(buffered.trim()));
          // Its complaint, if any, is on stderr, which may close a moment later.
          if (stderrClosed) return noReport();
          child.stderr?.once('close', noReport);
          setTimeout(noReport, 500).unref();
        });
        sync.on('error', () => undefined);
      });
    },
  };
}

/**
 * The same contract, with conmon started by the shell runner instead of forked from Node (a fork
 * of Node was 8 ms per container at 1000 containers). One command does it all: a `sh` runs conmon
 * with a pipe as fd 3 and reads the first line from the pipe's other end with its builtin `read`,
 * so the command's stdout is the sync message. conmon's first process exits at once and its
 * daemon keeps the pipe, so the line is there when `runc create` is done, or the pipe closes empty
 * when conmon gave up (its complaint is then the command's stderr).
 */
export function createShellConmonLauncher(runner: CommandRunner): ConmonLauncher {
  // `[ -x ]` first: a missing conmon is 127 and "not found", which the runner reports as such.
  const script = '[ -x "$1" ] || { echo "$1: not found" >&2; exit 127; }; "$@" 3>&1 >/dev/null | { IFS= read -r l; printf %s "$l"; }';
  return {
    async launch(argv, options) {
      const env = Object.entries({ ...options.env, _OCI_SYNCPIPE: '3' }).map(([k, v]) => `${k}=${v}`);
      let result: CommandResult;
      try {
        result = await runner.run(['env', '-i', ...env, '/bin/sh', '-c', script, 'conmon-launch', ...argv], { cwd: options.cwd, timeoutMs: options.timeoutMs });
      } catch (err) {
        return { error: `cannot start conmon: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (result.code === 137 || result.code === 124) return { error: `conmon did not report within ${options.timeoutMs} ms` };
      if (result.stdout.trim()) return parseSyncMessage(result.stdout.trim());
      return { error: `conmon exited without reporting${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}` };
    },
  };
}
