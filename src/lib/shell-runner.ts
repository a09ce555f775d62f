/**
 * A `CommandRunner` whose commands are started by one long-lived shell instead of by Node.
 *
 * Starting a process from Node forks the whole Node process: with ~150 MiB resident that costs
 * milliseconds of kernel time on the event loop's thread, per command. The agent brings many
 * containers up at once, each needing a mount, `ip netns`, `runc start`...: measured on the
 * 2-core host (bench/containers), those forks were over a third of Kumo's own CPU. Here a `/bin/sh`
 * (dash: a fork of it is cheap) reads commands on its stdin for as long as Kumo runs and starts
 * each in the background as soon as it arrives, with its own working directory and its stdout
 * and stderr in files of a private temp dir; it reports `p ID PID` when a command starts (the pid
 * a timeout kills) and `ID STATUS` when it ends. Node writes one line and reads two.
 *
 * A command's stdin, if any, is written to a file of that dir first. Every command runs with a minimal
 * environment (PATH only), so nothing of Kumo's own (database URLs, secrets) reaches host tools.
 * If the shell dies, the commands it had are answered as killed (137) and the next call starts
 * a new one.
 * @module
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';

export const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Single-quoted for sh: the only character that needs care is the quote itself. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell's prelude: `r ID SLOT CWD INPUT ARGV...` runs one command in the background and reports
 * it. Its stdout and stderr go to the files of a slot (`SLOT.o`, `SLOT.e`), which commands reuse
 * one after another instead of each making and removing files of its own; the end report says
 * which of the two are not empty (`[ -s ]` is a builtin: no process), so Node reads only those.
 * The outer `( ... &)` lets the command's subshell go at once, so the long-lived shell never keeps
 * a finished job (it would not reap it before a `wait` that never comes); init reaps it.
 */
export const SHELL_PRELUDE = [
  'd=$1',
  // Kumo gone (stdin closed): nobody will read the outputs. (Killed by a signal, the shell leaves
  // the empty dir; a trap for the signal would wait for the next command line to act.)
  `trap 'rm -rf "$d"' EXIT`,
  'r() { i=$1; o="$d/$2.o"; e="$d/$2.e"; c=$3; f=${4:-/dev/null}; shift 4; if [ -n "$c" ]; then (cd "$c" && exec "$@") >"$o" 2>"$e" <"$f" & else "$@" >"$o" 2>"$e" <"$f" & fi; echo "p $i $!"; wait $!; x=$?; [ -s "$o" ] && so=1 || so=0; [ -s "$e" ] && se=1 || se=0; echo "$i $x $so $se"; }',
].join('\n') + '\n';

/** One command's line for the shell; `inputFile` becomes its stdin (else /dev/null). */
export function commandLine(id: number, slot: number, argv: readonly string[], cwd?: string, inputFile?: string): string {
  return `(r ${id} ${slot} ${shellQuote(cwd ?? '')} ${shellQuote(inputFile ?? '')} ${argv.map(shellQuote).join(' ')} &)\n`;
}

/** The shell's report lines: `p ID PID` when a command started, `ID STATUS STDOUT? STDERR?` (1: not empty) when it ended. */
export function parseReportLine(line: string): { started: number; pid: number } | { ended: number; status: number; stdout: boolean; stderr: boolean } | null {
  const t = line.trim();
  let m = /^p (\d+) (\d+)$/.exec(t);
  if (m) return { started: Number(m[1]), pid: Number(m[2]) };
  m = /^(\d+) (\d+) ([01]) ([01])$/.exec(t);
  return m ? { ended: Number(m[1]), status: Number(m[2]), stdout: m[3] === '1', stderr: m[4] === '1' } : null;
}

/** A command that ended with 127 and the shell's "not found": as the direct runner says, "cannot be started". */
function notFound(argv: readonly string[], stderr: string): Error | null {
  if (!/not found|No such file or directory/.test(stderr)) return null;
  return Object.assign(new Error(`${argv[0]}: not found`), { code: 'ENOENT' });
}

export interface ShellRunnerOptions {
  readonly shell?: string;
  /** Parent of the shell's temp dir (default: /dev/shm, else the OS temp dir). */
  readonly tempDir?: string;
  /** A command the shell is started under (it must exec the rest of its argv), e.g. `unshare -m --`. */
  readonly wrap?: readonly string[];
  /** Shell lines run once when the shell starts, before any command (e.g. an unmount inside that wrap's namespace). */
  readonly setup?: string;
}

/** A shell runner, and the pid of its shell (started if it is not running): what `nsenter --target` needs to join its namespaces. */
export interface ShellRunner extends CommandRunner {
  shellPid(): number;
}

