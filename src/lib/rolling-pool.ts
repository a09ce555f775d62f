/**
 * A pass's worth of independent work done a few at a time, that keeps taking work arriving while
 * the pass runs: what the container and volume controllers converge their rows with.
 * @module
 */

/**
 * Runs `work` over `initial`, at most `limit` at a time, and keeps going while more comes:
 * whenever a worker is free it asks `more` for rows not taken yet (rows created since), and
 * `recheck` which of the rows `work` left waiting (true) can go again. `subscribe` wakes idle
 * workers when something changed; without news they look again every 50 ms. Resolves with how
 * many rows are still waiting when nothing is left to do.
 */
export async function rollingPool<T>(p: {
  readonly initial: readonly T[];
  readonly limit: number;
  /** What makes two items the same work (a row's id). */
  readonly keyOf: (item: T) => string;
  /** Returns true when the item has to wait for something (then `recheck` may give it back). */
  readonly work: (item: T) => Promise<boolean>;
  readonly more: (taken: ReadonlySet<string>) => Promise<T[]>;
  readonly recheck?: (waiting: readonly T[]) => Promise<T[]>;
  readonly subscribe: (wake: () => void) => () => void;
}): Promise<number> {
  const { limit, keyOf, work, more, recheck = async () => [], subscribe } = p;
  const queue = [...p.initial];
  const taken = new Set(p.initial.map(keyOf));
  const waiting = new Map<string, T>();
  const rechecked = new Set<string>();
  let busy = 0;
  let sleepers: (() => void)[] = [];
  const wake = () => {
    const all = sleepers;
    sleepers = [];
    for (const s of all) s();
  };
  const unsubscribe = subscribe(wake);
  let refilling: Promise<void> | null = null;
  const refill = () => (refilling ??= (async () => {
    try {
      for (const row of await more(taken)) {
        if (taken.has(keyOf(row))) continue;
        taken.add(keyOf(row));
        queue.push(row);
      }
      // A row comes back once per pass at most: whatever it still waits for, the next pass sees.
      const candidates = [...waiting.entries()].filter(([key]) => !rechecked.has(key));
      if (candidates.length) {
        for (const row of await recheck(candidates.map(([, r]) => r))) {
          if (!waiting.delete(keyOf(row))) continue;
          rechecked.add(keyOf(row));
          queue.push(row);
        }
      }
    } finally {
      refilling = null;
    }
  })());
  const worker = async (): Promise<void> => {
    for (;;) {
      const item = queue.shift();
      if (item) {
        busy++;
        try {
          if (await work(item)) waiting.set(keyOf(item), item);
        } finally {
          busy--;
          wake();
        }
        continue;
      }
      await refill();
      if (queue.length) continue;
      // Nothing to do, and no one else working who could bring more: the pass is over.
      if (busy === 0) {
        wake();
        return;
      }
      await new Promise<void>((resolve) => {
        sleepers.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: limit }, worker));
  } finally {
    unsubscribe();
  }
  return waiting.size;
}
