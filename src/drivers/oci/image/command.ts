/**
 * How the image store runs the few host tools it needs (`mount`, `umount`, `mknod`): argv only,
 * never a shell string, with a working directory (overlay lower dirs are passed relative to it
 * to stay under the kernel's one-page limit on mount options). Injected so tests can fake it.
 * @module
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit status; 128 + 9 when the process was killed. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (argv: readonly string[], options?: { readonly cwd?: string; readonly timeoutMs?: number }) => Promise<CommandResult>;

/** Resolves with the exit status (non-zero is a result); rejects only when the program cannot start. */
export const runCommand: CommandRunner = (argv, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? 137, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });

/** The tool's own words for a failure, or its exit status when it said nothing. */
export const failureText = (r: CommandResult) => r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`;
