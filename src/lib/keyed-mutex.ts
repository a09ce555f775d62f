/**
 * Serialises work per key (an instance, a container, a volume); different keys run concurrently.
 * Only within one process: drivers own their state directories alone.
 * @module
 */

export type WithLock = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

export function keyedMutex(): WithLock {
  const tails = new Map<string, Promise<unknown>>();
  return async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
