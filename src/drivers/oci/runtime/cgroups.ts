/**
 * Reading a container's cgroup: which hierarchy the host has, where the container's files are,
 * its usage, its processes and whether it saw an OOM kill.
 *
 * runc writes the limits itself (it maps the OCI resources to v1 or v2 files); Kumo only reads.
 * On a v1 or hybrid host (v1 controllers, plus cgroup2 on /sys/fs/cgroup/unified holding no
 * controllers) each controller has its own directory; on a unified host there is one.
 * @module
 */
import { access, readFile, statfs } from 'node:fs/promises';
import path from 'node:path';

const CGROUP2_SUPER_MAGIC = 0x63677270;
/** v1 reports "no limit" as the largest page-aligned int64. */
const V1_UNLIMITED = 2n ** 62n;

export interface CgroupHost {
  readonly root: string;
  readonly v2: boolean;
  readonly swapLimit: boolean;
}

export async function detectCgroupHost(root = '/sys/fs/cgroup'): Promise<CgroupHost> {
  const v2 = Number((await statfs(root)).type) === CGROUP2_SUPER_MAGIC;
  // v1 without swap accounting has no memsw files and runc fails on a swap limit; on v2 runc
  // skips memory.swap.max when it is missing and swap equals memory, which is all Kumo sets.
  const swapLimit = v2 || (await access(path.join(root, 'memory', 'memory.memsw.limit_in_bytes')).then(() => true, () => false));
  return { root, v2, swapLimit };
}

export type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';

export function cgroupDir(host: CgroupHost, controller: Controller, cgroupsPath: string): string {
  return host.v2 ? path.join(host.root, cgroupsPath) : path.join(host.root, controller, cgroupsPath);
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}

/** `key value` lines (memory.stat, memory.events, cpu.stat, memory.oom_control). */
export function parseKeyValues(content: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of content.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^[0-9]+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

/** Whether the container's memory cgroup has OOM-killed a process; null when the cgroup is gone. */
export async function readOomKilled(host: CgroupHost, cgroupsPath: string): Promise<boolean | null> {
  const file = host.v2 ? 'memory.events' : 'memory.oom_control';
  const content = await readText(path.join(cgroupDir(host, 'memory', cgroupsPath), file));
  if (content === null) return null;
  return (parseKeyValues(content).get('oom_kill') ?? 0n) > 0n;
}

export interface CgroupStats {
  readonly cpuNanos: number;
  readonly memoryBytes: number;
  readonly memoryLimitBytes: number | null;
  readonly pids: number;
}

/** Memory in use as `docker stats` counts it: usage minus the inactive page cache. */
export function memoryInUse(usage: bigint, stat: Map<string, bigint>, v2: boolean): bigint {
  const inactive = v2 ? stat.get('inactive_file') : stat.get('total_inactive_file');
  return inactive !== undefined && inactive < usage ? usage - inactive : usage;
}

export function parseMemoryLimit(content: string | null): number | null {
  const t = (content ?? '').trim();
  if (!t || t === 'max') return null;
  const n = BigInt(t);
  return n >= V1_UNLIMITED ? null : Number(n);
}

export async function readStats(host: CgroupHost, cgroupsPath: string): Promise<CgroupStats> {
  const mem = cgroupDir(host, 'memory', cgroupsPath);
  const pidsDir = cgroupDir(host, 'pids', cgroupsPath);
  if (host.v2) {
    const [cpuStat, current, stat, max, pids] = await Promise.all([
      readText(path.join(mem, 'cpu.stat')), readText(path.join(mem, 'memory.current')), readText(path.join(mem, 'memory.stat')),
      readText(path.join(mem, 'memory.max')), readText(path.join(pidsDir, 'pids.current')),
    ]);
    return {
      cpuNanos: Number((parseKeyValues(cpuStat ?? '').get('usage_usec') ?? 0n) * 1000n),
      memoryBytes: Number(memoryInUse(BigInt((current ?? '0').trim() || '0'), parseKeyValues(stat ?? ''), true)),
      memoryLimitBytes: parseMemoryLimit(max),
      pids: Number((pids ?? '0').trim() || 0),
    };
  }
  const [usageNs, usage, stat, limit, pids] = await Promise.all([
    readText(path.join(cgroupDir(host, 'cpuacct', cgroupsPath), 'cpuacct.usage')),
    readText(path.join(mem, 'memory.usage_in_bytes')), readText(path.join(mem, 'memory.stat')),
    readText(path.join(mem, 'memory.limit_in_bytes')), readText(path.join(pidsDir, 'pids.current')),
  ]);
  return {
    cpuNanos: Number((usageNs ?? '0').trim() || 0),
    memoryBytes: Number(memoryInUse(BigInt((usage ?? '0').trim() || '0'), parseKeyValues(stat ?? ''), false)),
    memoryLimitBytes: parseMemoryLimit(limit),
    pids: Number((pids ?? '0').trim() || 0),
  };
}

/** Host pids of the container's processes (empty when the cgroup is gone). */
export async function readPids(host: CgroupHost, cgroupsPath: string): Promise<number[]> {
  const content = await readText(path.join(cgroupDir(host, 'pids', cgroupsPath), 'cgroup.procs'));
  return (content ?? '').split('\n').filter((l) => /^[0-9]+$/.test(l)).map(Number);
}
