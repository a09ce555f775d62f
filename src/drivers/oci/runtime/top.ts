/**
 * `ps -ef`-style rows for a container's processes, read from /proc for the pids in its cgroup
 * (what `docker top` shows by default: host pids, user names from the container's passwd).
 * Parsing and formatting are pure; `readProcesses` reads /proc.
 * @module
 */
import { readFile } from 'node:fs/promises';

export const TOP_TITLES: readonly string[] = ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'];

/** Linux's USER_HZ, which /proc times are counted in on every architecture Node runs on. */
const CLK_TCK = 100;

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly ttyNr: number;
  /** utime + stime, clock ticks. */
  readonly cpuTicks: number;
  /** Since boot, clock ticks. */
  readonly startTicks: number;
}

export function parseProcStat(content: string): ProcStat | null {
  // comm may hold spaces and parentheses; it ends at the last ')'.
  const open = content.indexOf('(');
  const close = content.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = content.slice(close + 2).trim().split(/\s+/);
  if (rest.length < 20) return null;
  return {
    pid: Number(content.slice(0, open).trim()),
    comm: content.slice(open + 1, close),
    ppid: Number(rest[1]),
    ttyNr: Number(rest[4]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTicks: Number(rest[19]),
  };
}

export function parseStatusUid(content: string): number | null {
  const m = /^Uid:\s+([0-9]+)/m.exec(content);
  return m ? Number(m[1]) : null;
}

export function ttyName(ttyNr: number): string {
  if (!ttyNr) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return 'console';
  return '?';
}

const pad2 = (n: number) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Cumulative CPU time as ps prints it: `[DD-]HH:MM:SS`. */
export function formatCpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86_400);
  const hms = `${pad2(Math.floor((s % 86_400) / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
  return days ? `${days}-${hms}` : hms;
}

/** Start time as ps prints it: `HH:MM` within the last day, `MonDD` this year, else the year. */
export function formatStartTime(start: Date, now: Date): string {
  if (now.getTime() - start.getTime() < 86_400_000) return `${pad2(start.getHours())}:${pad2(start.getMinutes())}`;
  if (start.getFullYear() === now.getFullYear()) return `${MONTHS[start.getMonth()]}${pad2(start.getDate())}`;
  return String(start.getFullYear());
}

export interface ProcessSample {
  readonly stat: ProcStat;
  readonly uid: number;
  readonly cmdline: readonly string[];
}

export interface ClockSample {
  /** Boot time, ms since the epoch. */
  readonly bootMs: number;
  readonly now: Date;
}

export function formatTopRow(p: ProcessSample, clock: ClockSample, userName: (uid: number) => string): string[] {
  const startMs = clock.bootMs + (p.stat.startTicks / CLK_TCK) * 1000;
  const elapsedSec = Math.max((clock.now.getTime() - startMs) / 1000, 1e-3);
  const cpuSec = p.stat.cpuTicks / CLK_TCK;
  const c = Math.min(99, Math.floor((cpuSec * 100) / elapsedSec));
  const cmd = p.cmdline.length ? p.cmdline.join(' ') : `[${p.stat.comm}]`;
  return [
    userName(p.uid), String(p.stat.pid), String(p.stat.ppid), String(c),
    formatStartTime(new Date(startMs), clock.now), ttyName(p.stat.ttyNr), formatCpuTime(cpuSec), cmd,
  ];
}

/** Boot time from /proc/stat (`btime`, seconds). */
export function parseBootTime(procStat: string): number {
  const m = /^btime\s+([0-9]+)/m.exec(procStat);
  return m ? Number(m[1]) * 1000 : 0;
}

/** Samples of the pids that still exist (a process may exit while it is read). */
export async function readProcesses(pids: readonly number[], procRoot = '/proc'): Promise<ProcessSample[]> {
  const samples = await Promise.all(pids.map(async (pid): Promise<ProcessSample | null> => {
    try {
      const [stat, status, cmdline] = await Promise.all([
        readFile(`${procRoot}/${pid}/stat`, 'utf8'), readFile(`${procRoot}/${pid}/status`, 'utf8'), readFile(`${procRoot}/${pid}/cmdline`, 'utf8'),
      ]);
      const parsed = parseProcStat(stat);
      if (!parsed) return null;
      const args = cmdline.split('\0');
      if (args.length && args[args.length - 1] === '') args.pop();
      return { stat: parsed, uid: parseStatusUid(status) ?? 0, cmdline: args };
    } catch {
      return null;
    }
  }));
  return samples.filter((s): s is ProcessSample => s !== null).sort((a, b) => a.stat.pid - b.stat.pid);
}
