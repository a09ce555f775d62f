import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeHypervisor } from '../support/fake-hypervisor.js';
import type { FakeHypervisor } from '../support/fake-hypervisor.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { PlugEverything } from '../support/plug-everything.js';

const C = '/compute/v2.1';
const N = '/network/v2.0';

/**
 * The compute service through its controller with a recording hypervisor and net driver: the
 * state machine Nova clients see (BUILD → ACTIVE, actions, faults, delete), scheduling through
 * placement, quotas, isolation. The real QEMU path is the e2e test's.
 */
for (const dialect of DIALECTS) {
  describe(`compute API with the agent (${dialect})`, () => {
    let k: TestKumo;
    let hv: FakeHypervisor;
    let admin: string;
    let member: { token: string; projectId: string };
    let other: { token: string; projectId: string };
    let imageId: string;
    let netId: string;
    before(async () => {
      hv = fakeHypervisor();
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), hypervisor: hv });
      admin = await k.adminToken();
      member = await k.member('servers-a', 'erin');
      other = await k.member('servers-b', 'frank');
      const img = await k.request('POST', '/image/v2/images', { token: admin, body: { name: 'cirros', disk_format: 'qcow2', container_format: 'bare', visibility: 'public' } });
      imageId = JSON.parse(img.body).id;
      const put = await k.kumo.app.inject({ method: 'PUT', url: `/image/v2/images/${imageId}/file`, headers: { 'x-auth-token': admin, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(4096, 7) });
      assert.equal(put.statusCode, 204, put.body);
      const net = await k.request('POST', `${N}/networks`, { token: member.token, body: { network: { name: 'net1' } } });
      netId = JSON.parse(net.body).network.id;
      await k.request('POST', `${N}/subnets`, { token: member.token, body: { subnet: { network_id: netId, cidr: '10.9.0.0/24', ip_version: 4 } } });
      await k.kumo.agent!.settled();
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const v = (minor: number) => ({ 'openstack-api-version': `compute 2.${minor}` });
    const show = async (id: string, token = member.token) => json((await k.request('GET', `${C}/servers/${id}`, { token, headers: v(92) })).body).server;
    async function until(id: string, ok: (s: Record<string, any>) => boolean): Promise<Record<string, any>> {
      for (let i = 0; i < 200; i++) {
        await k.kumo.agent!.settled();
        const s = await show(id);
        if (ok(s)) return s;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`server ${id} never reached the state: ${JSON.stringify(await show(id))}`);
    }
    const action = (id: string, body: unknown, token = member.token) => k.request('POST', `${C}/servers/${id}/action`, { token, body });

    test('create → ACTIVE with a port, the fields OSC reads, and placement allocations', async () => {
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'vm1', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], metadata: { role: 'web' }, user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') } } });
      assert.equal(res.statusCode, 202, res.body);
      const created = json(res.body).server;
      assert.ok(created.adminPass);
      assert.deepEqual(created.security_groups, [{ name: 'default' }]);
      const s = await until(created.id, (x) => x.status === 'ACTIVE');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.equal(s['OS-EXT-STS:task_state'], null);
      assert.deepEqual(s.metadata, { role: 'web' });
      assert.equal(s.flavor.original_name, 'm1.nano');
      assert.equal(s.image.id, imageId);
      assert.equal(s.addresses.net1[0]['OS-EXT-IPS:type'], 'fixed');
      assert.match(s.addresses.net1[0].addr, /^10\.9\.0\./);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'host attributes are for admins');
      assert.equal((await show(created.id, admin))['OS-EXT-SRV-ATTR:host'], 'test-host');
      const legacy = json((await k.request('GET', `${C}/servers/${created.id}`, { token: member.token })).body).server;
      assert.deepEqual(legacy.flavor.id, '42');
      assert.ok(hv.calls.some((c) => c.startsWith(`spawn ${created.id} vcpus=1 mem=128 nics=tap`)));
      const ports = json((await k.request('GET', `${N}/ports?device_id=${created.id}`, { token: member.token })).body).ports;
      assert.equal(ports.length, 1);
      assert.equal(ports[0].device_owner, 'compute:nova');
      const providers = json((await k.request('GET', '/placement/resource_providers', { token: admin })).body).resource_providers;
      assert.equal(providers.length, 1);
      const usages = json((await k.request('GET', `/placement/resource_providers/${providers[0].uuid}/usages`, { token: admin })).body).usages;
      assert.equal(usages.VCPU, 1);
      assert.equal(usages.MEMORY_MB, 128);
      // os-hypervisors reports the disk the host registered in placement and what servers take of it.
      const inventories = json((await k.request('GET', `/placement/resource_providers/${providers[0].uuid}/inventories`, { token: admin })).body).inventories;
      const [hyp] = json((await k.request('GET', `${C}/os-hypervisors/detail`, { token: admin, headers: v(87) })).body).hypervisors;
      assert.ok(inventories.DISK_GB.total > 0);
      assert.equal(hyp.local_gb, inventories.DISK_GB.total - inventories.DISK_GB.reserved);
      assert.equal(hyp.local_gb_used, 1);
      assert.equal(hyp.free_disk_gb, hyp.local_gb - 1);
      assert.equal(hyp.disk_available_least, hyp.local_gb - (usages.DISK_GB ?? 0));
      assert.equal(hyp.host_ip, k.config.agent.vxlanLocalIp);
      assert.equal(hyp.running_vms, 1);
      const events = json((await k.request('GET', `${C}/servers/${created.id}/os-instance-actions`, { token: member.token })).body).instanceActions;
      assert.equal(events[0].action, 'create');
      const out = await action(created.id, { 'os-getConsoleOutput': { length: 1 } });
      assert.equal(out.statusCode, 200, out.body);
      assert.equal(json(out.body).output, 'KUMO-GUEST-UP');
    });

    test('stop, start, pause, unpause, suspend, resume, reboot, lock; refused actions change nothing', async () => {
      const { server } = json((await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'vm2', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } })).body);
      const id = server.id;
      await until(id, (x) => x.status === 'ACTIVE');
      const start = await action(id, { 'os-start': null });
      assert.equal(start.statusCode, 409);
      assert.match(json(start.body).conflictingRequest.message, /Cannot 'start' instance .* while it is in vm_state active/);
      assert.equal((await action(id, { 'os-stop': null })).statusCode, 202);
      await until(id, (x) => x.status === 'SHUTOFF' && x['OS-EXT-STS:power_state'] === 4);
      assert.equal((await action(id, { 'os-start': null })).statusCode, 202);
      await until(id, (x) => x.status === 'ACTIVE');
      assert.equal((await action(id, { pause: null })).statusCode, 202);
      await until(id, (x) => x.status === 'PAUSED');
      assert.equal((await action(id, { unpause: null })).statusCode, 202);
      await until(id, (x) => x.status === 'ACTIVE');
      assert.equal((await action(id, { suspend: null })).statusCode, 202);
      await until(id, (x) => x.status === 'SUSPENDED');
      assert.equal((await action(id, { resume: null })).statusCode, 202);
      await until(id, (x) => x.status === 'ACTIVE');
      assert.equal((await action(id, { reboot: { type: 'SIDEWAYS' } })).statusCode, 400);
      assert.equal((await action(id, { reboot: { type: 'HARD' } })).statusCode, 202);
      await until(id, (x) => x.status === 'ACTIVE');
      assert.ok(hv.calls.includes(`reboot ${id} hard`));
      assert.equal((await action(id, { lock: null })).statusCode, 202);
      const locked = await action(id, { 'os-stop': null });
      assert.equal(locked.statusCode, 409);
      assert.match(json(locked.body).conflictingRequest.message, /is locked/);
      assert.equal((await show(id)).locked, true);
      assert.equal((await action(id, { unlock: null })).statusCode, 202);
      assert.equal((await action(id, { bogus: null })).statusCode, 400);
      // The guest powering itself off shows as SHUTOFF.
      await hv.powerOff(id, { timeoutMs: 0 });
      k.kumo.agent!.resync();
      await until(id, (x) => x.status === 'SHUTOFF');
    });

    test('a failed spawn is ERROR with the fault; delete removes VM, port and allocation', async () => {
      hv.failNextSpawn('qemu-system-x86_64: -netdev tap: could not open tap');
      const { server } = json((await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'bad', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } })).body);
      const s = await until(server.id, (x) => x.status === 'ERROR');
      assert.equal(s.fault.code, 500);
      assert.match(s.fault.message, /could not open tap/);
      assert.equal((await k.request('DELETE', `${C}/servers/${server.id}`, { token: member.token })).statusCode, 204);
      for (let i = 0; i < 200 && (await k.request('GET', `${C}/servers/${server.id}`, { token: member.token })).statusCode !== 404; i++) await k.kumo.agent!.settled();
      assert.equal((await k.request('GET', `${C}/servers/${server.id}`, { token: member.token })).statusCode, 404);
      assert.deepEqual(json((await k.request('GET', `${N}/ports?device_id=${server.id}`, { token: member.token })).body).ports, []);
      assert.ok(hv.calls.includes(`destroy ${server.id}`));
      assert.ok(![...hv.vms.keys()].includes(server.id));
    });

    test('no valid host when the flavor cannot fit; quota exceeded is 403; isolation between projects', async () => {
      await k.request('POST', `${C}/flavors`, { token: admin, body: { flavor: { name: 'huge', id: 'huge', ram: 20_000, vcpus: 1, disk: 1 } } });
      const bigRes = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'big', imageRef: imageId, flavorRef: 'huge', networks: [{ uuid: netId }] } } });
      assert.equal(bigRes.statusCode, 202, bigRes.body);
      const { server } = json(bigRes.body);
      const s = await show(server.id);
      assert.equal(s.status, 'ERROR');
      assert.equal(s.fault.message, 'No valid host was found. ');
      await k.request('DELETE', `${C}/servers/${server.id}`, { token: member.token });
      assert.equal((await k.request('GET', `${C}/servers/${server.id}`, { token: member.token })).statusCode, 404, 'a server without a host goes at once');

      await k.request('PUT', `${C}/os-quota-sets/${other.projectId}`, { token: admin, body: { quota_set: { instances: 0 } } });
      const otherNet = json((await k.request('POST', `${N}/networks`, { token: other.token, body: { network: { name: 'onet' } } })).body).network.id;
      await k.request('POST', `${N}/subnets`, { token: other.token, body: { subnet: { network_id: otherNet, cidr: '10.8.0.0/24', ip_version: 4 } } });
      const over = await k.request('POST', `${C}/servers`, { token: other.token, body: { server: { name: 'x', imageRef: imageId, flavorRef: '42', networks: [{ uuid: otherNet }] } } });
      assert.equal(over.statusCode, 403);
      assert.match(json(over.body).forbidden.message, /Quota exceeded for instances: Requested 1, but already used 0 of 0 instances/);
      assert.deepEqual(json((await k.request('GET', `${N}/ports`, { token: other.token })).body).ports.filter((p: { device_owner: string }) => p.device_owner === 'compute:nova'), [], 'nothing made');

      const mine = json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers;
      assert.ok(mine.length >= 2);
      assert.deepEqual(json((await k.request('GET', `${C}/servers`, { token: other.token })).body).servers, []);
      assert.equal((await k.request('GET', `${C}/servers/${mine[0].id}`, { token: other.token })).statusCode, 404);
      assert.equal((await k.request('GET', `${C}/servers?all_tenants=1`, { token: other.token })).statusCode, 403);
      const all = json((await k.request('GET', `${C}/servers?all_tenants=1`, { token: admin })).body).servers;
      assert.ok(all.length >= mine.length);
      const byName = json((await k.request('GET', `${C}/servers?name=^vm1$`, { token: member.token })).body).servers;
      assert.equal(byName.length, 1);
    });

    test('resize to a bigger flavor, confirm; rebuild with another image', async () => {
      const { server } = json((await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'grow', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } })).body);
      await until(server.id, (x) => x.status === 'ACTIVE');
      assert.equal((await action(server.id, { resize: { flavorRef: '42' } })).statusCode, 400, 'same flavor');
      assert.equal((await action(server.id, { resize: { flavorRef: '84' } })).statusCode, 202);
      await until(server.id, (x) => x.status === 'VERIFY_RESIZE');
      assert.ok(hv.calls.some((c) => c.startsWith(`spawn ${server.id} vcpus=1 mem=192`)));
      assert.equal((await action(server.id, { confirmResize: null })).statusCode, 204, "Nova's confirm answer");
      const s = await until(server.id, (x) => x.status === 'ACTIVE');
      assert.equal(s.flavor.original_name, 'm1.micro');
      // A second resize, reverted: the old flavor comes back.
      assert.equal((await action(server.id, { resize: { flavorRef: '42' } })).statusCode, 202);
      await until(server.id, (x) => x.status === 'VERIFY_RESIZE');
      assert.equal((await action(server.id, { revertResize: null })).statusCode, 202);
      const reverted = await until(server.id, (x) => x.status === 'ACTIVE');
      assert.equal(reverted.flavor.original_name, 'm1.micro');
      assert.equal((await action(server.id, { rebuild: { imageRef: 'missing' } })).statusCode, 400);
      const rebuilt = await action(server.id, { rebuild: { imageRef: imageId, name: 'rebuilt', adminPass: 'n3w-pass' } });
      assert.equal(rebuilt.statusCode, 202);
      const answer = json(rebuilt.body).server;
      assert.deepEqual([answer.id, answer.name, answer.status, answer.adminPass, answer.image.id], [server.id, 'rebuilt', 'REBUILD', 'n3w-pass', imageId]);
      assert.equal(answer['OS-EXT-STS:task_state'], undefined, 'before 2.75 the rebuild answer has no extension attributes');
      const r = await until(server.id, (x) => x.status === 'ACTIVE' && x.name === 'rebuilt');
      assert.equal(r.image.id, imageId);
      assert.match(json((await action(server.id, { rebuild: { imageRef: imageId } })).body).server.adminPass, /^.{12}$/, 'a new password when none is asked for');
      await until(server.id, (x) => x.status === 'ACTIVE');
      const at = async (minor: number, rebuild: Record<string, unknown> = {}) => {
        const res = await k.request('POST', `${C}/servers/${server.id}/action`, { token: member.token, headers: v(minor), body: { rebuild: { imageRef: imageId, ...rebuild } } });
        assert.equal(res.statusCode, 202, res.body);
        await until(server.id, (x) => x.status === 'ACTIVE');
        return json(res.body).server;
      };
      const restore = await action(server.id, { restore: null });
      assert.equal(restore.statusCode, 409, 'soft delete is off: nothing to restore');
      assert.match(json(restore.body).conflictingRequest.message, /Cannot 'restore' instance .* while it is in vm_state active/);
      assert.equal((await action('00000000-0000-4000-8000-000000000000', { restore: null })).statusCode, 404);
      const at53 = await at(53);
      assert.ok(!('key_name' in at53) && !('user_data' in at53));
      assert.ok('key_name' in (await at(54)) && !('user_data' in (await at(54))), 'key_name from 2.54');
      assert.equal((await at(57, { user_data: Buffer.from('hi').toString('base64') })).user_data, Buffer.from('hi').toString('base64'), 'user_data from 2.57');

      // A stopped server stays stopped through its rebuild, and starts on the new disk.
      assert.equal((await action(server.id, { 'os-stop': null })).statusCode, 202);
      await until(server.id, (x) => x.status === 'SHUTOFF' && x['OS-EXT-STS:task_state'] === null);
      const spawnsBefore = hv.calls.filter((c) => c.startsWith(`spawn ${server.id}`)).length;
      assert.equal((await action(server.id, { rebuild: { imageRef: imageId } })).statusCode, 202);
      const stopped = await until(server.id, (x) => x['OS-EXT-STS:task_state'] === null);
      assert.deepEqual([stopped.status, stopped['OS-EXT-STS:power_state']], ['SHUTOFF', 4]);
      assert.equal(hv.calls.filter((c) => c.startsWith(`spawn ${server.id}`)).length, spawnsBefore, 'not started by the rebuild');
      assert.equal((await action(server.id, { 'os-start': null })).statusCode, 202);
      await until(server.id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      await until(server.id, (x) => x.status === 'ACTIVE');
    });

    test('update answers: before 2.75 without extension attributes and address types, from 2.75 the full view; x-compute-request-id', async () => {
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'upd', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } });
      const id = json(res.body).server.id;
      assert.equal(res.headers['x-compute-request-id'], res.headers['x-openstack-request-id']);
      assert.match(String(res.headers['x-compute-request-id']), /^req-/);
      await until(id, (x) => x.status === 'ACTIVE');
      const put = async (name: string, minor: number) => json((await k.request('PUT', `${C}/servers/${id}`, { token: member.token, headers: v(minor), body: { server: { name } } })).body).server;
      const old = await put('upd-1', 1);
      assert.equal(old.name, 'upd-1');
      for (const key of ['OS-EXT-STS:vm_state', 'OS-EXT-AZ:availability_zone', 'OS-SRV-USG:launched_at', 'key_name', 'config_drive', 'security_groups', 'os-extended-volumes:volumes_attached']) {
        assert.ok(!(key in old), `no ${key} before 2.75`);
      }
      assert.deepEqual(Object.keys(old.addresses.net1[0]).sort(), ['addr', 'version']);
      assert.ok('accessIPv4' in old && 'hostId' in old && 'OS-DCF:diskConfig' in old);
      const full = await put('upd-2', 75);
      assert.equal(full['OS-EXT-STS:vm_state'], 'active');
      assert.deepEqual(full.security_groups, [{ name: 'default' }]);
      assert.equal(full.addresses.net1[0]['OS-EXT-IPS:type'], 'fixed');
      const missing = await k.request('GET', `${C}/servers/00000000-0000-4000-8000-000000000000`, { token: member.token });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.headers['x-compute-request-id'], missing.headers['x-openstack-request-id'], 'errors carry it too');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
    });

    test('config drive, snapshot to an image, interface attach and detach', async () => {
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'cd', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], config_drive: true, user_data: Buffer.from('hello').toString('base64') } } });
      const id = json(res.body).server.id;
      await until(id, (x) => x.status === 'ACTIVE');
      const drive = hv.calls.find((c) => c.startsWith(`createConfigDrive ${id}`));
      assert.ok(drive?.includes('openstack/latest/meta_data.json') && drive.includes('openstack/latest/user_data') && drive.includes('openstack/latest/network_data.json'), drive);
      assert.equal((await show(id)).config_drive, 'True');

      const snap = await action(id, { createImage: { name: 'cd-snap', metadata: { purpose: 'test' } } });
      assert.equal(snap.statusCode, 202, snap.body);
      assert.match(String(snap.headers.location), /\/image\/v2\/images\/[0-9a-f-]{36}$/);
      const snapId = String(snap.headers.location).split('/').at(-1)!;
      await until(id, (x) => x['OS-EXT-STS:task_state'] === null);
      const image = json((await k.request('GET', `/image/v2/images/${snapId}`, { token: member.token })).body);
      assert.equal(image.status, 'active');
      assert.equal(image.image_type, 'snapshot');
      assert.equal(image.instance_uuid, id);
      assert.equal(image.purpose, 'test');
      const data = await k.kumo.app.inject({ method: 'GET', url: `/image/v2/images/${snapId}/file`, headers: { 'x-auth-token': member.token } });
      assert.equal(data.body, `snapshot of ${id}`);
      const at45 = await k.request('POST', `${C}/servers/${id}/action`, { token: member.token, headers: v(45), body: { createImage: { name: 'cd-snap2' } } });
      assert.match(json(at45.body).image_id, /^[0-9a-f-]{36}$/);
      await until(id, (x) => x['OS-EXT-STS:task_state'] === null);

      const net2 = json((await k.request('POST', `${N}/networks`, { token: member.token, body: { network: { name: 'net2' } } })).body).network.id;
      await k.request('POST', `${N}/subnets`, { token: member.token, body: { subnet: { network_id: net2, cidr: '10.10.0.0/24', ip_version: 4 } } });
      const att = await k.request('POST', `${C}/servers/${id}/os-interface`, { token: member.token, body: { interfaceAttachment: { net_id: net2 } } });
      assert.equal(att.statusCode, 200, att.body);
      const portId = json(att.body).interfaceAttachment.port_id;
      for (let i = 0; i < 100 && !hv.calls.includes(`attachNic ${id} ${portId}`); i++) await k.kumo.agent!.settled();
      assert.ok(hv.calls.includes(`attachNic ${id} ${portId}`));
      const list = json((await k.request('GET', `${C}/servers/${id}/os-interface`, { token: member.token })).body).interfaceAttachments;
      assert.equal(list.length, 2);
      assert.ok(Object.keys((await show(id)).addresses).includes('net2'));
      assert.equal((await k.request('POST', `${C}/servers/${id}/os-interface`, { token: member.token, body: { interfaceAttachment: { net_id: 'nope' } } })).statusCode, 404);
      assert.equal((await k.request('DELETE', `${C}/servers/${id}/os-interface/${portId}`, { token: member.token })).statusCode, 202);
      for (let i = 0; i < 100 && (await k.request('GET', `${N}/ports/${portId}`, { token: member.token })).statusCode !== 404; i++) await k.kumo.agent!.settled();
      assert.ok(hv.calls.includes(`detachNic ${id} ${portId}`));
      assert.equal((await k.request('GET', `${N}/ports/${portId}`, { token: member.token })).statusCode, 404, 'the port Kumo made is released');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}/os-interface/${portId}`, { token: member.token })).statusCode, 404);
    });

    test('an image bigger than the flavor\'s disk, min/max count, anti-affinity on one host', async () => {
      // A qcow2 header that says 5 GiB: the image service reads the virtual size from it.
      const header = Buffer.alloc(512);
      header.writeUInt32BE(0x514649fb, 0);
      header.writeUInt32BE(3, 4);
      header.writeBigUInt64BE(5n * 1024n ** 3n, 24);
      const big = json((await k.request('POST', '/image/v2/images', { token: member.token, body: { name: 'big', disk_format: 'qcow2', container_format: 'bare' } })).body).id;
      await k.kumo.app.inject({ method: 'PUT', url: `/image/v2/images/${big}/file`, headers: { 'x-auth-token': member.token, 'content-type': 'application/octet-stream' }, payload: header });
      const tooBig = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'x', imageRef: big, flavorRef: '42', networks: [{ uuid: netId }] } } });
      assert.equal(tooBig.statusCode, 400);
      const noNet = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'x', imageRef: imageId, flavorRef: '42', networks: [{ uuid: 'no-such-net' }] } } });
      assert.equal(noNet.statusCode, 400);
      assert.match(json(noNet.body).badRequest.message, /Network no-such-net could not be found\./);
      assert.match(json(tooBig.body).badRequest.message, /Flavor's disk is too small for requested image\. Flavor disk is 1073741824 bytes, image is 5368709120 bytes\./);

      const before = json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers.length;
      const many = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'many', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], min_count: 2, max_count: 2 } } });
      assert.equal(many.statusCode, 202, many.body);
      const names = json((await k.request('GET', `${C}/servers?name=^many`, { token: member.token })).body).servers.map((x: { name: string }) => x.name).sort();
      assert.deepEqual(names, ['many-1', 'many-2']);
      assert.equal(json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers.length, before + 2);

      const group = json((await k.request('POST', `${C}/os-server-groups`, { token: member.token, body: { server_group: { name: 'apart', policies: ['anti-affinity'] } } })).body).server_group;
      const inGroup = async (name: string) => json((await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name, imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] }, 'os:scheduler_hints': { group: group.id } } })).body).server.id;
      const first = await inGroup('apart-1');
      await until(first, (x) => x.status === 'ACTIVE');
      const second = await inGroup('apart-2');
      const s2 = await show(second);
      assert.equal(s2.status, 'ERROR', 'one host cannot hold two members of an anti-affinity group');
      assert.equal(s2.fault.message, 'No valid host was found. ');
      assert.deepEqual(json((await k.request('GET', `${C}/os-server-groups/${group.id}`, { token: member.token })).body).server_group.members.sort(), [first, second].sort());
    });

    test('snapshots keep the minimum RAM and disk of the server\'s image; the caller\'s metadata overrides Nova\'s properties', async () => {
      const img = json((await k.request('POST', '/image/v2/images', { token: member.token, body: { name: 'needs-64', disk_format: 'qcow2', container_format: 'bare', min_ram: 64, min_disk: 1 } })).body);
      await k.kumo.app.inject({ method: 'PUT', url: `/image/v2/images/${img.id}/file`, headers: { 'x-auth-token': member.token, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(4096, 3) });
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'snapme', imageRef: img.id, flavorRef: '42', networks: [{ uuid: netId }] } } });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).server.id;
      await until(id, (x) => x.status === 'ACTIVE');
      const snap = await k.request('POST', `${C}/servers/${id}/action`, { token: member.token, headers: v(45), body: { createImage: { name: 'snap-64', metadata: { image_type: 'test' } } } });
      const snapId = json(snap.body).image_id;
      await until(id, (x) => x['OS-EXT-STS:task_state'] === null);
      const image = json((await k.request('GET', `/image/v2/images/${snapId}`, { token: member.token })).body);
      assert.deepEqual([image.min_ram, image.min_disk, image.image_type, image.instance_uuid], [64, 1, 'test', id]);
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
    });

    test('security groups: an unknown one on create is 400 and makes nothing; a server without any shows no security_groups', async () => {
      // Servers earlier tests deleted release their ports in the background: let that finish first.
      for (let i = 0; i < 200; i++) {
        await k.kumo.agent!.settled();
        const servers = json((await k.request('GET', `${C}/servers/detail`, { token: member.token })).body).servers;
        if (!servers.some((x: Record<string, unknown>) => x['OS-EXT-STS:task_state'] === 'deleting')) break;
      }
      const portIds = async () => json((await k.request('GET', `${N}/ports`, { token: member.token })).body).ports.map((p: { id: string }) => p.id).sort();
      const portsBefore = await portIds();
      const bad = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'sg-bad', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], security_groups: [{ name: 'does_not_exist' }] } } });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.equal(json(bad.body).badRequest.message, 'Security group does_not_exist not found.');
      const names = json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers.map((x: { name: string }) => x.name);
      assert.ok(!names.includes('sg-bad'));
      assert.deepEqual(await portIds(), portsBefore, 'no port made');
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'sg', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } });
      const id = json(res.body).server.id;
      await until(id, (x) => x.status === 'ACTIVE');
      assert.equal((await action(id, { removeSecurityGroup: { name: 'default' } })).statusCode, 202);
      assert.ok(!('security_groups' in (await show(id))), 'no key without groups');
      assert.equal((await action(id, { addSecurityGroup: { name: 'default' } })).statusCode, 202);
      assert.deepEqual((await show(id)).security_groups, [{ name: 'default' }]);
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
    });

    test('instance actions of a deleted server: 404 before 2.21, listed from 2.21 to its project only', async () => {
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'gone', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }] } } });
      const id = json(res.body).server.id;
      const createRequest = res.headers['x-openstack-request-id'];
      await until(id, (x) => x.status === 'ACTIVE');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
      for (let i = 0; i < 200 && (await k.request('GET', `${C}/servers/${id}`, { token: member.token })).statusCode !== 404; i++) await k.kumo.agent!.settled();
      const actions = (minor: number, token = member.token) => k.request('GET', `${C}/servers/${id}/os-instance-actions`, { token, headers: v(minor) });
      assert.equal((await actions(20)).statusCode, 404);
      const listed = await actions(21);
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(json(listed.body).instanceActions.map((a: { action: string }) => a.action).sort(), ['create', 'delete']);
      const one = await k.request('GET', `${C}/servers/${id}/os-instance-actions/${createRequest}`, { token: member.token, headers: v(21) });
      assert.equal(json(one.body).instanceAction.action, 'create');
      assert.equal((await actions(21, other.token)).statusCode, 404, "another project's deleted server stays unknown");
      assert.equal((await actions(21, admin)).statusCode, 200);
      assert.equal((await k.request('GET', `${C}/servers/00000000-0000-4000-8000-000000000000/os-instance-actions`, { token: member.token, headers: v(21) })).statusCode, 404);
    });

    test('access IPs: checked by family and shown in canonical form on create and update', async () => {
      const res = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: {
        name: 'vm-ip', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], accessIPv4: '1.1.1.1', accessIPv6: '0000:0000:0000:0000:0000:babe:220.12.22.2',
      } } });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).server.id;
      assert.deepEqual([(await show(id)).accessIPv4, (await show(id)).accessIPv6], ['1.1.1.1', '::babe:dc0c:1602']);
      const put = (server: Record<string, unknown>) => k.request('PUT', `${C}/servers/${id}`, { token: member.token, body: { server } });
      for (const [server, message] of [
        [{ accessIPv4: '1.1.1.1.1' }, /accessIPv4.*'1\.1\.1\.1\.1' is not a 'ipv4'/], [{ accessIPv6: '2001:db8::1' , accessIPv4: '::1' }, /is not a 'ipv4'/],
        [{ accessIPv6: '1.2.3.4' }, /'1\.2\.3\.4' is not a 'ipv6'/], [{ accessIPv4: 4 }, /It must be a string/],
      ] as const) {
        const r = await put(server);
        assert.equal(r.statusCode, 400, r.body);
        assert.match(json(r.body).badRequest.message, message);
      }
      assert.deepEqual([(await show(id)).accessIPv4, (await show(id)).accessIPv6], ['1.1.1.1', '::babe:dc0c:1602'], 'refused updates change nothing');
      const ok = await put({ accessIPv6: '2001:DB8:0:0::1', accessIPv4: '' });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual([json(ok.body).server.accessIPv4, json(ok.body).server.accessIPv6], ['', '2001:db8::1']);
      const bad = await k.request('POST', `${C}/servers`, { token: member.token, body: { server: { name: 'vm-bad-ip', imageRef: imageId, flavorRef: '42', networks: [{ uuid: netId }], accessIPv6: 'not-an-ip' } } });
      assert.equal(bad.statusCode, 400);
      assert.match(json(bad.body).badRequest.message, /'not-an-ip' is not a 'ipv6'/);
      const names = json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers.map((x: { name: string }) => x.name);
      assert.ok(!names.includes('vm-bad-ip'), 'a refused create makes nothing');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
    });

    test('os-services: a compute host whose agent records no heartbeat (no block storage here) shows updated_at null, as Nova for a service that never reported', async () => {
      const services = json((await k.request('GET', `${C}/os-services`, { token: admin })).body).services as { binary: string; state: string; updated_at: string | null }[];
      assert.deepEqual(services.map((s) => s.binary), ['nova-scheduler', 'nova-conductor', 'nova-compute']);
      const compute = services.find((s) => s.binary === 'nova-compute')!;
      assert.deepEqual([compute.state, compute.updated_at], ['up', null]);
      assert.equal((await k.request('GET', `${C}/os-services`, { token: member.token })).statusCode, 403);
    });
  });
}
