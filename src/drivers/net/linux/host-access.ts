/**
 * The host facts the driver reads from the filesystem rather than through a tool: namespace
 * identities, running dnsmasq processes, signals, one sysctl. Behind an interface so the
 * driver's unit tests can run without root.
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export interface DnsmasqProcess {
  readonly pid: number;
  /** The network whose state directory the process's pid file is in. */
  readonly networkId: string;
  readonly argv: readonly string[];
  /** Inode of its network namespace (compare with `namespaceInode`); null if it could not be read. */
  readonly netnsInode: number | null;
}

export interface HostAccess {
  /** Identity of a named namespace (inode of /run/netns/NAME); null when it does not exist. */
  namespaceInode(name: string): Promise<number | null>;
  /** Every dnsmasq whose pid file lies in `<stateDir>/dhcp-<network>/`, found by scanning /proc. */
  listDnsmasq(stateDir: string): Promise<DnsmasqProcess[]>;
  /** The same, found through the pid files under `stateDir` (each checked against /proc/<pid>/cmdline). */
  dnsmasqFromPidFiles(stateDir: string): Promise<DnsmasqProcess[]>;
  readPidFile(file: string): Promise<number | null>;
  /** Sends a signal; false when the process is gone. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /** True while the process exists and is not a zombie. */
  isAlive(pid: number): Promise<boolean>;
  /** net.bridge.bridge-nf-call-iptables of this namespace (false when br_netfilter is absent). */
  bridgeNfCallIptables(): Promise<boolean>;
}

async function inode(file: string): Promise<number | null> {
  try {
    return (await stat(file)).ino;
  } catch {
    return null;
  }
}

async function cmdline(pid: number | string): Promise<string[] | null> {
  try {
    const raw = (await readFile(`/proc/${pid}/cmdline`)).toString('utf8');
    if (!raw) return null;
    return raw.split('\0').slice(0, raw.endsWith('\0') ? -1 : undefined);
  } catch {
    return null;
  }
}

async function readPid(file: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The process if it is a dnsmasq whose pid file is in `<stateDir>/dhcp-<network>/`. */
async function dnsmasqProcess(pid: number | string, stateDir: string): Promise<DnsmasqProcess | null> {
  const prefix = `--pid-file=${path.join(stateDir, 'dhcp-')}`;
  const argv = await cmdline(pid);
  if (!argv || path.basename(argv[0]) !== 'dnsmasq') return null;
  const pidFileArg = argv.find((a) => a.startsWith(prefix));
  if (!pidFileArg) return null;
  const networkId = pidFileArg.slice(prefix.length).split('/')[0];
  return { pid: Number(pid), networkId, argv, netnsInode: await inode(`/proc/${pid}/ns/net`) };
}

const present = (list: (DnsmasqProcess | null)[]) => list.filter((p): p is DnsmasqProcess => p !== null);

export function createHostAccess(): HostAccess {
  return {
    namespaceInode: (name) => inode(path.join('/run/netns', name)),
    async listDnsmasq(stateDir) {
      const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
      return present(await Promise.all(pids.map((pid) => dnsmasqProcess(pid, stateDir))));
    },
    async dnsmasqFromPidFiles(stateDir) {
      let entries: string[];
      try {
        entries = (await readdir(stateDir)).filter((e) => e.startsWith('dhcp-'));
      } catch {
        return [];
      }
      const found = await Promise.all(
        entries.map(async (e) => {
          const pid = await readPid(path.join(stateDir, e, 'dnsmasq.pid'));
          const p = pid === null ? null : await dnsmasqProcess(pid, stateDir);
          // The pid may have been reused by a dnsmasq of another network: only its own counts.
          return p && p.networkId === e.slice('dhcp-'.length) ? p : null;
        }),
      );
      return present(found);
    },
    readPidFile: readPid,
    signal(pid, signal) {
      try {
        process.kill(pid, signal);
        return true;
      } catch {
        return false;
      }
    },
    async isAlive(pid) {
      // A zombie has an empty cmdline; dnsmasq is reparented to init, which reaps it.
      return (await cmdline(pid)) !== null;
    },
    async bridgeNfCallIptables() {
      try {
        return (await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8')).trim() === '1';
      } catch {
        return false;
      }
    },
  };
}
