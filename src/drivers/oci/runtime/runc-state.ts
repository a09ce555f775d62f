/**
 * A runc container's status read from runc's own state directory instead of asking `runc state`.
 *
 * Every `runc state` / `runc list` is a fork+exec of a Go binary from a large Node process; the
 * agent asks for every container on every pass, and at hundreds of containers that was most of
 * its time. runc's answer comes from files Kumo can read itself, with the same rules as runc
 * 1.1's `refreshState`: paused when the freezer says so; stopped when the init process is gone,
 * a zombie, or a different process with the same pid (start time differs); created while the
 * `exec.fifo` that `runc start` consumes is still there; else running.
 *
 * Only for runc: another runtime keeps other files, and the runtime asks it on the command line.
 * @module
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RuncState } from './runc.js';

/** The fields of runc's `state.json` this reader needs. */
interface RuncStateFile {
  readonly id?: unknown;
  readonly init_process_pid?: unknown;
  readonly init_process_start?: unknown;
  readonly created?: unknown;
  readonly cgroup_paths?: unknown;
  readonly config?: { readonly labels?: unknown };
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** `/proc/<pid>/stat`: state (field 3) and start time in clock ticks (field 22). The comm field may hold spaces and parentheses. */
export function parseProcStat(text: string): { state: string; startTime: string } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); field 22 is fields[19].
  if (fields.length < 20) return null;
  return { state: fields[0], startTime: fields[19] };
}

async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR' || errCode(err) === 'ESRCH') return null;
    throw err;
  }
}

async function isFrozen(cgroupPaths: Record<string, unknown>): Promise<boolean> {
  const v1 = cgroupPaths.freezer;
  if (typeof v1 === 'string' && v1) return (await readTextOrNull(path.join(v1, 'freezer.state')))?.trim() === 'FROZEN';
  const unified = cgroupPaths[''];
  if (typeof unified === 'string' && unified) return (await readTextOrNull(path.join(unified, 'cgroup.freeze')))?.trim() === '1';
  return false;
}

/** runc's `annotations` come from the config's `key=value` labels, minus the bundle, which has its own field. */
function labelsOf(config: RuncStateFile['config']): { bundle: string; annotations: Record<string, string> } {
  const annotations: Record<string, string> = {};
  let bundle = '';
  const labels = Array.isArray(config?.labels) ? (config.labels as unknown[]) : [];
  for (const l of labels) {
    if (typeof l !== 'string') continue;
    const at = l.indexOf('=');
    if (at <= 0) continue;
    const [k, v] = [l.slice(0, at), l.slice(at + 1)];
    if (k === 'bundle') bundle = v;
    else annotations[k] = v;
  }
  return { bundle, annotations };
}

/**
 * The container `id` under runc's `--root`, as `runc state` would print it; null when runc has
 * no such container. Throws when the state file exists but cannot be understood, so the caller
 * can ask runc instead.
 */
export async function readRuncState(root: string, id: string, procRoot = '/proc'): Promise<RuncState | null> {
  const dir = path.join(root, id);
  const text = await readTextOrNull(path.join(dir, 'state.json'));
  if (text === null) return null;
  const raw = JSON.parse(text) as RuncStateFile;
  const pid = raw.init_process_pid;
  const start = raw.init_process_start;
  if (typeof pid !== 'number' || (typeof start !== 'number' && typeof start !== 'string')) throw new Error(`unexpected runc state file for ${id}`);
  const { bundle, annotations } = labelsOf(raw.config);
  const base = { id, bundle, created: typeof raw.created === 'string' ? raw.created : '', annotations };
  const cgroupPaths = typeof raw.cgroup_paths === 'object' && raw.cgroup_paths !== null ? (raw.cgroup_paths as Record<string, unknown>) : {};
  if (await isFrozen(cgroupPaths)) return { ...base, pid, status: 'paused' };
  const procStat = pid > 0 ? await readTextOrNull(path.join(procRoot, String(pid), 'stat')) : null;
  const parsed = procStat ? parseProcStat(procStat) : null;
  if (!parsed || parsed.startTime !== String(start) || parsed.state === 'Z' || parsed.state === 'X' || parsed.state === 'x') {
    return { ...base, pid: 0, status: 'stopped' };
  }
  const fifo = await stat(path.join(dir, 'exec.fifo')).then(() => true, () => false);
  return { ...base, pid, status: fifo ? 'created' : 'running' };
}

/** The ids runc has state for under `root` (what `runc list` would walk). */
export async function listRuncIds(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return [];
    throw err;
  }
}
