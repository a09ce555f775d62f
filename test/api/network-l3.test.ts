import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const N = '/network/v2.0';

for (const dialect of DIALECTS) {
  describe(`network API: routers, floating IPs and quotas (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: string;
    let projectId: string;
    let publicNet: Record<string, any>;
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
      ({ token: member, projectId } = await k.member('tenant-l3', 'bob'));
      publicNet = json((await post(admin, 'network', { name: 'public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' })).body).network;
      assert.equal((await post(admin, 'subnet', { network_id: publicNet.id, cidr: '203.0.113.0/24', ip_version: 4, enable_dhcp: false })).statusCode, 201);
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const post = (token: string, kind: string, body: Record<string, unknown>) =>
      k.request('POST', `${N}/${kind === 'floatingip' ? 'floatingips' : `${kind.replaceAll('_', '-')}s`}`, { token, body: { [kind]: body } });
    const put = (token: string, path: string, body: Record<string, unknown>) => k.request('PUT', `${N}/${path}`, { token, body });
    const tenantSubnet = async (name: string, cidr: string) => {
      const net = json((await post(member, 'network', { name })).body).network;
      const sub = json((await post(member, 'subnet', { network_id: net.id, cidr, ip_version: 4 })).body).subnet;
      return { net, sub };
    };
    const errorOf = (res: { body: string }) => json(res.body).NeutronError as { type: string; message: string };

    test('router lifecycle: gateway, interfaces by subnet and by port, and what blocks deletion', async () => {
      const { net, sub } = await tenantSubnet('r-net', '10.10.0.0/24');
      const created = await post(member, 'router', { name: 'r1', admin_state_up: true });
      assert.equal(created.statusCode, 201, created.body);
      const router = json(created.body).router;
      assert.equal(router.external_gateway_info, null);
      assert.equal(router.status, 'ACTIVE');
      assert.deepEqual(router.routes, []);

      const gw = await put(member, `routers/${router.id}`, { router: { external_gateway_info: { network_id: publicNet.id } } });
      assert.equal(gw.statusCode, 200, gw.body);
      const info = json(gw.body).router.external_gateway_info;
      assert.equal(info.network_id, publicNet.id);
      assert.equal(info.enable_snat, true);
      assert.match(info.external_fixed_ips[0].ip_address, /^203\.0\.113\.\d+$/);
      assert.equal((await put(member, `routers/${router.id}`, { router: { external_gateway_info: { network_id: publicNet.id, enable_snat: false } } })).statusCode, 403, 'enable_snat is for admins');
      assert.equal(errorOf(await put(member, `routers/${router.id}`, { router: { external_gateway_info: { network_id: net.id } } })).message, `Bad router request: Network ${net.id} is not an external network`);

      const added = await put(member, `routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
      assert.equal(added.statusCode, 200, added.body);
      const iface = json(added.body);
      assert.deepEqual(Object.keys(iface).sort(), ['id', 'network_id', 'port_id', 'project_id', 'subnet_id', 'subnet_ids', 'tenant_id']);
      assert.equal(iface.subnet_id, sub.id);
      const ports = json((await k.request('GET', `${N}/ports?device_id=${router.id}`, { token: member })).body).ports;
      assert.equal(ports.length, 1, 'the gateway port belongs to no project');
      assert.equal(ports[0].device_owner, 'network:router_interface');
      assert.deepEqual(ports[0].fixed_ips, [{ subnet_id: sub.id, ip_address: '10.10.0.1' }]);

      const again = await put(member, `routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
      assert.equal(again.statusCode, 400);
      assert.match(errorOf(again).message, /already has a port on subnet/);
      assert.match(errorOf(await put(member, `routers/${router.id}/add_router_interface`, {})).message, /Either subnet_id or port_id must be specified/);
      assert.equal(errorOf(await k.request('DELETE', `${N}/routers/${router.id}`, { token: member })).type, 'RouterInUse');
      assert.equal((await k.request('DELETE', `${N}/subnets/${sub.id}`, { token: member })).statusCode, 409);
      assert.equal(errorOf(await k.request('DELETE', `${N}/ports/${iface.port_id}`, { token: member })).type, 'ServicePortInUse');

      // An interface by port: a second subnet, overlapping ones refused.
      const other = await tenantSubnet('r-net2', '10.11.0.0/24');
      const overlap = await tenantSubnet('r-net3', '10.10.0.0/25');
      assert.match(errorOf(await put(member, `routers/${router.id}/add_router_interface`, { subnet_id: overlap.sub.id })).message, /overlaps with cidr 10\.10\.0\.0\/24/);
      const port = json((await post(member, 'port', { network_id: other.net.id, fixed_ips: [{ subnet_id: other.sub.id, ip_address: '10.11.0.254' }] })).body).port;
      const byPort = json((await put(member, `routers/${router.id}/add_router_interface`, { port_id: port.id })).body);
      assert.equal(byPort.port_id, port.id);
      assert.equal(json((await k.request('GET', `${N}/ports/${port.id}`, { token: member })).body).port.device_owner, 'network:router_interface');
      assert.equal((await put(member, `routers/${router.id}/remove_router_interface`, { port_id: port.id })).statusCode, 200);
      assert.equal((await k.request('GET', `${N}/ports/${port.id}`, { token: member })).statusCode, 404, 'Neutron deletes the port with the interface');

      const removed = await put(member, `routers/${router.id}/remove_router_interface`, { subnet_id: sub.id });
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal(errorOf(await put(member, `routers/${router.id}/remove_router_interface`, { subnet_id: sub.id })).type, 'RouterInterfaceNotFoundForSubnet');
      assert.equal((await k.request('DELETE', `${N}/routers/${router.id}`, { token: member })).statusCode, 204);
      const leftovers = json((await k.request('GET', `${N}/ports?device_id=${router.id}`, { token: admin })).body).ports;
      assert.deepEqual(leftovers, [], 'the gateway port goes with the router');
    });

    test('floating IPs: create on an external network, associate through a router, disassociate, delete', async () => {
      const { net, sub } = await tenantSubnet('f-net', '10.20.0.0/24');
      const notExternal = await post(member, 'floatingip', { floating_network_id: net.id });
      assert.equal(notExternal.statusCode, 400);
      assert.match(errorOf(notExternal).message, /is not a valid external network/);

      const fipRes = await post(member, 'floatingip', { floating_network_id: publicNet.id });
      assert.equal(fipRes.statusCode, 201, fipRes.body);
      const fip = json(fipRes.body).floatingip;
      assert.match(fip.floating_ip_address, /^203\.0\.113\.\d+$/);
      assert.equal(fip.status, 'DOWN');
      assert.equal(fip.port_id, null);
      assert.deepEqual(fip.port_forwardings, []);

      const vm = json((await post(member, 'port', { network_id: net.id, device_owner: 'compute:nova' })).body).port;
      const unreachable = await put(member, `floatingips/${fip.id}`, { floatingip: { port_id: vm.id } });
      assert.equal(unreachable.statusCode, 404);
      assert.equal(errorOf(unreachable).type, 'ExternalGatewayForFloatingIPNotFound');

      const router = json((await post(member, 'router', { name: 'f-r', external_gateway_info: { network_id: publicNet.id } })).body).router;
      await put(member, `routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
      const assoc = await put(member, `floatingips/${fip.id}`, { floatingip: { port_id: vm.id } });
      assert.equal(assoc.statusCode, 200, assoc.body);
      const bound = json(assoc.body).floatingip;
      assert.equal(bound.router_id, router.id);
      assert.equal(bound.fixed_ip_address, vm.fixed_ips[0].ip_address);
      const dup = json((await post(member, 'floatingip', { floating_network_id: publicNet.id })).body).floatingip;
      const taken = await put(member, `floatingips/${dup.id}`, { floatingip: { port_id: vm.id } });
      assert.equal(taken.statusCode, 409);
      assert.equal(errorOf(taken).type, 'FloatingIPPortAlreadyAssociated');
      assert.equal(errorOf(await put(member, `routers/${router.id}/remove_router_interface`, { subnet_id: sub.id })).type, 'RouterInterfaceInUseByFloatingIP');
      assert.equal(errorOf(await put(member, `routers/${router.id}`, { router: { external_gateway_info: {} } })).type, 'RouterExternalGatewayInUseByFloatingIp');
      assert.equal(json((await k.request('GET', `${N}/floatingips?port_id=${vm.id}`, { token: member })).body).floatingips.length, 1);

      // Deleting the port disassociates; deleting the floating IP releases its address.
      assert.equal((await k.request('DELETE', `${N}/ports/${vm.id}`, { token: member })).statusCode, 204);
      const after = json((await k.request('GET', `${N}/floatingips/${fip.id}`, { token: member })).body).floatingip;
      assert.equal(after.port_id, null);
      assert.equal(after.router_id, null);
      for (const f of [fip, dup]) assert.equal((await k.request('DELETE', `${N}/floatingips/${f.id}`, { token: member })).statusCode, 204);
      const holders = json((await k.request('GET', `${N}/ports?network_id=${publicNet.id}&device_owner=network:floatingip`, { token: admin })).body).ports;
      assert.deepEqual(holders, []);
      assert.equal((await put(member, `routers/${router.id}/remove_router_interface`, { subnet_id: sub.id })).statusCode, 200);
      assert.equal((await k.request('DELETE', `${N}/routers/${router.id}`, { token: member })).statusCode, 204);
    });

    test('quotas: defaults, admin-only changes, 409 OverQuota that changes nothing, details and reset', async () => {
      const own = await k.request('GET', `${N}/quotas/${projectId}`, { token: member });
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(json(own.body).quota.router, 10);
      assert.equal((await put(member, `quotas/${projectId}`, { quota: { network: 50 } })).statusCode, 403);
      assert.equal((await put(admin, `quotas/${projectId}`, { quota: { network: 'many' } })).statusCode, 400);
      assert.equal((await put(admin, `quotas/${projectId}`, { quota: { colour: 1 } })).statusCode, 400);

      const details = json((await k.request('GET', `${N}/quotas/${projectId}/details.json`, { token: member })).body).quota;
      const used = details.network.used as number;
      assert.ok(used >= 3);
      const set = await put(admin, `quotas/${projectId}`, { quota: { network: used, router: 0 } });
      assert.equal(json(set.body).quota.network, used);
      const before = (await k.request('GET', `${N}/networks`, { token: admin })).body;
      const over = await post(member, 'network', { name: 'one-too-many' });
      assert.equal(over.statusCode, 409);
      assert.deepEqual(json(over.body), { NeutronError: { type: 'OverQuota', message: "Quota exceeded for resources: ['network'].", detail: '' } });
      assert.equal(errorOf(await post(member, 'router', { name: 'no' })).type, 'OverQuota');
      assert.equal((await k.request('GET', `${N}/networks`, { token: admin })).body, before);
      const listed = json((await k.request('GET', `${N}/quotas`, { token: admin })).body).quotas;
      assert.ok(listed.some((q: { project_id: string; router: number }) => q.project_id === projectId && q.router === 0));
      assert.equal((await k.request('GET', `${N}/quotas`, { token: member })).statusCode, 403);
      assert.equal((await k.request('DELETE', `${N}/quotas/${projectId}`, { token: admin })).statusCode, 204);
      assert.equal(json((await k.request('GET', `${N}/quotas/${projectId}`, { token: member })).body).quota.network, 100);
      assert.equal(json((await k.request('GET', `${N}/quotas/${projectId}/default`, { token: member })).body).quota.port, 500);
    });

    test("an admin's lookup of `default` by name finds its own project's group, as the CLI needs", async () => {
      await k.request('GET', `${N}/security-groups`, { token: member });
      const all = json((await k.request('GET', `${N}/security-groups`, { token: admin })).body).security_groups.filter((g: { name: string }) => g.name === 'default');
      assert.ok(all.length >= 2, 'the admin sees every project\'s default group');
      const lookup = json((await k.request('GET', `${N}/security-groups?name=default`, { token: admin })).body).security_groups;
      assert.equal(lookup.length, 1);
      assert.notEqual(lookup[0].project_id, projectId);
      const theirs = json((await k.request('GET', `${N}/security-groups?name=default&project_id=${projectId}`, { token: admin })).body).security_groups;
      assert.deepEqual(theirs.map((g: { project_id: string }) => g.project_id), [projectId]);
    });

    test('bulk create is all or none; fixed_ips filters; MACs by the network owner; external subnets stay private', async () => {
      const bulk = await k.request('POST', `${N}/networks`, { token: member, body: { networks: [{ name: 'bulk-1' }, { name: 'bulk-2' }] } });
      assert.equal(bulk.statusCode, 201, bulk.body);
      const nets = json(bulk.body).networks as { id: string; name: string }[];
      assert.deepEqual(nets.map((n) => n.name), ['bulk-1', 'bulk-2']);
      const before = (await k.request('GET', `${N}/subnets`, { token: admin })).body;
      const half = await k.request('POST', `${N}/subnets`, { token: member, body: { subnets: [{ network_id: nets[0].id, cidr: '10.70.0.0/24' }, { network_id: nets[1].id, cidr: 'nonsense' }] } });
      assert.equal(half.statusCode, 400);
      assert.equal((await k.request('GET', `${N}/subnets`, { token: admin })).body, before, 'the first subnet of a failed bulk create is gone again');
      const sub = json((await post(member, 'subnet', { network_id: nets[0].id, cidr: '10.70.0.0/24' })).body).subnet;
      const ports = json((await k.request('POST', `${N}/ports`, { token: member, body: { ports: [{ network_id: nets[0].id, mac_address: 'fa:16:3e:00:00:01' }, { network_id: nets[0].id }] } })).body).ports;
      assert.equal(ports[0].mac_address, 'fa:16:3e:00:00:01', "the network's owner may choose a MAC");
      const ip = ports[1].fixed_ips[0].ip_address;
      const found = json((await k.request('GET', `${N}/ports?fixed_ips=ip_address%3D${ip}`, { token: member })).body).ports;
      assert.deepEqual(found.map((p: { id: string }) => p.id), [ports[1].id]);
      assert.equal(json((await k.request('GET', `${N}/ports?fixed_ips=subnet_id%3D${sub.id}`, { token: member })).body).ports.length, 2);
      assert.equal((await k.request('GET', `${N}/ports?fixed_ips=colour%3Dred`, { token: member })).statusCode, 400);
      assert.deepEqual(json((await k.request('GET', `${N}/subnets?network_id=${publicNet.id}`, { token: member })).body).subnets, []);
      assert.ok(json((await k.request('GET', `${N}/networks/${publicNet.id}`, { token: member })).body).network.subnets.length === 1, 'the external network itself is visible');
      for (const p of ports) await k.request('DELETE', `${N}/ports/${p.id}`, { token: member });
      for (const n of nets) assert.equal((await k.request('DELETE', `${N}/networks/${n.id}`, { token: member })).statusCode, 204);
    });

    test("security group rule ranges get Neutron's messages; an external network goes with its idle floating IPs", async () => {
      const sg = json((await post(member, 'security_group', { name: 'ranges' })).body).security_group;
      const cases: [string, number | null, number | null, string][] = [
        ['tcp', -16, 80, 'Invalid value for port -16'], ['tcp', 80, 79, 'port_range_min must be <= port_range_max'], ['tcp', 80, 65536, 'Invalid value for port 65536'],
        ['tcp', null, 6, 'port_range_min must be <= port_range_max'], ['icmp', 1, 256, 'Invalid value for ICMP code'], ['icmp', null, 6, 'ICMP type (port-range-min) is missing'],
        ['icmp', 300, 1, 'Invalid value for ICMP type'], [null as unknown as string, 22, 22, 'Must also specify protocol'],
      ];
      for (const [protocol, min, max, message] of cases) {
        const res = await post(member, 'security_group_rule', { security_group_id: sg.id, direction: 'ingress', protocol, port_range_min: min, port_range_max: max });
        assert.equal(res.statusCode, 400, `${protocol} ${min}:${max}`);
        assert.ok(errorOf(res).message.includes(message), `${errorOf(res).message} should say ${message}`);
      }
      const ext = json((await post(admin, 'network', { name: 'short-lived', 'router:external': true })).body).network;
      await post(admin, 'subnet', { network_id: ext.id, cidr: '198.18.0.0/24' });
      const fip = json((await post(member, 'floatingip', { floating_network_id: ext.id })).body).floatingip;
      assert.equal((await k.request('DELETE', `${N}/networks/${ext.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('GET', `${N}/floatingips/${fip.id}`, { token: member })).statusCode, 404);
    });

    test('quota on ports holds under concurrent creates', async () => {
      const { net } = await tenantSubnet('q-net', '10.30.0.0/24');
      const used = json((await k.request('GET', `${N}/quotas/${projectId}/details`, { token: member })).body).quota.port.used as number;
      await put(admin, `quotas/${projectId}`, { quota: { port: used + 3 } });
      const results = await Promise.all(Array.from({ length: 8 }, () => post(member, 'port', { network_id: net.id })));
      const codes = results.map((r) => r.statusCode).sort();
      assert.deepEqual(codes, [201, 201, 201, 409, 409, 409, 409, 409]);
      await k.request('DELETE', `${N}/quotas/${projectId}`, { token: admin });
    });
  });
}
