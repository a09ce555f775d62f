/** Waits on servers through the real CLI, shared by the e2e suites that boot VMs. */
import { waitFor } from './wait.js';

type Os = (...args: string[]) => Promise<string>;
type OsJson = (...args: string[]) => Promise<any>;

export function serverWaits(os: Os, osJson: OsJson) {
  /** The server reaches `status` within 3 minutes (ERROR on the way fails at once, with its fault). */
  const serverIs = (name: string, status: string) => waitFor(`${name} ${status}`, async () => {
    const s = (await osJson('server', 'show', name)) as Record<string, any>;
    if (s.status === 'ERROR' && status !== 'ERROR') throw new Error(`${name} went to ERROR: ${JSON.stringify(s.fault)}`);
    return s.status === status && s;
  }, 180_000, 1000);
  /** The console log matches within 3 minutes; else the error shows its end. */
  const consoleHas = async (name: string, pattern: RegExp) => {
    let last = '';
    return waitFor(`${name} console ${pattern}`, async () => {
      last = await os('console', 'log', 'show', name);
      return pattern.test(last) && last;
    }, 180_000, 1000).catch((err: Error) => {
      throw new Error(`${err.message}; the console's end:\n${last.split('\n').slice(-25).join('\n')}`);
    });
  };
  return { serverIs, consoleHas };
}
