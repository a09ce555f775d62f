/**
 * Container logs from conmon's k8s-file format: one record per line,
 * `<RFC 3339 time with ns and offset> <stdout|stderr> <F|P> <text>`, where P marks a piece of a
 * line whose rest follows in later records of the same stream. Pure.
 * @module
 */
import type { LogOptions } from '../types.js';

export interface LogLine {
  /** Nanoseconds since the epoch. */
  readonly timeNs: bigint;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/;

/** Nanoseconds since the epoch of an RFC 3339 / ISO-8601 time (no zone: UTC); null when unreadable. */
export function parseTimeNs(value: string): bigint | null {
  const m = RFC3339.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const z = zone.replace(':', '');
    offsetMinutes = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMinutes * 60_000;
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
}

/** Docker's log timestamp: UTC, always nine fractional digits. */
export function formatTimeNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Whole lines of a k8s-file log, in order; a line still unfinished at the end is included. */
export function parseK8sLog(content: string): LogLine[] {
  const lines: LogLine[] = [];
  const pending: Record<string, { timeNs: bigint; text: string } | undefined> = {};
  for (const record of content.split('\n')) {
    if (!record) continue;
    const a = record.indexOf(' ');
    const b = record.indexOf(' ', a + 1);
    const c = record.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const stream = record.slice(a + 1, b);
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    const tag = c < 0 ? record.slice(b + 1) : record.slice(b + 1, c);
    const text = c < 0 ? '' : record.slice(c + 1);
    const timeNs = parseTimeNs(record.slice(0, a));
    if (timeNs === null) continue;
    const partial = tag.split(':').includes('P');
    const head = pending[stream];
    if (partial) {
      pending[stream] = head ? { timeNs: head.timeNs, text: head.text + text } : { timeNs, text };
      continue;
    }
    pending[stream] = undefined;
    lines.push(head ? { timeNs: head.timeNs, stream, text: head.text + text } : { timeNs, stream, text });
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const head = pending[stream];
    if (head) lines.push({ timeNs: head.timeNs, stream, text: head.text });
  }
  lines.sort((x, y) => (x.timeNs < y.timeNs ? -1 : x.timeNs > y.timeNs ? 1 : 0));
  return lines;
}

/** The selected lines as `docker logs` prints them. */
export function renderLogs(lines: readonly LogLine[], options: LogOptions): string {
  const since = options.since ? parseTimeNs(options.since) : null;
  let selected = lines.filter((l) => (l.stream === 'stdout' ? options.stdout : options.stderr) && (since === null || l.timeNs >= since));
  if (options.tail !== null) selected = options.tail > 0 ? selected.slice(-options.tail) : [];
  return selected.map((l) => (options.timestamps ? `${formatTimeNs(l.timeNs)} ${l.text}\n` : `${l.text}\n`)).join('');
}
