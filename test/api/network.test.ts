import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const N = '/network/v2.0';

for (const dialect of DIALECTS) {
  describe(`network API: networks and subnets (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: string;
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
      const V3 = '/identity/v3';
      const project = JSON.parse((await k.request('POST', `${V3}/projects`, { token: admin, body: { project: { name: 'tenant-a' } } })).body).project;
      const user = JSON.parse((await k.request('POST', `${V3}/users`, { token: admin, body: { user: { name: 'alice', password: 'pw' } } })).body).user;
      const role = JSON.parse((await k.request('GET', `${V3}/roles?name=member`, { token: admin })).body).roles[0];
      await k.request('PUT', `${V3}/projects/${project.id}/users/${user.id}/roles/${role.id}`, { token: admin });
      member = await k.login('alice', 'pw', 'tenant-a');
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const post = (token: string, kind: string, body: Record<string, unknown>) => k.request('POST', `${N}/${kind.replaceAll('_', '-')}s`, { token, body: { [kind]: body } });

    test('version document, extensions, and the Neutron error shape', async () => {
      const root = await k.request('GET', '/network');
      assert.equal(json(root.body).versions[0].links[0].href, `${k.config.publicUrl}/network/v2.0/`);
      const exts = json((await k.request('GET', `${N}/extensions`, { token: member })).body).extensions.map((e: { alias: string }) => e.alias);
      assert.ok(exts.includes('external-net') && exts.includes('provider'));
      const missing = await k.request('GET', `${N}/networks/nope`, { token: member });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(json(missing.body), { NeutronError: { type: 'NetworkNotFound', message: 'Network nope could not be found.', detail: '' } });
      const anon = await k.request('GET', `${N}/networks`);
      assert.equal(anon.statusCode, 401);
      assert.match(String(anon.headers['www-authenticate']), /^Keystone uri=".*\/identity"$/);
    });

    test('network and subnet lifecycle with defaults Neutron clients rely on', async () => {
      const res = await post(member, 'network', { name: 'net1', admin_state_up: true });
      assert.equal(res.statusCode, 201, res.body);
      const net = json(res.body).network;
      assert.equal(net.mtu, 1450);
      assert.equal(net['provider:network_type'], undefined, 'provider attributes are for admins');
      assert.deepEqual(net.subnets, []);
      const sres = await post(member, 'subnet', { name: 'sub1', network_id: net.id, ip_version: 4, cidr: '10.0.0.0/24', dns_nameservers: ['10.0.0.53'] });
      assert.equal(sres.statusCode, 201, sres.body);
      const sub = json(sres.body).subnet;
      assert.equal(sub.gateway_ip, '10.0.0.1');
      assert.deepEqual(sub.allocation_pools, [{ start: '10.0.0.2', end: '10.0.0.254' }]);
      assert.deepEqual(sub.host_routes, []);
      const v6 = json((await post(member, 'subnet', { network_id: net.id, ip_version: 6, cidr: '2001:db8::/64' })).body).subnet;
      assert.equal(v6.gateway_ip, '2001:db8::1');
      const shown = json((await k.request('GET', `${N}/networks/${net.id}?fields=id&fields=subnets`, { token: member })).body).network;
      assert.deepEqual(Object.keys(shown).sort(), ['id', 'subnets']);
      assert.equal(shown.subnets.length, 2);
      const upd = await k.request('PUT', `${N}/networks/${net.id}`, { token: member, body: { network: { name: 'renamed' } } });
      assert.equal(json(upd.body).network.revision_number, 2);
      assert.equal(json((await k.request('GET', `${N}/networks?name=renamed`, { token: member })).body).networks.length, 1);
      assert.equal((await k.request('DELETE', `${N}/subnets/${v6.id}`, { token: member })).statusCode, 204);
      assert.equal((await k.request('DELETE', `${N}/networks/${net.id}`, { token: member })).statusCode, 204);
      assert.equal((await k.request('GET', `${N}/subnets/${sub.id}`, { token: member })).statusCode, 404);
    });

    test('bad input is refused with Neutron errors and changes nothing', async () => {
      const net = json((await post(member, 'network', { name: 'bad-input' })).body).network;
      const before = (await k.request('GET', `${N}/subnets`, { token: admin })).body;
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ network_id: net.id, cidr: '10.9.0.0/33' }, 400, /not a valid IP subnet/],
        [{ network_id: net.id, cidr: '10.9.0.5/24' }, 400, /10\.9\.0\.0\/24' is recommended/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', gateway_ip: '10.8.0.1' }, 400, /outside the subnet/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.20' }, { start: '10.9.0.15', end: '10.9.0.30' }] }, 400, /overlapping allocation pools/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.1', end: '10.9.0.20' }] }, 409, /conflicts with allocation pool/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', ip_version: 6 }, 400, /does not match/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', colour: 'red' }, 400, /Unrecognized attribute/],
        [{ network_id: net.id, cidr: '10.9.0.0/24', enable_dhcp: 'yes' }, 400, /enable_dhcp/],
        [{ network_id: 'nope', cidr: '10.9.0.0/24' }, 404, /Network nope could not be found/],
      ];
      for (const [body, status, message] of cases) {
        const res = await post(member, 'subnet', body);
        assert.equal(res.statusCode, status, `${JSON.stringify(body)} -> ${res.body}`);
        assert.match(json(res.body).NeutronError.message, message);
      }
      assert.equal((await k.request('GET', `${N}/subnets`, { token: admin })).body, before);
      assert.equal((await post(member, 'network', { name: 'x', shared: true })).statusCode, 403, 'shared networks are for admins');
      assert.equal((await post(member, 'network', { name: 'x', 'provider:network_type': 'flat' })).statusCode, 403);
    });

    test('isolation: a member sees and changes only its own networks; admins see all; shared ones are visible', async () => {
      const theirs = json((await post(admin, 'network', { name: 'admins-private' })).body).network;
      const shared = json((await post(admin, 'network', { name: 'public', shared: true, 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'external' })).body).network;
      assert.equal(shared['provider:network_type'], 'flat');
      const seen = json((await k.request('GET', `${N}/networks`, { token: member })).body).networks.map((n: { id: string }) => n.id);
      assert.ok(!seen.includes(theirs.id));
      assert.ok(seen.includes(shared.id));
      assert.equal((await k.request('GET', `${N}/networks/${theirs.id}`, { token: member })).statusCode, 404);
      assert.equal((await k.request('DELETE', `${N}/networks/${theirs.id}`, { token: member })).statusCode, 404);
      assert.equal((await k.request('PUT', `${N}/networks/${shared.id}`, { token: member, body: { network: { name: 'mine' } } })).statusCode, 403);
      assert.equal((await post(member, 'subnet', { network_id: shared.id, cidr: '192.0.2.0/24' })).statusCode, 403);
      const all = json((await k.request('GET', `${N}/networks`, { token: admin })).body).networks.map((n: { id: string }) => n.id);
      assert.ok(all.includes(theirs.id));
    });

    test('pagination with limit and marker, sorting, and VNIs that never repeat', async () => {
      const ids: string[] = [];
      const vnis = new Set<number>();
      const created = await Promise.all(Array.from({ length: 6 }, (_, i) => post(admin, 'network', { name: `page-${i}` })));
      for (const r of created) {
        assert.equal(r.statusCode, 201, r.body);
        const n = json(r.body).network;
        ids.push(n.id);
        vnis.add(n['provider:segmentation_id']);
      }
      assert.equal(vnis.size, 6, 'concurrent creates get distinct VXLAN ids');
      const first = json((await k.request('GET', `${N}/networks?limit=4&sort_key=name&sort_dir=asc&name=page-0&name=page-1&name=page-2&name=page-3&name=page-4&name=page-5`, { token: admin })).body);
      assert.deepEqual(first.networks.map((n: { name: string }) => n.name), ['page-0', 'page-1', 'page-2', 'page-3']);
      const next = first.networks_links.find((l: { rel: string }) => l.rel === 'next').href as string;
      const second = json((await k.request('GET', next.slice(k.config.publicUrl.length), { token: admin })).body);
      assert.deepEqual(second.networks.map((n: { name: string }) => n.name), ['page-4', 'page-5']);
    });

    test('ports: IPAM hands out each address once, even to concurrent creates', async () => {
      const net = json((await post(member, 'network', { name: 'ipam' })).body).network;
      const sub = json((await post(member, 'subnet', { network_id: net.id, cidr: '10.30.0.0/27', allocation_pools: [{ start: '10.30.0.10', end: '10.30.0.29' }] })).body).subnet;
      const first = await post(member, 'port', { network_id: net.id, name: 'p0', device_id: 'vm-1' });
      assert.equal(first.statusCode, 201, first.body);
      const p0 = json(first.body).port;
      assert.deepEqual(p0.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.30.0.10' }]);
      assert.match(p0.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
      assert.equal(p0.status, 'DOWN');
      assert.equal(p0.security_groups.length, 1, 'a port gets the project default security group');
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => post(member, 'port', { network_id: net.id, name: `c${i}` })));
      const ips = results.map((r) => {
        assert.equal(r.statusCode, 201, r.body);
        return json(r.body).port.fixed_ips[0].ip_address;
      });
      assert.equal(new Set([...ips, '10.30.0.10']).size, 17, 'no address is handed out twice');
      const explicit = await post(member, 'port', { network_id: net.id, fixed_ips: [{ ip_address: '10.30.0.5' }] });
      assert.equal(explicit.statusCode, 201, 'an address outside the pools but inside the subnet may be asked for');
      const dup = await post(member, 'port', { network_id: net.id, fixed_ips: [{ ip_address: '10.30.0.5' }] });
      assert.equal(dup.statusCode, 409);
      assert.equal(json(dup.body).NeutronError.type, 'IpAddressAlreadyAllocated');
      const outside = await post(member, 'port', { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.31.0.5' }] });
      assert.equal(outside.statusCode, 400);
      const gw = await post(member, 'port', { network_id: net.id, fixed_ips: [{ ip_address: '10.30.0.1' }] });
      assert.equal(gw.statusCode, 409, 'the gateway address is kept for the router');
      const rest = await Promise.all(Array.from({ length: 3 }, () => post(member, 'port', { network_id: net.id })));
      assert.deepEqual(rest.map((r) => r.statusCode), [201, 201, 201]);
      const exhausted = await post(member, 'port', { network_id: net.id });
      assert.equal(exhausted.statusCode, 409);
      assert.equal(json(exhausted.body).NeutronError.type, 'IpAddressGenerationFailure');
      const byDevice = json((await k.request('GET', `${N}/ports?device_id=vm-1`, { token: member })).body).ports;
      assert.deepEqual(byDevice.map((p: { id: string }) => p.id), [p0.id]);
      const moved = await k.request('PUT', `${N}/ports/${p0.id}`, { token: member, body: { port: { fixed_ips: [{ ip_address: '10.30.0.6' }], name: 'moved' } } });
      assert.equal(json(moved.body).port.fixed_ips[0].ip_address, '10.30.0.6');
      const inUse = await k.request('DELETE', `${N}/networks/${net.id}`, { token: member });
      assert.equal(inUse.statusCode, 409);
      assert.equal(json(inUse.body).NeutronError.type, 'NetworkInUse');
      assert.equal((await k.request('DELETE', `${N}/subnets/${sub.id}`, { token: member })).statusCode, 409);
      assert.equal((await k.request('DELETE', `${N}/ports/${p0.id}`, { token: member })).statusCode, 204);
      const reuse = await post(member, 'port', { network_id: net.id, fixed_ips: [{ ip_address: '10.30.0.6' }] });
      assert.equal(reuse.statusCode, 201, 'a deleted port gives its address back');
      const others = await k.request('GET', `${N}/ports/${p0.id}`, { token: admin });
      assert.equal(others.statusCode, 404);
    });

    test('tags on networks, subnets and ports, and tag filters', async () => {
      const net = json((await post(member, 'network', { name: 'tagged' })).body).network;
      const put = await k.request('PUT', `${N}/networks/${net.id}/tags`, { token: member, body: { tags: ['blue', 'prod'] } });
      assert.equal(put.statusCode, 200, put.body);
      assert.deepEqual(json(put.body).tags, ['blue', 'prod']);
      assert.equal((await k.request('PUT', `${N}/networks/${net.id}/tags/green`, { token: member })).statusCode, 201);
      assert.equal((await k.request('GET', `${N}/networks/${net.id}/tags/green`, { token: member })).statusCode, 204);
      assert.equal((await k.request('GET', `${N}/networks/${net.id}/tags/red`, { token: member })).statusCode, 404);
      assert.equal((await k.request('PUT', `${N}/networks/${net.id}/tags/a,b`, { token: member })).statusCode, 400);
      const found = json((await k.request('GET', `${N}/networks?tags=blue,green`, { token: member })).body).networks;
      assert.deepEqual(found.map((n: { id: string }) => n.id), [net.id]);
      assert.equal(json((await k.request('GET', `${N}/networks?not-tags-any=prod&name=tagged`, { token: member })).body).networks.length, 0);
      const port = json((await post(member, 'port', { network_id: net.id })).body).port;
      assert.equal((await k.request('PUT', `${N}/ports/${port.id}/tags/web`, { token: member })).statusCode, 201);
      assert.deepEqual(json((await k.request('GET', `${N}/ports/${port.id}`, { token: member })).body).port.tags, ['web']);
      assert.equal((await k.request('DELETE', `${N}/networks/${net.id}/tags/blue`, { token: member })).statusCode, 204);
      assert.equal((await k.request('DELETE', `${N}/networks/${net.id}/tags/blue`, { token: member })).statusCode, 404);
      assert.equal((await k.request('DELETE', `${N}/networks/${net.id}/tags`, { token: member })).statusCode, 204);
      assert.deepEqual(json((await k.request('GET', `${N}/networks/${net.id}/tags`, { token: member })).body).tags, []);
      const shared = json((await k.request('GET', `${N}/networks?name=public`, { token: member })).body).networks[0];
      assert.equal((await k.request('PUT', `${N}/networks/${shared.id}/tags/mine`, { token: member })).statusCode, 403);
    });

    test('security groups: default group on first use, rules validated, groups in use protected', async () => {
      const groups = json((await k.request('GET', `${N}/security-groups`, { token: member })).body).security_groups;
      const def = groups.find((g: { name: string }) => g.name === 'default');
      assert.equal(def.security_group_rules.length, 4);
      assert.ok(def.security_group_rules.some((r: any) => r.direction === 'ingress' && r.remote_group_id === def.id && r.ethertype === 'IPv6'));
      const again = json((await k.request('GET', `${N}/security-groups?name=default`, { token: member })).body).security_groups;
      assert.equal(again.length, 1, 'the default group is created once');
      const sg = json((await post(member, 'security_group', { name: 'web', description: 'web' })).body).security_group;
      assert.equal(sg.security_group_rules.length, 2, 'new groups allow egress');
      const rule = { security_group_id: sg.id, direction: 'ingress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '0.0.0.0/0' };
      const created = await post(member, 'security_group_rule', rule);
      assert.equal(created.statusCode, 201, created.body);
      const dup = await post(member, 'security_group_rule', rule);
      assert.equal(dup.statusCode, 409);
      assert.equal(json(dup.body).NeutronError.type, 'SecurityGroupRuleExists');
      const bad: [Record<string, unknown>, string][] = [
        [{ ...rule, port_range_min: 9000, port_range_max: 8000 }, 'SecurityGroupInvalidPortRange'],
        [{ ...rule, protocol: 'bogus' }, 'SecurityGroupRuleInvalidProtocol'],
        [{ ...rule, remote_ip_prefix: '2001:db8::/64' }, 'SecurityGroupRuleParameterConflict'],
        [{ ...rule, remote_group_id: def.id }, 'SecurityGroupRemoteGroupAndRemoteIpPrefix'],
        [{ ...rule, protocol: null }, 'SecurityGroupProtocolRequiredWithPorts'],
      ];
      for (const [body, type] of bad) {
        const res = await post(member, 'security_group_rule', body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.body}`);
        assert.equal(json(res.body).NeutronError.type, type);
      }
      const icmp = await post(member, 'security_group_rule', { security_group_id: sg.id, direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0 });
      assert.equal(icmp.statusCode, 201, icmp.body);
      const net = json((await post(member, 'network', { name: 'sg-net' })).body).network;
      await post(member, 'subnet', { network_id: net.id, cidr: '10.40.0.0/24' });
      const port = json((await post(member, 'port', { network_id: net.id, security_groups: [sg.id] })).body).port;
      assert.deepEqual(port.security_groups, [sg.id]);
      const inUse = await k.request('DELETE', `${N}/security-groups/${sg.id}`, { token: member });
      assert.equal(inUse.statusCode, 409);
      assert.equal(json(inUse.body).NeutronError.type, 'SecurityGroupInUse');
      assert.equal((await k.request('DELETE', `${N}/security-groups/${def.id}`, { token: member })).statusCode, 409);
      const noSecurity = await k.request('PUT', `${N}/ports/${port.id}`, { token: member, body: { port: { port_security_enabled: false } } });
      assert.equal(noSecurity.statusCode, 409);
      const cleared = await k.request('PUT', `${N}/ports/${port.id}`, { token: member, body: { port: { security_groups: [], port_security_enabled: false } } });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal((await k.request('DELETE', `${N}/security-groups/${sg.id}`, { token: member })).statusCode, 204);
      const adminView = json((await k.request('GET', `${N}/security-groups/${sg.id}`, { token: admin })).body);
      assert.equal(adminView.NeutronError.type, 'SecurityGroupNotFound');
    });
  });
}
