/**
 * The open-files limit containers get. Docker (through containerd) gives 1048576; raising a hard
 * limit above the one the runtime inherits needs CAP_SYS_RESOURCE, which a root without it (a
 * sandboxed host) lacks, and runc then fails the create. So: 1048576 when the process may raise
 * it, else the hard limit it has.
 * @module
 */
import { readFile } from 'node:fs/promises';

export const DOCKER_NOFILE = 1_048_576;
const CAP_SYS_RESOURCE = 24n;

/** The hard "Max open files" of /proc/<pid>/limits, or null. */
export function parseNofileHard(limits: string): number | null {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!m) return null;
  return m[2] === 'unlimited' ? Infinity : Number(m[2]);
}

export function hasCapability(status: string, bit: bigint): boolean {
  const m = /^CapEff:\s+([0-9a-f]+)/m.exec(status);
  return m ? ((BigInt(`0x${m[1]}`) >> bit) & 1n) === 1n : false;
}

export function nofileLimit(limits: string, status: string): number {
  if (hasCapability(status, CAP_SYS_RESOURCE)) return DOCKER_NOFILE;
  const hard = parseNofileHard(limits);
  return hard === null ? 1024 : Math.min(hard, DOCKER_NOFILE);
}

export async function detectNofileLimit(): Promise<number> {
  const [limits, status] = await Promise.all([readFile('/proc/self/limits', 'utf8'), readFile('/proc/self/status', 'utf8')]);
  return nofileLimit(limits, status);
}
