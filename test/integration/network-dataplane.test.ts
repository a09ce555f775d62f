/**
 * The network service end to end on this host (root): `kumo up` with its agent, driven through
 * the Neutron API, with test endpoints (plain namespaces) plugged into real ports. What is
 * proven is what a user would see: DHCP leases, pings, TCP connections, NAT addresses, and
 * repair after kill -9.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { kumoUp, restartKumo, tearDown } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';
import { dhcpLease, endpointNamespace, isRoot, peerEchoServer, ping, randomTag, sh, succeeds, tcpPeerAddress } from '../support/netns.js';
import { ownerLabel } from '../../src/server.js';
import { waitFor as eventually } from '../support/wait.js';

const N = '/network/v2.0';


describe('network data plane through kumo up and the Neutron API', { skip: isRoot ? false : 'needs root' }, () => {
  const tag = randomTag();
  const outsideBridge = `ktb${tag}`;
  const host = hostname();
  let live: Live;
  let token: string;
  let owner: string;
  const namespaces: { name: string; remove(): Promise<void> }[] = [];
  const servers: { stop(): void }[] = [];
  let outside: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${live.url}${path}`, {
      method,
      headers: { 'x-auth-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, any>) : {};
  };
  const create = async (kind: string, body: Record<string, unknown>) =>
    (await api('POST', `${N}/${kind === 'floatingip' ? 'floatingips' : `${kind.replaceAll('_', '-')}s`}`, { [kind]: body }))[kind];
  /** A port bound to this host whose far end is a new test namespace. */
  const endpoint = async (networkId: string, projectId: string, extra: Record<string, unknown> = {}) => {
    const ns = await endpointNamespace();
    namespaces.push(ns);
    const port = await create('port', { network_id: networkId, project_id: projectId, 'binding:host_id': host, 'binding:profile': { kumo_netns: ns.name }, ...extra });
    return { ns: ns.name, port };
  };
  const activePort = (id: string) => eventually(`port ${id} ACTIVE`, async () => (await api('GET', `${N}/ports/${id}`)).port.status === 'ACTIVE');
  const ownedLinks = async () => (JSON.parse(await sh('ip', ['-j', 'link', 'show'])) as { ifname: string; ifalias?: string }[])
    .filter((l) => l.ifalias?.startsWith(`kumo:${owner}:`)).map((l) => l.ifname);

  before(async () => {
    // "The outside": a bridge this test owns, with a namespace on it holding the external gateway address.
    await sh('ip', ['link', 'add', outsideBridge, 'type', 'bridge']);
    await sh('ip', ['link', 'set', outsideBridge, 'up']);
    const out = await endpointNamespace(`o${tag}`);
    namespaces.push(out);
    outside = out.name;
    await sh('ip', ['link', 'add', `kto${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
    await sh('ip', ['link', 'set', `kto${tag}`, 'master', outsideBridge, 'up']);
    await sh('ip', ['-n', outside, 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
    await sh('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);

    live = await kumoUp(['--agent', 'on', '--host', host, '--physical-bridges', `public:${outsideBridge}`, '--log-level', 'info']);
    owner = ownerLabel(live.dir);
    const password = readFileSync(join(live.dir, 'secrets/admin-password'), 'utf8').trim();
    const auth = await fetch(`${live.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password, domain: { id: 'default' } } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } }),
    });
    assert.equal(auth.status, 201);
    token = auth.headers.get('x-subject-token')!;
  });

  after(async () => {
    for (const s of servers) s.stop();
    if (live) await tearDown(live);
    for (const ns of namespaces) await ns.remove();
    await sh('ip', ['link', 'del', outsideBridge]).catch(() => undefined);
  });

  test('DHCP, security groups, anti-spoofing, SNAT, floating IPs, overlapping CIDRs, repair after kill -9, nothing left after delete', async () => {
    const projectA = (await api('POST', '/identity/v3/projects', { project: { name: `dp-a-${tag}` } })).project.id as string;
    const projectB = (await api('POST', '/identity/v3/projects', { project: { name: `dp-b-${tag}` } })).project.id as string;
    const pub = await create('network', { name: 'public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' });
    await create('subnet', { network_id: pub.id, cidr: '192.0.2.0/24', ip_version: 4, gateway_ip: '192.0.2.1', enable_dhcp: false, allocation_pools: [{ start: '192.0.2.10', end: '192.0.2.99' }] });
    const netA = await create('network', { name: 'a', project_id: projectA });
    const subA = await create('subnet', { network_id: netA.id, project_id: projectA, cidr: '10.0.0.0/24', ip_version: 4 });
    const netB = await create('network', { name: 'b', project_id: projectB });
    await create('subnet', { network_id: netB.id, project_id: projectB, cidr: '10.0.0.0/24', ip_version: 4 });
    const web = await create('security_group', { name: 'web', project_id: projectA });
    await create('security_group_rule', { security_group_id: web.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '0.0.0.0/0' });

    const a1 = await endpoint(netA.id, projectA);
    const a2 = await endpoint(netA.id, projectA, { security_groups: [web.id] });
    const a3 = await endpoint(netA.id, projectA);
    const b1 = await endpoint(netB.id, projectB, { fixed_ips: [{ ip_address: '10.0.0.50' }] });
    const b2 = await endpoint(netB.id, projectB);
    for (const e of [a1, a2, a3, b1, b2]) await activePort(e.port.id);

    // Every endpoint gets exactly its port's address, and the subnet's gateway, by DHCP.
    for (const e of [a1, a2, a3, b1, b2]) {
      const lease = await dhcpLease(e.ns);
      assert.equal(lease.ip, e.port.fixed_ips[0].ip_address);
      assert.equal(lease.router, '10.0.0.1');
    }
    assert.ok(await ping(a1.ns, a3.port.fixed_ips[0].ip_address), 'two ports of the default group reach each other');

    // The `web` group opens TCP 8080 and nothing else.
    servers.push(await peerEchoServer(a2.ns, 8080), await peerEchoServer(a2.ns, 8081));
    const a2ip = a2.port.fixed_ips[0].ip_address as string;
    assert.equal(await tcpPeerAddress(a1.ns, a2ip, 8080), a1.port.fixed_ips[0].ip_address);
    assert.equal(await tcpPeerAddress(a1.ns, a2ip, 8081), null);
    assert.equal(await ping(a1.ns, a2ip), false);

    // A forged source address does not get through; the real one does.
    await sh('ip', ['-n', a1.ns, 'addr', 'add', '10.0.0.99/24', 'dev', 'eth0']);
    assert.equal(await ping(a1.ns, a3.port.fixed_ips[0].ip_address, ['-I', '10.0.0.99']), false);
    assert.ok(await ping(a1.ns, a3.port.fixed_ips[0].ip_address));

    // Same CIDR in two projects: both work, neither reaches the other.
    assert.ok(await ping(b2.ns, '10.0.0.50'));
    assert.equal(await ping(a1.ns, '10.0.0.50'), false);

    // Bad input changes nothing on the host either.
    // Only this Kumo's objects: other tests on the host come and go meanwhile.
    const ours = (text: string) => text.split('\n').filter((l) => l.includes(owner)).sort().join('\n');
    const hostView = async () => [(await ownedLinks()).sort().join(','), ours(await sh('ip', ['netns', 'list'])), ours(await sh('nft', ['list', 'tables']))].join('\n');
    const before = await hostView();
    const refused = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${live.url}${path}`, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return res.status;
    };
    assert.equal(await refused('POST', `${N}/ports`, { port: { network_id: netB.id, fixed_ips: [{ ip_address: '10.0.0.50' }], 'binding:host_id': host } }), 409);
    assert.equal(await refused('POST', `${N}/subnets`, { subnet: { network_id: netA.id, cidr: '10.0.0.0/33', ip_version: 4 } }), 400);
    assert.equal(await refused('DELETE', `${N}/networks/${netA.id}`, {}), 409);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await hostView(), before);

    // A router with SNAT: the outside sees the router's gateway address.
    const router = await create('router', { name: 'r', project_id: projectA, external_gateway_info: { network_id: pub.id } });
    await api('PUT', `${N}/routers/${router.id}/add_router_interface`, { subnet_id: subA.id });
    const gatewayIp = router.external_gateway_info.external_fixed_ips[0].ip_address as string;
    servers.push(await peerEchoServer(outside, 9000));
    assert.equal(await eventually('SNAT to the outside', () => tcpPeerAddress(a1.ns, '192.0.2.1', 9000)), gatewayIp);

    // A floating IP: reachable from the outside, and a2's own traffic leaves with it.
    const fip = await create('floatingip', { floating_network_id: pub.id, port_id: a2.port.id, project_id: projectA });
    assert.equal(await eventually('the floating IP from the outside', () => tcpPeerAddress(outside, fip.floating_ip_address, 8080)), '192.0.2.1');
    assert.equal(await tcpPeerAddress(a2.ns, '192.0.2.1', 9000), fip.floating_ip_address);
    await eventually('floating IP ACTIVE', async () => (await api('GET', `${N}/floatingips/${fip.id}`)).floatingip.status === 'ACTIVE');

    // kill -9, damage the host, restart: the agent repairs what is ours and removes our orphans only.
    live.proc.kill('SIGKILL');
    await new Promise((r) => live.proc.once('exit', r));
    const bridgeA = `kbr${netA.id.replaceAll('-', '').slice(0, 11)}`;
    await sh('ip', ['link', 'del', bridgeA]);
    assert.equal(await ping(a1.ns, a3.port.fixed_ips[0].ip_address), false, 'the damage is real');
    const orphan = `tap${randomTag(11)}`;
    const foreign = `tap${randomTag(11)}`;
    await sh('ip', ['link', 'add', orphan, 'type', 'veth', 'peer', 'name', `${orphan.slice(0, 12)}p`]);
    await sh('ip', ['link', 'set', orphan, 'alias', `kumo:${owner}:${randomUUID()}`]);
    await sh('ip', ['link', 'add', foreign, 'type', 'veth', 'peer', 'name', `${foreign.slice(0, 12)}p`]);
    await sh('ip', ['link', 'set', foreign, 'alias', `kumo:zz${tag}:${randomUUID()}`]);
    try {
      live = await restartKumo(live, ['--agent', 'on', '--host', host, '--physical-bridges', `public:${outsideBridge}`, '--log-level', 'info']);
      await eventually('the bridge is repaired', () => ping(a1.ns, a3.port.fixed_ips[0].ip_address));
      assert.ok(!(await ownedLinks()).includes(orphan), 'our orphan is removed');
      assert.ok(await succeeds('ip', ['link', 'show', foreign]), 'another owner\'s look-alike is untouched');
      assert.equal(await tcpPeerAddress(outside, fip.floating_ip_address, 8080), '192.0.2.1', 'NAT survives the restart');
    } finally {
      await sh('ip', ['link', 'del', foreign]).catch(() => undefined);
      await sh('ip', ['link', 'del', orphan]).catch(() => undefined);
    }

    // Deleting everything through the API leaves nothing of ours on the host.
    await api('DELETE', `${N}/floatingips/${fip.id}`);
    await api('PUT', `${N}/routers/${router.id}/remove_router_interface`, { subnet_id: subA.id });
    await api('DELETE', `${N}/routers/${router.id}`);
    for (const e of [a1, a2, a3, b1, b2]) await api('DELETE', `${N}/ports/${e.port.id}`);
    for (const n of [netA, netB, pub]) await api('DELETE', `${N}/networks/${n.id}`);
    await eventually('no host objects left', async () => (await ownedLinks()).length === 0);
    const netnsLeft = (await sh('ip', ['netns', 'list'])).split('\n').filter((l) => l.includes(`-${owner}-`));
    assert.deepEqual(netnsLeft, []);
    assert.ok(!(await sh('nft', ['list', 'tables'])).includes(`kumo_${owner}`));
    assert.ok(!(await sh('ps', ['-eo', 'args'])).split('\n').some((l) => l.startsWith('dnsmasq') && l.includes(live.dir)));
  });
});
