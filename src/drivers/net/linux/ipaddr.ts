/**
 * The few address computations the driver needs (prefix lengths, netmasks, normalised CIDRs,
 * IPv6 link-local addresses), on the address primitives in src/lib shared with the network
 * service (drivers sit below the services and import none of them).
 * @module
 */
import { ADDRESS_BITS, bigIntToIp, ipToBigInt, ipVersion } from '../../../lib/ip-address.js';
import type { IpVersion } from '../../../lib/ip-address.js';

export type { IpVersion };

const BITS = ADDRESS_BITS;

export function ipVersionOf(address: string): IpVersion | null {
  return ipVersion(address) ?? null;
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
  return { version, network: bigIntToIp(ipToBigInt(addr) & mask, version), prefix };
}

/** An address or CIDR as nftables wants it in a set: host prefixes as bare addresses. */
export function nftAddress(cidr: Cidr): string {
  return cidr.prefix === BITS[cidr.version] ? cidr.network : `${cidr.network}/${cidr.prefix}`;
}

export function isDefaultRoute(cidr: Cidr): boolean {
  return cidr.prefix === 0;
}

export function netmaskV4(prefix: number): string {
  return bigIntToIp(prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix), 4);
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const version = ipVersionOf(address);
  if (version !== cidr.version) return false;
  const bits = BigInt(BITS[version]);
  const mask = ((1n << BigInt(cidr.prefix)) - 1n) << (bits - BigInt(cidr.prefix));
  return (ipToBigInt(address) & mask) === ipToBigInt(cidr.network);
}

/** The EUI-64 link-local address a host derives from a MAC (what IPv6 endpoints send ND from). */
export function linkLocalFromMac(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const hextets = [0xfe80, 0, 0, 0, ((b[0] ^ 2) << 8) | b[1], (b[2] << 8) | 0xff, (0xfe << 8) | b[3], (b[4] << 8) | b[5]];
  return bigIntToIp(hextets.reduce((acc, h) => (acc << 16n) | BigInt(h), 0n), 6);
}

export function isMac(text: string): boolean {
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text);
}
