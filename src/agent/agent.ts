/**
 * The agent: for each controller, watch a store revision and reconcile whenever it moves, at
 * start-up, and on a slow periodic resync. Reconciles of one controller never overlap; a failed
 * one is retried with backoff. In all-in-one mode this runs in the API process; the same loop
 * runs in a separate `kumo agent` on other hosts, against the same store.
 * @module
 */
import type { Logger } from '../log.js';
import type { ChangeSignal } from '../store/revision.js';

export interface Controller {
  readonly name: string;
  /** The store revision whose movement means there may be work (cheap: one indexed read). */
  revision(): Promise<number>;
  /**
   * Drives the host to the desired state and records what it observed. Idempotent. Returns
   * `requeueMs` when it is waiting for something no revision announces (a port turning ACTIVE,
   * a process exiting): another pass then runs after that delay.
   */
  reconcile(): Promise<void | { readonly requeueMs: number }>;
}

export interface AgentOptions {
  readonly controllers: readonly Controller[];
  readonly logger: Logger;
  /** How often revisions are read. */
  readonly pollMs: number;
  /** A full reconcile at least this often, even when nothing moved (repairs drift on the host). */
  readonly resyncMs: number;
  readonly now?: () => number;
  /** Local news of changes: a pass starts at once instead of at the next poll. */
  readonly changes?: ChangeSignal;
}

export interface RunningAgent {
  /** Resolves once every controller has reconciled the revision current at the time of the call; rejects if a reconcile fails meanwhile. */
  settled(): Promise<void>;
  /** Reconcile now, whether or not anything moved. */
  resync(): void;
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;

export function startAgent(options: AgentOptions): RunningAgent {
  const now = options.now ?? Date.now;
  const loops = options.controllers.map((c) => new ControllerLoop(c, options, now));
  for (const l of loops) l.start();
  const unsubscribe = options.changes?.subscribe(() => {
    for (const l of loops) l.kick(false);
  });
  return {
    settled: async () => {
      await Promise.all(loops.map((l) => l.settled()));
    },
    resync: () => {
      for (const l of loops) l.kick(true);
    },
    stop: async () => {
      unsubscribe?.();
      await Promise.all(loops.map((l) => l.stop()));
    },
  };
}

class ControllerLoop {
  private done = -1;
  private lastFull = 0;
  private forced = true;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private stopped = false;
  private failures = 0;
  private again = false;
  /**
   * When the last pass asked to be run again (its requeueMs). Until then a kick runs a pass only if
   * the revision moved: news for other controllers must not make this one repeat a whole pass (a
   * volume controller doing so at every container change once spent more time in passes than idle).
   */
  private requeueAt = Infinity;
  /** Passes started so far; a waiter is only answered by a pass that began after it asked. */
  private passesStarted = 0;
  private waiters: { revision: number; afterPass: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly log: Logger;

  constructor(private readonly controller: Controller, private readonly options: AgentOptions, private readonly now: () => number) {
    this.log = options.logger.child({ controller: controller.name });
  }

  start(): void {
    this.schedule(0);
  }

  kick(force: boolean): void {
    if (force) this.forced = true;
    this.schedule(0);
  }

  async settled(): Promise<void> {
    const target = await this.controller.revision();
    // Settled includes what the last pass left waiting for.
    if (this.requeueAt !== Infinity) this.forced = true;
    if (this.done >= target && !this.forced) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ revision: target, afterPass: this.passesStarted, resolve, reject });
      this.schedule(0);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const w of this.waiters.splice(0)) w.reject(new Error('agent stopped'));
  }

  /** Keeps the earliest wake-up asked for: a pass ending must not push back a kick that came during it. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = performance.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.running) {
      // News during a pass: run another as soon as this one ends.
      this.again = true;
      return;
    }
    this.running = this.pass();
    await this.running;
    this.running = undefined;
  }

  private async pass(): Promise<void> {
    let delay = this.options.pollMs;
    const pass = ++this.passesStarted;
    try {
      const revision = await this.controller.revision();
      const due = this.forced || revision !== this.done || this.now() >= this.requeueAt || this.now() - this.lastFull >= this.options.resyncMs;
      if (due) {
        this.forced = false;
        const started = this.now();
        const result = await this.controller.reconcile();
        if (result && result.requeueMs >= 0) {
          this.requeueAt = this.now() + result.requeueMs;
          delay = Math.min(delay, result.requeueMs);
        } else {
          this.requeueAt = Infinity;
        }
        this.lastFull = this.now();
        this.done = revision;
        this.failures = 0;
        this.log.debug({ revision, ms: this.now() - started }, 'reconciled');
      }
      // A pass already under way when settled() was called may have read the world before the
      // caller's change, so it does not count.
      for (const w of this.waiters.filter((x) => x.revision <= this.done && x.afterPass < pass)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    } catch (err) {
      this.failures++;
      this.forced = true;
      delay = Math.min(MAX_BACKOFF_MS, this.options.pollMs * 2 ** this.failures);
      this.log.error({ err, failures: this.failures, retryInMs: delay }, 'reconcile failed');
      for (const w of this.waiters.splice(0)) w.reject(err);
    }
    this.schedule(this.again && this.failures === 0 ? 0 : delay);
    this.again = false;
  }
}
