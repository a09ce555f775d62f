import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeBlockStorage } from '../support/fake-block-storage.js';
import type { FakeBlockStorage } from '../support/fake-block-storage.js';
import { fakeHypervisor } from '../support/fake-hypervisor.js';
import type { FakeHypervisor } from '../support/fake-hypervisor.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { PlugEverything } from '../support/plug-everything.js';

const C = '/compute/v2.1';
const N = '/network/v2.0';

/**
 * Servers with volumes, through the compute and volume controllers with a recording hypervisor
 * and block storage: boot from a volume and from an image into a new volume, os-volume_attachments
 * attach/detach (hot-plug), an online extend reaching the VM, what a delete leaves, and refusals
 * that change nothing. The real QEMU and volume files are the e2e test's.
 */
for (const dialect of DIALECTS) {
  describe(`compute with volumes (${dialect})`, () => {
    let k: TestKumo;
    let hv: FakeHypervisor;
    let bs: FakeBlockStorage;
    let member: { token: string; projectId: string };
    let other: { token: string; projectId: string };
    let admin: string;
    let imageId: string;
    let netId: string;
    const V = () => `/volume/v3/${member.projectId}`;
    before(async () => {
      hv = fakeHypervisor();
      bs = fakeBlockStorage();
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), hypervisor: hv, blockStorage: bs });
      admin = await k.adminToken();
      member = await k.member('vols-a', 'vera');
      other = await k.member('vols-b', 'otto');
      const img = await k.request('POST', '/image/v2/images', { token: admin, body: { name: 'cirros', disk_format: 'raw', container_format: 'bare', visibility: 'public' } });
      imageId = JSON.parse(img.body).id;
      const put = await k.kumo.app.inject({ method: 'PUT', url: `/image/v2/images/${imageId}/file`, headers: { 'x-auth-token': admin, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(4096, 7) });
      assert.equal(put.statusCode, 204, put.body);
      const net = await k.request('POST', `${N}/networks`, { token: member.token, body: { network: { name: 'net1' } } });
      netId = JSON.parse(net.body).network.id;
      await k.request('POST', `${N}/subnets`, { token: member.token, body: { subnet: { network_id: netId, cidr: '10.19.0.0/24', ip_version: 4 } } });
      await k.kumo.agent!.settled();
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const v = (minor: number) => ({ 'openstack-api-version': `compute 2.${minor}` });
    const server = async (id: string) => json((await k.request('GET', `${C}/servers/${id}`, { token: member.token, headers: v(92) })).body).server;
    const volume = async (id: string, token = member.token, project = member.projectId) => json((await k.request('GET', `/volume/v3/${project}/volumes/${id}`, { token })).body).volume;
    async function until<T>(what: string, read: () => Promise<T>, ok: (x: T) => boolean): Promise<T> {
      for (let i = 0; i < 300; i++) {
        await k.kumo.agent!.settled();
        const x = await read();
        if (ok(x)) return x;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`${what} never came: ${JSON.stringify(await read())}`);
    }
    async function newVolume(name: string, size = 1, token = member.token, project = member.projectId): Promise<string> {
      const res = await k.request('POST', `/volume/v3/${project}/volumes`, { token, body: { volume: { name, size } } });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).volume.id as string;
      await until(`volume ${name} available`, () => volume(id, token, project), (x) => x.status === 'available');
      return id;
    }
    const create = (body: Record<string, unknown>, minor = 92) => k.request('POST', `${C}/servers`, { token: member.token, headers: v(minor), body: { server: { flavorRef: '42', networks: [{ uuid: netId }], ...body } } });
    const serverNames = async () => json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers.map((x: any) => x.name) as string[];

    test('boot from a volume (what `server create --volume` sends): the volume is the root disk, in-use, shown in the server; delete gives it back', async () => {
      const vol = await newVolume('root1');
      const res = await create({ name: 'bfv1', imageRef: '', block_device_mapping_v2: [{ uuid: vol, boot_index: '0', source_type: 'volume', destination_type: 'volume' }] });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).server.id as string;
      const s = await until('ACTIVE', () => server(id), (x) => x.status === 'ACTIVE');
      assert.equal(s.image, '');
      assert.deepEqual(s['os-extended-volumes:volumes_attached'], [{ id: vol, delete_on_termination: false }]);
      const vm = hv.vms.get(id)!;
      assert.deepEqual(vm.spec.disks.map((d) => [d.path, d.format, d.serial]), [[`/fake/volumes/${vol}.raw`, 'raw', vol.slice(0, 20)]]);
      assert.ok(!hv.calls.some((c) => c.startsWith('ensureBaseImage') && c.includes(id)), 'no image for a volume-backed server');
      const vv = await volume(vol);
      assert.equal(vv.status, 'in-use');
      assert.equal(vv.attachments[0].server_id, id);
      assert.equal(vv.attachments[0].device, '/dev/vda');
      const attachments = json((await k.request('GET', `${C}/servers/${id}/os-volume_attachments`, { token: member.token, headers: v(89) })).body).volumeAttachments;
      assert.deepEqual(attachments.map((a: any) => [a.volumeId, a.device, a.delete_on_termination]), [[vol, '/dev/vda', false]]);
      // The root volume stays; a rebuild or an image of it is refused.
      assert.equal((await k.request('DELETE', `${C}/servers/${id}/os-volume_attachments/${vol}`, { token: member.token })).statusCode, 400);
      assert.match(json((await k.request('POST', `${C}/servers/${id}/action`, { token: member.token, body: { createImage: { name: 'x' } } })).body).badRequest.message, /volume-backed/);
      // Deleting a volume in use is Cinder's 400 and changes nothing.
      assert.equal((await k.request('DELETE', `${V()}/volumes/${vol}`, { token: member.token })).statusCode, 400);
      assert.equal((await volume(vol)).status, 'in-use');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
      await until('volume back', () => volume(vol), (x) => x.status === 'available' && x.attachments.length === 0);
      assert.ok(bs.volumes.has(vol), 'the volume outlives the server');
    });

    test('boot from an image into a new volume (`--boot-from-volume`), delete_on_termination: the volume is made from the image and goes with the server', async () => {
      const res = await create({ name: 'bfv2', block_device_mapping_v2: [{ uuid: imageId, boot_index: 0, source_type: 'image', destination_type: 'volume', volume_size: 2, delete_on_termination: true }] });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).server.id as string;
      const s = await until('ACTIVE', () => server(id), (x) => x.status === 'ACTIVE');
      const [{ id: vol, delete_on_termination }] = s['os-extended-volumes:volumes_attached'];
      assert.equal(delete_on_termination, true);
      assert.ok(bs.calls.includes(`createVolume ${vol} ${2 * 1024 ** 3} image:${imageId}`), bs.calls.join('\n'));
      const vv = await volume(vol);
      assert.equal(vv.bootable, 'true');
      assert.equal(vv.status, 'in-use');
      assert.equal((await k.request('DELETE', `${C}/servers/${id}`, { token: member.token })).statusCode, 204);
      await until('volume deleted', () => k.request('GET', `${V()}/volumes/${vol}`, { token: member.token }), (r) => r.statusCode === 404);
    });

    test('server add/remove volume: hot-plugged into the running VM with the next device, in-use; a second server cannot take it; detach unplugs it', async () => {
      const res = await create({ name: 'vm-data', imageRef: imageId });
      const id = json(res.body).server.id as string;
      await until('ACTIVE', () => server(id), (x) => x.status === 'ACTIVE');
      const res2 = await create({ name: 'vm-other', imageRef: imageId });
      const id2 = json(res2.body).server.id as string;
      await until('ACTIVE', () => server(id2), (x) => x.status === 'ACTIVE');
      const data = await newVolume('data1');
      const att = await k.request('POST', `${C}/servers/${id}/os-volume_attachments`, { token: member.token, headers: v(89), body: { volumeAttachment: { volumeId: data, device: null } } });
      assert.equal(att.statusCode, 200, att.body);
      assert.equal(json(att.body).volumeAttachment.device, '/dev/vdb');
      await until('in-use', () => volume(data), (x) => x.status === 'in-use');
      assert.ok(hv.vms.get(id)!.spec.disks.some((d) => d.path === `/fake/volumes/${data}.raw`), 'hot-plugged');
      assert.deepEqual((await server(id))['os-extended-volumes:volumes_attached'], [{ id: data, delete_on_termination: false }]);
      // In use by one machine: another's attach is Nova's 400, and nothing changes.
      const again = await k.request('POST', `${C}/servers/${id2}/os-volume_attachments`, { token: member.token, body: { volumeAttachment: { volumeId: data } } });
      assert.equal(again.statusCode, 400, again.body);
      assert.match(json(again.body).badRequest.message, /Invalid volume/);
      assert.equal((await volume(data)).attachments.length, 1);
      assert.deepEqual((await server(id2))['os-extended-volumes:volumes_attached'], []);
      // The same server twice: 400 too.
      assert.equal((await k.request('POST', `${C}/servers/${id}/os-volume_attachments`, { token: member.token, body: { volumeAttachment: { volumeId: data } } })).statusCode, 400);
      // A volume another host holds cannot reach this server: refused here, and nothing changes.
      const far = await newVolume('far');
      await k.kumo.db.updateTable('volume_volume').set({ host: 'elsewhere' }).where('id', '=', far).execute();
      const farAttach = await k.request('POST', `${C}/servers/${id}/os-volume_attachments`, { token: member.token, body: { volumeAttachment: { volumeId: far } } });
      assert.equal(farAttach.statusCode, 400, farAttach.body);
      assert.match(json(farAttach.body).badRequest.message, /on host elsewhere/);
      assert.equal((await volume(far)).status, 'available');
      // Another project's volume does not exist for this one.
      const theirs = await newVolume('theirs', 1, other.token, other.projectId);
      assert.equal((await k.request('POST', `${C}/servers/${id}/os-volume_attachments`, { token: member.token, body: { volumeAttachment: { volumeId: theirs } } })).statusCode, 404);
      // Extended while attached (3.42): the VM is told the new size.
      const ext = await k.request('POST', `${V()}/volumes/${data}/action`, { token: member.token, headers: { 'openstack-api-version': 'volume 3.42' }, body: { 'os-extend': { new_size: 3 } } });
      assert.equal(ext.statusCode, 202, ext.body);
      await until('resized in the VM', async () => hv.calls, (calls) => calls.some((c) => c.startsWith(`resizeDisk ${id} `) && c.endsWith(` ${3 * 1024 ** 3}`)));
      // ...and, as Nova does for Cinder's volume-extended event, an extend_volume action whose compute_extend_volume event finished.
      const extendAction = json((await k.request('GET', `${C}/servers/${id}/os-instance-actions`, { token: member.token })).body).instanceActions.find((a: any) => a.action === 'extend_volume');
      assert.ok(extendAction, 'extend_volume action');
      const extendEvents = json((await k.request('GET', `${C}/servers/${id}/os-instance-actions/${extendAction.request_id}`, { token: admin, headers: { 'x-openstack-nova-api-version': '2.51' } })).body).instanceAction.events;
      assert.ok(extendEvents.some((e: any) => e.event === 'compute_extend_volume' && e.finish_time && e.result === 'Success'), JSON.stringify(extendEvents));
      // The guest does not release the disk the first time (still booting): the detach is asked again, the server stays ACTIVE.
      hv.failNextDetach('QMP: no DEVICE_DELETED event within 30000 ms');
      const det = await k.request('DELETE', `${C}/servers/${id}/os-volume_attachments/${data}`, { token: member.token });
      assert.equal(det.statusCode, 202, det.body);
      await until('available', () => volume(data), (x) => x.status === 'available');
      assert.ok(hv.calls.filter((c) => c.startsWith(`detachDisk ${id} `)).length >= 2, 'detach asked again');
      assert.equal((await server(id)).status, 'ACTIVE');
      assert.ok(!hv.vms.get(id)!.spec.disks.some((d) => d.path.includes(data)), 'unplugged');
      assert.ok(hv.calls.some((c) => c.startsWith(`detachDisk ${id} `)));
      const actions = json((await k.request('GET', `${C}/servers/${id}/os-instance-actions`, { token: member.token })).body).instanceActions.map((a: any) => a.action);
      assert.ok(actions.includes('attach_volume') && actions.includes('detach_volume'), actions.join());
      for (const s of [id, id2]) await k.request('DELETE', `${C}/servers/${s}`, { token: member.token });
    });

    test('refused creates make nothing: an unknown volume, a volume in use, a mapping without a size, swap disks', async () => {
      const inUse = await newVolume('busy');
      const holder = json((await create({ name: 'holder', imageRef: '', block_device_mapping_v2: [{ uuid: inUse, boot_index: 0, source_type: 'volume', destination_type: 'volume' }] })).body).server.id as string;
      await until('holder ACTIVE', () => server(holder), (x) => x.status === 'ACTIVE');
      const volumesBefore = json((await k.request('GET', `${V()}/volumes`, { token: member.token })).body).volumes.length;
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ name: 'b1', imageRef: '', block_device_mapping_v2: [{ uuid: '00000000-0000-4000-8000-000000000000', boot_index: 0, source_type: 'volume', destination_type: 'volume' }] }, /failed to get volume/],
        [{ name: 'b2', imageRef: '', block_device_mapping_v2: [{ uuid: inUse, boot_index: 0, source_type: 'volume', destination_type: 'volume' }] }, /Invalid volume.*in-use/],
        [{ name: 'b3', block_device_mapping_v2: [{ uuid: imageId, boot_index: 0, source_type: 'image', destination_type: 'volume' }] }, /non-zero size/],
        [{ name: 'b4', imageRef: imageId, block_device_mapping_v2: [{ boot_index: -1, source_type: 'blank', destination_type: 'local', guest_format: 'swap', volume_size: 1 }] }, /no swap or ephemeral/],
        [{ name: 'b5', imageRef: '' }, /Boot sequence/],
      ];
      for (const [body, message] of bad) {
        const res = await create(body);
        assert.equal(res.statusCode, 400, res.body);
        assert.match(json(res.body).badRequest.message, message);
      }
      assert.deepEqual((await serverNames()).filter((n) => /^b\d$/.test(n)), [], 'no server made');
      assert.equal(json((await k.request('GET', `${V()}/volumes`, { token: member.token })).body).volumes.length, volumesBefore);
      assert.equal((await volume(inUse)).attachments.length, 1);
      await k.request('DELETE', `${C}/servers/${holder}`, { token: member.token });
      await until('holder gone', () => volume(inUse), (x) => x.status === 'available');
    });

    test('os-services: nova-compute was last updated at its host agent\'s heartbeat, not at the request', async () => {
      // The heartbeat as the block storage API shows it (the same host's agent); Cinder and Nova format times differently.
      const heartbeat = async () => json((await k.request('GET', `${V()}/os-services?binary=cinder-volume`, { token: admin })).body).services[0].updated_at as string;
      const novaCompute = async () => {
        const services = json((await k.request('GET', `${C}/os-services`, { token: admin, headers: v(53) })).body).services as { binary: string; host: string; state: string; updated_at: string | null }[];
        return services.find((s) => s.binary === 'nova-compute')!;
      };
      const ms = (t: string | null) => Date.parse(`${t}Z`);
      /** nova-compute as shown while the heartbeat stood still, with the heartbeat. */
      const seen = async () => {
        for (let i = 0; i < 5; i++) {
          const beat = await heartbeat();
          // The request comes after the heartbeat by more than the times' precision.
          k.advance(1_000);
          const shown = await novaCompute();
          if (await heartbeat() === beat) return { beat, shown };
        }
        throw new Error('the heartbeat never stood still for one request');
      };
      const first = await seen();
      assert.deepEqual([first.shown.host, first.shown.state], ['test-host', 'up']);
      assert.equal(ms(first.shown.updated_at), ms(first.beat));
      // The next heartbeat moves it.
      k.advance(11_000);
      k.kumo.agent!.resync();
      await k.kumo.agent!.settled();
      const next = await seen();
      assert.notEqual(next.beat, first.beat, 'the agent beat again');
      assert.equal(ms(next.shown.updated_at), ms(next.beat));
    });
  });
}
