/** Polls `probe` until it gives a truthy value (returned) or `ms` pass (throws, naming `what`). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null>, ms = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
