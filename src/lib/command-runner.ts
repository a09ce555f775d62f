/**
 * How drivers run host tools (`ip -batch -`, `nft -f -`, `mount`, ...): one process per call,
 * argv only (never a shell string), optional stdin and working directory. Injected so unit
 * tests run a whole driver against a fake.
 * @module
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit status; 128 + signal number when the process was killed. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Written to the process's stdin, which is then closed. */
  readonly input?: string;
  /** Kill the process after this long (default 60 s). */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

export interface CommandRunner {
  /**
   * Runs `argv[0]` with the rest as arguments and resolves when it has exited and closed its
   * output. A non-zero exit is a result, not an error; rejects only when the program cannot be
   * started at all (ENOENT, EACCES).
   */
  run(argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function createCommandRunner(): CommandRunner {
  return {
    run(argv, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
          cwd: options.cwd,
          stdio: ['pipe', 'pipe', 'pipe'],
          timeout: options.timeoutMs ?? 60_000,
          killSignal: 'SIGKILL',
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          resolve({
            code: code ?? 128 + (signal ? SIGNALS[signal] ?? 1 : 1),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          });
        });
        // A tool that exits before reading its stdin closes the pipe under us; its exit status says what went wrong.
        child.stdin.on('error', () => {});
        child.stdin.end(options.input ?? '');
      });
    },
  };
}

/** True when the error is "the program is not installed". */
export function isNotInstalled(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}
