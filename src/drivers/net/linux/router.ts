/**
 * What goes inside a router's namespace: addresses and routes (an `ip -n NS -batch` script),
 * forwarding, and NAT (an nftables table). Pure builders; the driver applies them when the
 * router's fingerprint changes or its namespace or interfaces were recreated.
 * @module
 */
import { createHash } from 'node:crypto';
import type { RouterPortSpec, RouterSpec } from '../types.js';
import { CommandBatch } from './command-batch.js';
import { ipVersionOf, parseCidr } from './ipaddr.js';
import { nftTableName, routerGatewayName, routerInterfaceName } from './naming.js';

/** The sysctls a router namespace needs, written with `tee` (always installed, unlike procps' sysctl). */
export const ROUTER_SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'] as const;

export interface RouterInterface {
  readonly name: string;
  readonly spec: RouterPortSpec;
}

export function routerInterfaces(router: RouterSpec): RouterInterface[] {
  const list = router.interfaces.map((spec) => ({ name: routerInterfaceName(spec.portId), spec }));
  if (router.gateway) list.push({ name: routerGatewayName(router.gateway.portId), spec: router.gateway });
  return list;
}

const addressOnly = (cidr: string) => cidr.split('/')[0];

/** The gateway's first IPv4 address: the source of SNAT and where floating IPs live. */
function gatewayV4(router: RouterSpec): string | null {
  const a = router.gateway?.addresses.find((x) => ipVersionOf(addressOnly(x)) === 4);
  return a ? addressOnly(a) : null;
}

/** Addresses and routes; run with `ip -n NS -force -batch -` after the interfaces exist. */
export function buildRouterInnerBatch(router: RouterSpec, mtus: ReadonlyMap<string, number>): CommandBatch {
  const batch = new CommandBatch();
  const id = router.id;
  batch.add(id, ['link', 'set', 'dev', 'lo', 'up']);
  for (const { name, spec } of routerInterfaces(router)) {
    const mtu = mtus.get(spec.networkId);
    batch.add(id, ['link', 'set', 'dev', name, 'address', spec.macAddress.toLowerCase(), ...(mtu ? ['mtu', String(mtu)] : []), 'up']);
    batch.add(id, ['addr', 'flush', 'dev', name]);
    for (const address of spec.addresses) {
      if (!parseCidr(address)) throw new Error(`router ${id}: not an address with prefix: ${address}`);
      // nodad: the address is ours by IPAM; waiting for DAD would only delay the first packets.
      batch.add(id, ['addr', 'add', address, 'dev', name, ...(ipVersionOf(addressOnly(address)) === 6 ? ['nodad'] : [])]);
    }
  }
  const gw = router.gateway;
  if (gw && router.floatingIps.length) {
    const qg = routerGatewayName(gw.portId);
    for (const fip of router.floatingIps) batch.add(id, ['addr', 'add', `${fip.floatingIp}/32`, 'dev', qg]);
  }
  // Static routes are the driver's own (proto static); flushing them first drops the ones no longer wanted.
  batch.add(id, ['route', 'flush', 'proto', 'static']);
  if (gw?.defaultGateway) batch.add(id, ['route', 'replace', 'default', 'via', gw.defaultGateway, 'dev', routerGatewayName(gw.portId), 'proto', 'static']);
  for (const r of router.routes) batch.add(id, ['route', 'replace', r.destination, 'via', r.nexthop, 'proto', 'static']);
  return batch;
}

/**
 * NAT for the router: DNAT floating→fixed in prerouting, SNAT fixed→floating for traffic leaving
 * through the gateway, then (enableSnat) SNAT of everything else leaving through the gateway to
 * the gateway's address. Empty when the router has no gateway.
 */
export function buildRouterRuleset(owner: string, router: RouterSpec): string {
  const gw = router.gateway;
  if (!gw) return '';
  const qg = `"${routerGatewayName(gw.portId)}"`;
  const source = gatewayV4(router);
  const fips = router.floatingIps.filter((f) => ipVersionOf(f.floatingIp) === 4 && ipVersionOf(f.fixedIp) === 4);
  const pre = fips.map((f) => `ip daddr ${f.floatingIp} dnat to ${f.fixedIp}`);
  const post = fips.map((f) => `oifname ${qg} ip saddr ${f.fixedIp} snat to ${f.floatingIp}`);
  if (gw.enableSnat) post.push(source ? `oifname ${qg} snat to ${source}` : `oifname ${qg} masquerade`);
  const chain = (name: string, hook: string, priority: string, rules: string[]) => [
    `  chain ${name} {`,
    `    type nat hook ${hook} priority ${priority}; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
  return [
    `table ip ${nftTableName(owner)} {`,
    ...chain('prerouting', 'prerouting', 'dstnat', pre),
    // The router itself (and anything run in its namespace) reaches floating IPs too.
    ...chain('output', 'output', '-100', pre),
    ...chain('postrouting', 'postrouting', 'srcnat', post),
    '}',
  ].join('\n') + '\n';
}

/** Replaces the router's table in one transaction (or removes it when the ruleset is empty). */
export function routerRulesetScript(owner: string, ruleset: string): string {
  const table = nftTableName(owner);
  return `table ip ${table}\ndelete table ip ${table}\n${ruleset}`;
}

/** Changes whenever anything applied inside the namespace would change. */
export function routerFingerprint(owner: string, router: RouterSpec, mtus: ReadonlyMap<string, number>): string {
  const inner = buildRouterInnerBatch(router, mtus).script();
  return createHash('sha256').update(inner).update('\0').update(buildRouterRuleset(owner, router)).digest('hex');
}
