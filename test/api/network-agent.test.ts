/**
 * The agent protocol without a host: the API writes desired state, the in-process agent plans
 * the host's data plane and hands it to a recording driver, and what the driver reports comes
 * back as port and floating IP status. The real Linux driver is proven in test/integration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import { waitFor } from '../support/wait.js';
import type { TestKumo } from '../support/kumo.js';
import type { HostNetworkState, NetDriver, SyncReport } from '../../src/drivers/net/types.js';

const N = '/network/v2.0';

class RecordingDriver implements NetDriver {
  last: HostNetworkState = { networks: [], ports: [], securityGroups: [], routers: [] };
  syncs = 0;
  readonly failing = new Set<string>();
  async sync(desired: HostNetworkState): Promise<SyncReport> {
    this.syncs++;
    this.last = desired;
    return {
      activePorts: desired.ports.map((p) => p.id).filter((id) => !this.failing.has(id)),
      failures: [...this.failing].map((resourceId) => ({ resourceId, message: 'injected failure' })),
      removed: [],
    };
  }
  async inventory() {
    return { bridges: [], links: [], namespaces: [], nftTables: [], dnsmasqPids: [], metadataProxyPids: [] };
  }
  async removeAll() {}
}

for (const dialect of DIALECTS) {
  describe(`network agent: desired state to the driver, observed status back (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    const driver = new RecordingDriver();
    before(async () => {
      k = await startTestKumo(dialect, { netDriver: driver });
      admin = await k.adminToken();
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const post = async (kind: string, body: Record<string, unknown>) => {
      const res = await k.request('POST', `${N}/${kind === 'floatingip' ? 'floatingips' : `${kind.replaceAll('_', '-')}s`}`, { token: admin, body: { [kind]: body } });
      assert.ok(res.statusCode < 300, res.body);
      return json(res.body)[kind];
    };
    const put = async (path: string, body: Record<string, unknown>) => {
      const res = await k.request('PUT', `${N}/${path}`, { token: admin, body });
      assert.ok(res.statusCode < 300, res.body);
      return json(res.body);
    };
    const show = async (kind: string, id: string) => json((await k.request('GET', `${N}/${kind}s/${id}`, { token: admin })).body)[kind];
    const settled = () => k.kumo.agent!.settled();

    test('a bound port is planned with its plug, DHCP lease and security groups, then reported ACTIVE', async () => {
      const net = await post('network', { name: 'agent-net' });
      const sub = await post('subnet', { network_id: net.id, cidr: '10.50.0.0/24', ip_version: 4, dns_nameservers: ['10.50.0.53'] });
      const port = await post('port', { network_id: net.id, name: 'endpoint' });
      await settled();
      assert.equal(driver.last.ports.length, 0, 'an unbound port is on no host');
      assert.equal((await show('port', port.id)).status, 'DOWN');

      await put(`ports/${port.id}`, { port: { 'binding:host_id': 'test-host', 'binding:profile': { kumo_netns: 'ep1' } } });
      await settled();
      const planned = driver.last.ports.find((p) => p.id === port.id)!;
      assert.deepEqual(planned.plug, { kind: 'veth', netns: 'ep1', ifname: 'eth0' });
      assert.equal(planned.macAddress, port.mac_address);
      const network = driver.last.networks.find((n) => n.id === net.id)!;
      assert.equal(network.type, 'vxlan');
      assert.equal(network.subnets[0].gatewayIp, '10.50.0.1');
      assert.deepEqual(network.subnets[0].dnsNameservers, ['10.50.0.53']);
      assert.ok(network.dhcpPort, 'the network node serves DHCP');
      assert.deepEqual(network.dhcpPort.hosts.map((h) => [h.macAddress, h.ipAddress]), [[port.mac_address, port.fixed_ips[0].ip_address]]);
      const group = driver.last.securityGroups.find((g) => g.id === planned.securityGroupIds[0])!;
      assert.ok(group.memberAddresses.includes(port.fixed_ips[0].ip_address), 'remote_group_id rules need the members');
      assert.ok(group.rules.some((r) => r.direction === 'ingress' && r.remoteGroupId === group.id));

      // Status is written after the driver's sync: eventually, not necessarily by the pass settled() waited for.
      const shown = await waitFor('the port ACTIVE', async () => {
        const p = await show('port', port.id);
        return p.status === 'ACTIVE' && p;
      }, 10_000, 20);
      assert.equal(shown['binding:vif_type'], 'bridge');
      const dhcp = await waitFor('the DHCP port ACTIVE', async () => {
        const ports = json((await k.request('GET', `${N}/ports?device_owner=network:dhcp&network_id=${net.id}`, { token: admin })).body).ports;
        return ports.length === 1 && ports[0].status === 'ACTIVE' && ports;
      }, 10_000, 20);
      assert.equal(dhcp[0].fixed_ips[0].subnet_id, sub.id);

      // A failure the driver reports makes the port DOWN with a failed binding; the next good sync heals it.
      driver.failing.add(port.id);
      k.kumo.agent!.resync();
      await settled();
      assert.equal((await show('port', port.id))['binding:vif_type'], 'binding_failed');
      driver.failing.delete(port.id);
      k.kumo.agent!.resync();
      await settled();
      assert.equal((await show('port', port.id)).status, 'ACTIVE');

      await put(`ports/${port.id}`, { port: { 'binding:host_id': '' } });
      await settled();
      assert.equal(driver.last.ports.length, 0);
      assert.equal((await show('port', port.id)).status, 'DOWN');
      assert.equal((await k.request('DELETE', `${N}/ports/${port.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('DELETE', `${N}/networks/${net.id}`, { token: admin })).statusCode, 204, 'the DHCP port goes with its network');
      await settled();
      assert.ok(!driver.last.networks.some((n) => n.id === net.id));
    });

    test('a subnet too full for a DHCP port does not stop the host: its port still goes ACTIVE', async () => {
      const net = await post('network', { name: 'tiny' });
      await post('subnet', { network_id: net.id, cidr: '10.90.0.0/30', ip_version: 4 });
      const port = await post('port', { network_id: net.id, 'binding:host_id': 'test-host' });
      await settled();
      assert.equal((await show('port', port.id)).status, 'ACTIVE');
      assert.equal(driver.last.networks.find((n) => n.id === net.id)!.dhcpPort, null);
    });

    test('a router is planned with its interfaces, gateway and floating IPs, which become ACTIVE', async () => {
      const ext = await post('network', { name: 'agent-public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' });
      await post('subnet', { network_id: ext.id, cidr: '192.0.2.0/24', ip_version: 4, enable_dhcp: false });
      const net = await post('network', { name: 'agent-inner' });
      const sub = await post('subnet', { network_id: net.id, cidr: '10.60.0.0/24', ip_version: 4 });
      const router = await post('router', { name: 'agent-r', external_gateway_info: { network_id: ext.id } });
      await put(`routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
      const vm = await post('port', { network_id: net.id, 'binding:host_id': 'test-host' });
      const fip = await post('floatingip', { floating_network_id: ext.id, port_id: vm.id });
      await settled();
      const planned = driver.last.routers.find((r) => r.id === router.id)!;
      assert.deepEqual(planned.interfaces.map((i) => i.addresses), [['10.60.0.1/24']]);
      assert.equal(planned.gateway!.defaultGateway, '192.0.2.1');
      assert.equal(planned.gateway!.enableSnat, true);
      assert.match(planned.gateway!.addresses[0], /^192\.0\.2\.\d+\/24$/);
      assert.deepEqual(planned.floatingIps, [{ id: fip.id, floatingIp: fip.floating_ip_address, fixedIp: vm.fixed_ips[0].ip_address }]);
      const extPlanned = driver.last.networks.find((n) => n.id === ext.id)!;
      assert.equal(extPlanned.physicalNetwork, 'public');
      assert.equal(extPlanned.dhcpPort, null, 'no DHCP on a subnet without it');
      assert.equal((await show('floatingip', fip.id)).status, 'ACTIVE');
      const routerPorts = json((await k.request('GET', `${N}/ports?device_id=${router.id}`, { token: admin })).body).ports;
      assert.ok(routerPorts.length === 2 && routerPorts.every((p: { status: string }) => p.status === 'ACTIVE'));

      await put(`floatingips/${fip.id}`, { floatingip: { port_id: null } });
      await settled();
      assert.deepEqual(driver.last.routers.find((r) => r.id === router.id)!.floatingIps, []);
      assert.equal((await show('floatingip', fip.id)).status, 'DOWN');
    });
  });
}
