/**
 * The few address computations the driver needs (prefix lengths, netmasks, normalised CIDRs,
 * IPv6 link-local addresses). Kept here rather than imported from the network service: drivers
 * sit below the services and depend on none of them.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpVersion = 4 | 6;

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

export function ipVersionOf(address: string): IpVersion | null {
  return isIPv4(address) ? 4 : isIPv6(address) ? 6 : null;
}

function toBigInt(address: string, version: IpVersion): bigint {
  if (version === 4) return address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = toBigInt(v4[1], 4);
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const parts = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return parts.reduce((acc, x) => (acc << 16n) | BigInt(parseInt(x || '0', 16)), 0n);
}

function fromBigInt(value: bigint, version: IpVersion): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const hextets = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && hextets[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start < 0) return hextets.join(':');
  return `${hextets.slice(0, best.start).join(':')}::${hextets.slice(best.start + best.len).join(':')}`;
}

export interface Cidr {
  readonly version: IpVersion;
  /** The network address, host bits cleared, in canonical text form. */
  readonly network: string;
  readonly prefix: number;
}

/** Parses `addr/len` (host bits may be set) or a bare address (a host prefix); null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const version = ipVersionOf(addr);
  if (!version) return null;
  const prefix = len === undefined ? BITS[version] : Number(len);
  if (!/^\d{1,3}$/.test(len ?? '0') || !Number.isInteger(prefix) || prefix < 0 || prefix > BITS[version]) return null;
  const bits = BigInt(BITS[version]);
  const mask = ((1n << BigInt(prefix)) - 1n) << (bits - BigInt(prefix));
  return { version, network: fromBigInt(toBigInt(addr, version) & mask, version), prefix };
}

/** An address or CIDR as nftables wants it in a set: host prefixes as bare addresses. */
export function nftAddress(cidr: Cidr): string {
  return cidr.prefix === BITS[cidr.version] ? cidr.network : `${cidr.network}/${cidr.prefix}`;
}

export function isDefaultRoute(cidr: Cidr): boolean {
  return cidr.prefix === 0;
}

export function netmaskV4(prefix: number): string {
  return fromBigInt(prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix), 4);
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const version = ipVersionOf(address);
  if (version !== cidr.version) return false;
  const bits = BigInt(BITS[version]);
  const mask = ((1n << BigInt(cidr.prefix)) - 1n) << (bits - BigInt(cidr.prefix));
  return (toBigInt(address, version) & mask) === toBigInt(cidr.network, version);
}

/** The EUI-64 link-local address a host derives from a MAC (what IPv6 endpoints send ND from). */
export function linkLocalFromMac(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const hextets = [0xfe80, 0, 0, 0, ((b[0] ^ 2) << 8) | b[1], (b[2] << 8) | 0xff, (0xfe << 8) | b[3], (b[4] << 8) | b[5]];
  return fromBigInt(hextets.reduce((acc, h) => (acc << 16n) | BigInt(h), 0n), 6);
}

export function isMac(text: string): boolean {
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text);
}
