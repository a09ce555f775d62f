/**
 * IPv4/IPv6 addresses as BigInts, for the network service and the net driver alike. Small and
 * tested (src/network/ip.test.ts), so written here rather than taken from a package.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpVersion = 4 | 6;

export const ADDRESS_BITS: Readonly<Record<IpVersion, number>> = { 4: 32, 6: 128 };

export function ipVersion(address: string): IpVersion | undefined {
  return isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
}

export function ipToBigInt(address: string): bigint {
  if (isIPv4(address)) return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1]);
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const parts = tail === undefined ? headParts : [...headParts, ...Array(8 - headParts.length - tailParts.length).fill('0'), ...tailParts];
  return parts.reduce((acc, h) => (acc << 16n) | BigInt(parseInt(h || '0', 16)), 0n);
}

export function bigIntToIp(value: bigint, version: IpVersion): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const hextets = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero hextets (RFC 5952).
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
