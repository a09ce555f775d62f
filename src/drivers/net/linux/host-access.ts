/**
 * The host facts the driver reads from the filesystem rather than through a tool: namespace
 * identities, running dnsmasq and haproxy processes, signals, one sysctl. Behind an interface so the
 * driver's unit tests can run without root.
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { dhcpPaths, dnsmasqPidFileOf } from './dhcp.js';
import { haproxyPidFileOf, metadataProxyPaths } from './metadata-proxy.js';

/** The daemons the driver runs per network, each with its pid file in `<stateDir>/dhcp-<network>/`. */
export type DaemonKind = 'dnsmasq' | 'haproxy';

export interface DaemonProcess {
  readonly pid: number;
  readonly kind: DaemonKind;
  /** The network whose state directory the process's pid file is in. */
  readonly networkId: string;
  readonly argv: readonly string[];
  /** Inode of its network namespace (compare with `namespaceInode`); null if it could not be read. */
  readonly netnsInode: number | null;
}

/** The pid file each kind's argv names, and where it is in a network's state directory. */
const PID_FILE: Record<DaemonKind, { of(argv: readonly string[]): string | null; in(networkDir: string): string }> = {
  dnsmasq: { of: dnsmasqPidFileOf, in: (dir) => dhcpPaths(dir).pidFile },
  haproxy: { of: haproxyPidFileOf, in: (dir) => metadataProxyPaths(dir).pidFile },
};

export interface HostAccess {
  /** Identity of a named namespace (inode of /run/netns/NAME); null when it does not exist. */
  namespaceInode(name: string): Promise<number | null>;
  /** Every dnsmasq and haproxy whose pid file lies in `<stateDir>/dhcp-<network>/`, found by scanning /proc. */
  listDaemons(stateDir: string): Promise<DaemonProcess[]>;
  /** The same, found through the pid files under `stateDir` (each checked against /proc/<pid>/cmdline). */
  daemonsFromPidFiles(stateDir: string): Promise<DaemonProcess[]>;
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

/** The process if it is a daemon whose pid file is in `<stateDir>/dhcp-<network>/`. */
async function daemonProcess(pid: number | string, stateDir: string): Promise<DaemonProcess | null> {
  const prefix = path.join(stateDir, 'dhcp-');
  const argv = await cmdline(pid);
  if (!argv) return null;
  for (const kind of Object.keys(PID_FILE) as DaemonKind[]) {
    const pidFile = PID_FILE[kind].of(argv);
    if (!pidFile?.startsWith(prefix)) continue;
    const networkId = pidFile.slice(prefix.length).split('/')[0];
    return { pid: Number(pid), kind, networkId, argv, netnsInode: await inode(`/proc/${pid}/ns/net`) };
  }
  return null;
}

const present = (list: (DaemonProcess | null)[]) => list.filter((p): p is DaemonProcess => p !== null);

export function createHostAccess(): HostAccess {
  return {
    namespaceInode: (name) => inode(path.join('/run/netns', name)),
    async listDaemons(stateDir) {
      const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
      return present(await Promise.all(pids.map((pid) => daemonProcess(pid, stateDir))));
    },
    async daemonsFromPidFiles(stateDir) {
      let entries: string[];
      try {
        entries = (await readdir(stateDir)).filter((e) => e.startsWith('dhcp-'));
      } catch {
        return [];
      }
      const found = await Promise.all(
        entries.flatMap((e) => (Object.keys(PID_FILE) as DaemonKind[]).map(async (kind) => {
          const pid = await readPid(PID_FILE[kind].in(path.join(stateDir, e)));
          const p = pid === null ? null : await daemonProcess(pid, stateDir);
          // The pid may have been reused by another daemon, or one of another network: only its own counts.
          return p && p.kind === kind && p.networkId === e.slice('dhcp-'.length) ? p : null;
        })),
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
      // A zombie has an empty cmdline; the daemons are reparented to init, which reaps them.
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