interface Pending {
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly shell: Shell;
  /** Whose files (`SLOT.o`, `SLOT.e`, `SLOT.i`) the command has until it is answered. */
  readonly slot: number;
  timer?: NodeJS.Timeout;
  resolve(r: CommandResult): void;
  reject(err: unknown): void;
}

interface Shell {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  readonly dir: string;
  alive: boolean;
  /** Commands sent and not yet answered. */
  out: number;
  /** Slots no command holds; `slots` is how many were ever made. */
  readonly freeSlots: number[];
  slots: number;
}

/**
 * Where the per-command files go: /dev/shm (tmpfs) when there is one, since every command creates
 * and removes two or three files, which on a journalling disk file system cost measurable kernel
 * time at a thousand containers (bench/containers); else the OS temp dir.
 */
function defaultTempDir(): string {
  try {
    accessSync('/dev/shm', fsConstants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

export function createShellRunner(options: ShellRunnerOptions = {}): ShellRunner {
  const shellPath = options.shell ?? '/bin/sh';
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let current: Shell | null = null;

  /** The pipes keep Node alive only while a command is out. */
  function refWhileBusy(shell: Shell): void {
    const busy = shell.out > 0;
    const handles = [shell.child, shell.child.stdin, shell.child.stdout] as unknown as { ref(): void; unref(): void }[];
    for (const h of handles) (busy ? h.ref() : h.unref());
  }

  /** `has`: which outputs the shell saw not empty (unknown when it died: read both). */
  async function finish(id: number, status: number, has: { stdout: boolean; stderr: boolean } = { stdout: true, stderr: true }): Promise<void> {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.shell.out--;
    clearTimeout(p.timer);
    const read = (wanted: boolean, ext: string) => (wanted ? readFile(path.join(p.shell.dir, `${p.slot}.${ext}`), 'utf8').catch(() => '') : Promise.resolve(''));
    const [stdout, stderr] = await Promise.all([read(has.stdout, 'o'), read(has.stderr, 'e')]);
    p.shell.freeSlots.push(p.slot);
    if (p.shell.alive) refWhileBusy(p.shell);
    const missing = status === 127 ? notFound(p.argv, stderr) : null;
    if (missing) p.reject(missing);
    else p.resolve({ code: status, stdout, stderr });
  }

  function start(): Shell {
    const dir = mkdtempSync(path.join(options.tempDir ?? defaultTempDir(), 'kumo-sh-'));
    const argv = [...(options.wrap ?? []), shellPath, '-s', dir];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: CHILD_PATH } });
    const shell: Shell = { child, dir, alive: true, out: 0, freeSlots: [], slots: 0 };
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const report = parseReportLine(line);
        if (!report) continue;
        if ('pid' in report) {
          const p = pending.get(report.started);
          if (p) {
            p.timer = setTimeout(() => {
              try {
                process.kill(report.pid, 'SIGKILL');
              } catch {
                // it ended meanwhile
              }
            }, p.timeoutMs);
          }
        } else {
          void finish(report.ended, report.status, report);
        }
      }
    });
    const died = (err?: unknown) => {
      if (!shell.alive) return;
      shell.alive = false;
      if (current === shell) current = null;
      for (const [id, p] of pending) {
        if (p.shell !== shell) continue;
        if (err) {
          pending.delete(id);
          shell.out--;
          clearTimeout(p.timer);
          p.reject(err);
        } else {
          void finish(id, 137);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    };
    child.on('error', died);
    child.on('close', () => died());
    child.stdin.on('error', () => {});
    child.stdin.write(SHELL_PRELUDE + (options.setup ? `${options.setup}\n` : ''));
    return shell;
  }

  const runner: ShellRunner = {
    shellPid() {
      const shell = (current ??= start());
      return shell.child.pid ?? 0;
    },
    async run(argv, runOptions: CommandOptions = {}) {
      const shell = (current ??= start());
      const id = nextId++;
      const slot = shell.freeSlots.pop() ?? shell.slots++;
      let inputFile: string | undefined;
      if (runOptions.input !== undefined) {
        inputFile = path.join(shell.dir, `${slot}.i`);
        await writeFile(inputFile, runOptions.input, { mode: 0o600 });
        // The shell went away while the input was written: the next one takes the command.
        if (!shell.alive) return runner.run(argv, runOptions);
      }
      return new Promise<CommandResult>((resolve, reject) => {
        pending.set(id, { argv, timeoutMs: runOptions.timeoutMs ?? 60_000, shell, slot, resolve, reject });
        shell.out++;
        refWhileBusy(shell);
        shell.child.stdin.write(commandLine(id, slot, argv, runOptions.cwd, inputFile));
      });
    },
  };
  return runner;
}
