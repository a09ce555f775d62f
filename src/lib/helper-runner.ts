/**
 * A `CommandRunner` whose processes are started by a small helper Node process instead of by
 * Kumo's own.
 *
 * Starting a process forks the parent: for Kumo, hundreds of MiB resident, that is milliseconds of
 * page-table copying on the event loop's thread per command. The net driver runs `nft`, `ip` and a
 * shell on every network pass; at a thousand containers those forks were a quarter of Kumo's main
 * thread (bench/containers, perf). The helper is a bare `node` (tens of MiB) that receives each
 * command over an IPC channel, runs it as `createCommandRunner` would (stdin written and closed,
 * stdout and stderr collected, killed with SIGKILL after the timeout) and sends the result back.
 * Nothing goes through files, so nothing waits for libuv's file-system threads either.
 *
 * If the helper dies, the commands it had are answered as killed (137) and the next call starts a
 * new one; it exits when Kumo's end of the channel closes. While no command is pending, the helper
 * does not keep Kumo's event loop alive.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';

/**
 * The helper's program, given to `node -e` so that it needs no file of its own next to the bundle.
 * Messages in: `{ id, argv, input, cwd, timeoutMs }`; out: `{ id, code, stdout, stderr }` or
 * `{ id, error: { message, code } }` when the program could not be started.
 */
export const HELPER_SOURCE = `
const { spawn } = require('node:child_process');
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  let child;
  try {
    child = spawn(m.argv[0], m.argv.slice(1), { cwd: m.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: m.timeoutMs, killSignal: 'SIGKILL' });
  } catch (e) {
    process.send({ id: m.id, error: { message: String(e && e.message), code: e && e.code } });
    return;
  }
  const out = [], err = [];
  let failed = false;
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  child.on('error', (e) => { failed = true; process.send({ id: m.id, error: { message: e.message, code: e.code } }); });
  child.on('close', (code, signal) => {
    if (failed) return;
    process.send({ id: m.id, code: code ?? 128 + (signal ? SIGNALS[signal] ?? 1 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
  });
  child.stdin.on('error', () => {});
  child.stdin.end(m.input ?? '');
});
`;

interface Reply {
  readonly id: number;
  readonly code?: number;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly error?: { readonly message: string; readonly code?: string };
}

interface Pending {
  resolve(r: CommandResult): void;
  reject(err: unknown): void;
}

export interface HelperRunner extends CommandRunner {
  /** Ends the helper (commands in flight are answered as killed). */
  close(): void;
}

export function createHelperRunner(): HelperRunner {
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let helper: ChildProcess | null = null;

  /** Kumo's event loop is held open by the helper only while it has commands. */
  const holdWhileBusy = (child: ChildProcess) => {
    if (pending.size > 0) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  };

  const start = (): ChildProcess => {
    const child = spawn(process.execPath, ['--max-old-space-size=64', '-e', HELPER_SOURCE], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    child.on('message', (reply: Reply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      holdWhileBusy(child);
      if (reply.error) p.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else p.resolve({ code: reply.code ?? 1, stdout: reply.stdout ?? '', stderr: reply.stderr ?? '' });
    });
    const gone = () => {
      if (helper !== child) return;
      helper = null;
      // Whatever it was running is lost to us: answered as killed, as a timed-out command is.
      for (const [id, p] of pending) {
        pending.delete(id);
        p.resolve({ code: 137, stdout: '', stderr: 'the process helper exited' });
      }
    };
    child.on('exit', gone);
    child.on('error', gone);
    return child;
  };

  return {
    run(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
      return new Promise((resolve, reject) => {
        helper ??= start();
        const id = nextId++;
        pending.set(id, { resolve, reject });
        holdWhileBusy(helper);
        helper.send({ id, argv, input: options.input, cwd: options.cwd, timeoutMs: options.timeoutMs ?? 60_000 }, (err) => {
          // The channel closed under us (the helper died): its exit answers what it had, this too.
          if (err && pending.delete(id)) resolve({ code: 137, stdout: '', stderr: `the process helper is gone: ${err.message}` });
        });
      });
    },
    close() {
      const child = helper;
      if (!child) return;
      child.disconnect();
    },
  };
}
