/**
 * How the image store runs the few host tools it needs (`mount`, `umount`, `mknod`): argv only,
 * never a shell string, with a working directory (overlay lower dirs are passed relative to it
 * to stay under the kernel's one-page limit on mount options). Injected so tests can fake it.
 * @module
 */
import { createShellRunner } from '../../../lib/shell-runner.js';
import type { CommandResult } from '../../../lib/command-runner.js';

export type { CommandResult };

export type CommandRunner = (argv: readonly string[], options?: { readonly cwd?: string; readonly timeoutMs?: number }) => Promise<CommandResult>;

// Started by a long-lived shell rather than forked from Node (see shell-runner.ts).
const shared = createShellRunner();

/** Resolves with the exit status (non-zero is a result); rejects only when the program cannot start. */
export const runCommand: CommandRunner = (argv, options = {}) => shared.run(argv, options);

/** The tool's own words for a failure, or its exit status when it said nothing. */
export const failureText = (r: CommandResult) => r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`;
