/**
 * Reads what is on the host now: links (`ip -j -d link show`), named namespaces
 * (`ip -j netns list`), the VXLAN flood entries (`bridge -j fdb show`) and, when asked,
 * nftables tables (`nft -j list tables`). The parsers are pure and tolerate the small differences between
 * iproute2 versions (empty output instead of `[]`, missing optional fields).
 * @module
 */
import type { CommandRunner } from '../../../lib/command-runner.js';
import { isNotInstalled } from '../../../lib/command-runner.js';

export interface LinkState {
  readonly name: string;
  readonly ifindex: number;
  /** `linkinfo.info_kind`: bridge, vxlan, veth, tun, ...; null for plain devices. */
  readonly kind: string | null;
  readonly alias: string | null;
  readonly master: string | null;
  readonly mtu: number;
  /** The administrative UP flag (carrier is another matter: a tap has none until QEMU opens it). */
  readonly up: boolean;
  readonly address: string | null;
  /** For a veth: the namespace id (as `ip netns list` shows it) of the peer; null when the peer is here. */
  readonly linkNetnsId: number | null;
  readonly addrGenModeNone: boolean;
  readonly vxlan: { readonly id: number; readonly local: string | null; readonly port: number; readonly learning: boolean } | null;
  readonly bridge: { readonly nfCallIptables: boolean; readonly nfCallIp6tables: boolean } | null;
  /** For tun devices: tap or tun. */
  readonly tunType: string | null;
}

export interface HostSnapshot {
  readonly links: ReadonlyMap<string, LinkState>;
  /** Named namespaces and their ids in this namespace (null: no id assigned yet). */
  readonly namespaces: ReadonlyMap<string, number | null>;
  /** VXLAN device → destinations of its all-zeros (flood) FDB entries; read only when needed. */
  readonly vxlanFlood: ReadonlyMap<string, readonly string[]>;
}

type Json = Record<string, unknown>;

function parseJsonArray(text: string, what: string): Json[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const value: unknown = JSON.parse(trimmed);
  if (!Array.isArray(value)) throw new Error(`${what}: expected a JSON array`);
  return value as Json[];
}

export function parseLinks(text: string): LinkState[] {
  return parseJsonArray(text, 'ip link show').map((l) => {
    const info = (l.linkinfo ?? {}) as Json;
    const kind = typeof info.info_kind === 'string' ? info.info_kind : null;
    const data = (info.info_data ?? {}) as Json;
    const flags = Array.isArray(l.flags) ? (l.flags as string[]) : [];
    return {
      name: String(l.ifname),
      ifindex: Number(l.ifindex),
      kind,
      alias: typeof l.ifalias === 'string' ? l.ifalias : null,
      master: typeof l.master === 'string' ? l.master : null,
      mtu: Number(l.mtu),
      up: flags.includes('UP'),
      address: typeof l.address === 'string' ? l.address : null,
      linkNetnsId: typeof l.link_netnsid === 'number' ? l.link_netnsid : null,
      addrGenModeNone: l.inet6_addr_gen_mode === 'none',
      vxlan:
        kind === 'vxlan'
          ? { id: Number(data.id), local: typeof data.local === 'string' ? data.local : null, port: Number(data.port), learning: data.learning === true }
          : null,
      bridge: kind === 'bridge' ? { nfCallIptables: data.nf_call_iptables === 1, nfCallIp6tables: data.nf_call_ip6tables === 1 } : null,
      tunType: kind === 'tun' && typeof data.type === 'string' ? data.type : null,
    };
  });
}

/** `ip -j netns list`; older iproute2 prints `name (id: N)` lines, which are accepted too. */
export function parseNamespaces(text: string): Map<string, number | null> {
  const trimmed = text.trim();
  const result = new Map<string, number | null>();
  if (!trimmed) return result;
  if (trimmed.startsWith('[')) {
    for (const ns of parseJsonArray(trimmed, 'ip netns list')) result.set(String(ns.name), typeof ns.id === 'number' ? ns.id : null);
    return result;
  }
  for (const line of trimmed.split('\n')) {
    const m = /^(\S+)(?:\s+\(id:\s*(\d+)\))?/.exec(line.trim());
    if (m) result.set(m[1], m[2] === undefined ? null : Number(m[2]));
  }
  return result;
}

export function parseNftTables(text: string): { family: string; name: string }[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const doc = JSON.parse(trimmed) as { nftables?: Json[] };
  return (doc.nftables ?? [])
    .filter((e) => e.table)
    .map((e) => {
      const t = e.table as Json;
      return { family: String(t.family), name: String(t.name) };
    });
}

const ZERO_MAC = '00:00:00:00:00:00';

export function parseVxlanFlood(text: string, isOurs: (dev: string) => boolean): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const e of parseJsonArray(text, 'bridge fdb show')) {
    const dev = typeof e.ifname === 'string' ? e.ifname : null;
    if (!dev || !isOurs(dev) || e.mac !== ZERO_MAC || typeof e.dst !== 'string') continue;
    result.set(dev, [...(result.get(dev) ?? []), e.dst]);
  }
  return result;
}

async function must(runner: CommandRunner, argv: string[]): Promise<string> {
  const r = await runner.run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Reads links, namespaces and (when asked) flood entries; throws when they cannot be read, and then the caller must change nothing. */
export async function readHost(
  runner: CommandRunner,
  options: {
    /** true: read flood entries along with the rest; a function: decide once the links are known. */
    readFlood: boolean | ((links: ReadonlyMap<string, LinkState>) => boolean);
    isOurVxlan: (dev: string) => boolean;
  },
): Promise<HostSnapshot> {
  const fdb = () => must(runner, ['bridge', '-j', 'fdb', 'show']);
  const [linksText, nsText, early] = await Promise.all([
    must(runner, ['ip', '-j', '-d', 'link', 'show']),
    must(runner, ['ip', '-j', 'netns', 'list']),
    options.readFlood === true ? fdb() : Promise.resolve(null),
  ]);
  const links = new Map(parseLinks(linksText).map((l) => [l.name, l]));
  const fdbText = early ?? (typeof options.readFlood === 'function' && options.readFlood(links) ? await fdb() : null);
  const vxlanFlood = fdbText === null ? new Map<string, string[]>() : parseVxlanFlood(fdbText, options.isOurVxlan);
  return { links, namespaces: parseNamespaces(nsText), vxlanFlood };
}

/** `nft -j list tables`, optionally inside a namespace (prefix `ip netns exec NAME`); null when nft is not installed. */
export async function readNftTables(runner: CommandRunner, prefix: readonly string[]): Promise<{ family: string; name: string }[] | null> {
  try {
    return parseNftTables(await must(runner, [...prefix, 'nft', '-j', 'list', 'tables']));
  } catch (err) {
    if (isNotInstalled(err)) return null;
    throw err;
  }
}
