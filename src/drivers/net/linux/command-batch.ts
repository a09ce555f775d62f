/**
 * A script for `ip -force -batch -` or `bridge -force -batch -`: every change of one sync in one
 * process, each line remembering the resource it is for, so that the tool's per-line errors
 * ("Command failed -:N") become failures of the right resources while the other lines still run.
 * @module
 */
import type { CommandResult } from '../../../lib/command-runner.js';

export interface BatchLine {
  /** The resource (network, port, router id) a failure of this line is reported against. */
  readonly resourceId: string;
  readonly args: readonly string[];
  /** A delete whose object is already gone has done its job (namespaces tear their veths down asynchronously). */
  readonly ignoreMissing: boolean;
}

// The batch parser splits on blanks and treats quotes, backslashes and '#' specially; every token
// the driver emits is a name, number, address or alias, so anything else is a bug upstream.
const SAFE_TOKEN = /^[A-Za-z0-9_.:/@%+,=-]+$/;

/** Throws when a token could not pass through the batch parser unchanged. */
export function assertSafeTokens(args: readonly string[]): void {
  for (const token of args) {
    if (!SAFE_TOKEN.test(token)) throw new Error(`unsafe batch token ${JSON.stringify(token)}`);
  }
}

/** Lines as the tool's stdin, one command per line. */
export function scriptOf(lines: readonly BatchLine[]): string {
  return lines.map((l) => l.args.join(' ') + '\n').join('');
}

export class CommandBatch {
  readonly #lines: BatchLine[] = [];

  add(resourceId: string, args: readonly string[], options: { ignoreMissing?: boolean } = {}): void {
    assertSafeTokens(args);
    this.#lines.push({ resourceId, args, ignoreMissing: options.ignoreMissing ?? false });
  }

  append(other: CommandBatch): this {
    this.#lines.push(...other.lines);
    return this;
  }

  /** A copy without the lines of these resources (they must not be touched this time). */
  without(resourceIds: ReadonlySet<string>): CommandBatch {
    const copy = new CommandBatch();
    for (const l of this.#lines) if (!resourceIds.has(l.resourceId)) copy.#lines.push(l);
    return copy;
  }

  get size(): number {
    return this.#lines.length;
  }

  get lines(): readonly BatchLine[] {
    return this.#lines;
  }

  /** The stdin of the batch process, one command per line. */
  script(): string {
    return scriptOf(this.#lines);
  }

  /** The resources that have at least one line in the batch. */
  resourceIds(): Set<string> {
    return new Set(this.#lines.map((l) => l.resourceId));
  }
}

// "No such device": a veth end that went with its peer (a namespace deleted) between the read and the delete.
const MISSING = /Cannot find device|No such device|does not exist|No such file or directory|Cannot find/i;

/** What one run of a batch did: failures by resource, and where the tool stopped if it stopped early. */
export interface BatchOutcome {
  readonly failures: Map<string, string>;
  /**
   * Set when the tool exited early on a line whose failure could be placed (an argument error naming
   * a token of that line): the lines before it ran, the ones after it did not and can be run again.
   */
  readonly resumeAt: number | null;
}

/**
 * Maps the batch's stderr back to resources. With `-force` the tool runs every line and reports
 * each failure as message lines followed by `Command failed -:N`. Some argument errors (a `master`
 * or `netns` that does not exist) make iproute2 exit at once without a line number. When the
 * message names the argument (`argument "X" is wrong`), the first unreported line holding X is the
 * one that stopped it: that line's resource fails and `resumeAt` says where the rest starts.
 * Otherwise every resource with lines after the last reported one fails, since they may not have run.
 */
export function batchOutcome(lines: readonly BatchLine[], result: CommandResult): BatchOutcome {
  const failures = new Map<string, string>();
  const fail = (resourceId: string, message: string) => {
    const prev = failures.get(resourceId);
    if (prev?.includes(message)) return;
    failures.set(resourceId, prev ? `${prev}; ${message}` : message);
  };
  if (result.code === 0) return { failures, resumeAt: null };
  let pending: string[] = [];
  let lastReported = 0;
  for (const raw of result.stderr.split('\n')) {
    const text = raw.trim();
    if (!text) continue;
    const m = /^Command failed (?:-|\S+):(\d+)$/.exec(text);
    if (!m) {
      pending.push(text);
      continue;
    }
    const lineNo = Number(m[1]);
    lastReported = Math.max(lastReported, lineNo);
    const line = lines[lineNo - 1];
    const message = pending.join(' ') || 'failed';
    pending = [];
    if (!line) continue;
    if (line.ignoreMissing && MISSING.test(message)) continue;
    fail(line.resourceId, `${line.args.slice(0, 3).join(' ')}: ${message}`);
  }
  const aborted = pending.length > 0 || lastReported === 0;
  if (!aborted) return { failures, resumeAt: null };
  const message = pending.join(' ') || `exit status ${result.code}`;
  const token = /argument "([^"]+)" is wrong/.exec(message)?.[1];
  const culprit = token === undefined ? -1 : lines.findIndex((l, i) => i >= lastReported && l.args.includes(token));
  if (culprit >= 0) {
    const line = lines[culprit];
    if (!(line.ignoreMissing && MISSING.test(message))) fail(line.resourceId, `${line.args.slice(0, 3).join(' ')}: ${message}`);
    return { failures, resumeAt: culprit + 1 < lines.length ? culprit + 1 : null };
  }
  for (const line of lines.slice(lastReported)) fail(line.resourceId, `batch stopped: ${message}`);
  return { failures, resumeAt: null };
}

/** The failures of one run (see `batchOutcome`), for callers that do not resume. */
export function batchFailures(lines: readonly BatchLine[], result: CommandResult): Map<string, string> {
  return batchOutcome(lines, result).failures;
}

/**
 * Runs a batch through `run` (which starts the tool with the script on stdin) and, when the tool
 * stopped at a line it named, runs the lines after it again, so one object that vanished between
 * the read and the apply (a container's namespace deleted meanwhile) fails only its own resource.
 */
export async function runBatch(lines: readonly BatchLine[], run: (script: string) => Promise<CommandResult>): Promise<{ failures: Map<string, string>; runs: number }> {
  const failures = new Map<string, string>();
  let rest = lines;
  let runs = 0;
  while (rest.length) {
    runs++;
    const outcome = batchOutcome(rest, await run(scriptOf(rest)));
    for (const [id, text] of outcome.failures) failures.set(id, failures.has(id) ? `${failures.get(id)}; ${text}` : text);
    if (outcome.resumeAt === null) break;
    rest = rest.slice(outcome.resumeAt);
  }
  return { failures, runs };
}
