/**
 * How the runtime runs host tools (runc, ip, tar): one process per call, argv only (never a
 * shell string), optional stdin, output as bytes. Injected so unit tests run the runtime against
 * a fake. (The net driver has the same idea in its own runner; the two could move to src/lib.)
 * @module
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit status; 128 + signal number when the process was killed. */
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Written to the process's stdin, which is then closed. */
  readonly input?: string | Buffer;
  /** Kill the process (SIGKILL) after this long (default 60 s). */
  readonly timeoutMs?: number;
  /**
   * An open file descriptor to give the process as both stdout and stderr, so its two streams
   * interleave in write order (the result's stdout is then empty).
   */
  readonly outputFd?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface CommandRunner {
  /**
   * Runs `argv[0]` with the rest as arguments and resolves when it has exited and closed its
   * output. A non-zero exit is a result, not an error; rejects only when the program cannot be
   * started at all (ENOENT, EACCES).
   */
  run(argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function createCommandRunner(): CommandRunner {
  return {
    run(argv, options = {}) {
      return new Promise((resolve, reject) => {
        const fd = options.outputFd;
        const child = spawn(argv[0], argv.slice(1), {
          stdio: ['pipe', fd ?? 'pipe', fd ?? 'pipe'],
          timeout: options.timeoutMs ?? 60_000,
          killSignal: 'SIGKILL',
          env: options.env ?? process.env,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout?.on('data', (d: Buffer) => out.push(d));
        child.stderr?.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          resolve({
            code: code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 1 : 1),
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(err).toString('utf8'),
          });
        });
        // A tool that exits before reading its stdin closes the pipe under us; its exit status says what went wrong.
        child.stdin?.on('error', () => {});
        child.stdin?.end(options.input ?? '');
      });
    },
  };
}
