/**
 * IPv4/IPv6 addresses and CIDRs as BigInts: parsing, normalizing, containment and ranges.
 * Small and tested, so written here rather than taken from a package.
 * @module
 */
import { ADDRESS_BITS, bigIntToIp, ipToBigInt, ipVersion } from '../lib/ip-address.js';
import type { IpVersion } from '../lib/ip-address.js';

export { bigIntToIp, ipToBigInt, ipVersion };
export type { IpVersion };

export interface Cidr {
  version: IpVersion;
  /** The network address (host bits zero). */
  network: bigint;
  prefix: number;
  /** Number of addresses in the block. */
  size: bigint;
}

const BITS = ADDRESS_BITS;

/** Parses `a.b.c.d/n` or `x::/n`; undefined when it is not a CIDR. Host bits may be set (as Neutron accepts). */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const version = ipVersion(m[1]);
  const prefix = Number(m[2]);
  if (!version || prefix > BITS[version]) return undefined;
  const bits = BITS[version];
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { version, network: ipToBigInt(m[1]) & mask, prefix, size: 1n << BigInt(bits - prefix) };
}

export function formatCidr(c: Cidr): string {
  return `${bigIntToIp(c.network, c.version)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, address: string): boolean {
  if (ipVersion(address) !== c.version) return false;
  const a = ipToBigInt(address);
  return a >= c.network && a < c.network + c.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.network < b.network + b.size && b.network < a.network + a.size;
}

/** The first and last address usable for hosts (IPv4 excludes network and broadcast). */
export function hostRange(c: Cidr): [bigint, bigint] {
  if (c.version === 4 && c.prefix <= 30) return [c.network + 1n, c.network + c.size - 2n];
  if (c.version === 6 && c.prefix < 127) return [c.network + 1n, c.network + c.size - 1n];
  return [c.network, c.network + c.size - 1n];
}
