import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeBlockStorage } from '../support/fake-block-storage.js';
import type { FakeBlockStorage } from '../support/fake-block-storage.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { PlugEverything } from '../support/plug-everything.js';
import {
  beginDetaching, completeAttachment, createVolumeFor, deleteAttachment, getAttachableVolume, listAttachmentsOfInstance, reserveVolume,
} from '../../src/volume/attachments.js';
import type { VolumeDeps } from '../../src/volume/context.js';

const V = '/volume/v3';
const GIB = 1024 ** 3;

/**
 * The Cinder API with the volume controller driving a recording BlockStorage: the state machine
 * clients see, Cinder's errors for bad input (and that nothing changed), quotas, isolation, and the
 * functions Nova and Zun call.
 */
for (const dialect of DIALECTS) {
  describe(`volume API with the agent (${dialect})`, () => {
    let k: TestKumo;
    let storage: FakeBlockStorage;
    let admin: string;
    let member: { token: string; projectId: string };
    let other: { token: string; projectId: string };
    before(async () => {
      storage = fakeBlockStorage();
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), blockStorage: storage });
      admin = await k.adminToken();
      member = await k.member('vol-a', 'vera');
      other = await k.member('vol-b', 'otto');
      await k.kumo.agent!.settled();
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const v = (minor: number) => ({ 'openstack-api-version': `volume 3.${minor}` });
    const P = () => `${V}/${member.projectId}`;
    const show = async (id: string, token = member.token) => json((await k.request('GET', `${P()}/volumes/${id}`, { token: token === admin ? admin : token, headers: v(60) })).body).volume;
    async function until(id: string, status: string): Promise<Record<string, any>> {
      // Bounded by time, not passes: on a loaded host a pass may find the work not due yet.
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        await k.kumo.agent!.settled();
        const s = await show(id);
        if (s?.status === status) return s;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`volume ${id} never became ${status}: ${JSON.stringify(await show(id))}`);
    }
    const create = async (body: Record<string, unknown>, token = member.token) => k.request('POST', `${P()}/volumes`, { token, body: { volume: body } });
    const listIds = async () => json((await k.request('GET', `${P()}/volumes`, { token: member.token })).body).volumes.map((x: { id: string }) => x.id).sort();

    test('version documents and microversion negotiation', async () => {
      const root = await k.request('GET', '/volume/');
      assert.equal(root.statusCode, 300);
      const doc = json((await k.request('GET', '/volume/v3/')).body).versions[0];
      assert.equal(doc.version, '3.70');
      assert.equal(doc.min_version, '3.0');
      assert.equal(doc.status, 'CURRENT');
      assert.equal(doc.links.find((l: { rel: string }) => l.rel === 'self').href, `${k.config.publicUrl}/volume/v3/`);
      const plain = await k.request('GET', `${P()}/volumes`, { token: member.token });
      assert.equal(plain.headers['openstack-api-version'], 'volume 3.0');
      assert.match(String(plain.headers.vary), /OpenStack-API-Version/);
      const latest = await k.request('GET', `${V}/volumes`, { token: member.token, headers: { 'openstack-api-version': 'volume latest' } });
      assert.equal(latest.headers['openstack-api-version'], 'volume 3.70');
      const tooNew = await k.request('GET', `${V}/volumes`, { token: member.token, headers: v(71) });
      assert.equal(tooNew.statusCode, 406);
      assert.equal(json(tooNew.body).computeFault?.message ?? Object.values(json(tooNew.body))[0].message, 'Version 3.71 is not supported by the API. Minimum is 3.0 and maximum is 3.70.');
      const missing = await k.request('GET', `${P()}/volumes/nope`, { token: member.token });
      assert.deepEqual(json(missing.body), { itemNotFound: { code: 404, message: 'Volume nope could not be found.' } });
      assert.equal((await k.request('GET', `${V}/volumes`)).statusCode, 401);
      const wrongProject = await k.request('GET', `${V}/${other.projectId}/volumes`, { token: member.token });
      assert.equal(wrongProject.statusCode, 400);
      assert.ok(json(wrongProject.body).badRequest);
    });

    test('create → available on the host, the fields OSC reads, list, show, update, metadata, delete', async () => {
      const res = await create({ size: 1, name: 'vol1', description: null, volume_type: null, availability_zone: null, metadata: { a: 'b' }, imageRef: null, snapshot_id: null, source_volid: null, consistencygroup_id: null, backup_id: null });
      assert.equal(res.statusCode, 202, res.body);
      const created = json(res.body).volume;
      assert.equal(created.status, 'creating');
      assert.equal(created.volume_type, '__DEFAULT__');
      assert.deepEqual(created.metadata, { a: 'b' });
      assert.equal(created.bootable, 'false');
      const s = await until(created.id, 'available');
      assert.ok(storage.calls.includes(`createVolume ${created.id} ${GIB}`));
      for (const f of ['id', 'name', 'status', 'size', 'availability_zone', 'created_at', 'updated_at', 'attachments', 'bootable', 'encrypted', 'multiattach', 'description', 'volume_type', 'snapshot_id', 'source_volid', 'metadata', 'links', 'user_id', 'os-vol-tenant-attr:tenant_id', 'service_uuid', 'shared_targets', 'group_id', 'provider_id']) {
        assert.ok(f in s, `volume field ${f}`);
      }
      assert.equal(s['os-vol-host-attr:host'], undefined, 'host is for admins');
      assert.equal((await show(created.id, admin))['os-vol-host-attr:host'], 'test-host@kumo#kumo');
      // cinderclient's name lookup
      const byName = json((await k.request('GET', `${P()}/volumes/detail?all_tenants=1&name=vol1`, { token: member.token })).body).volumes;
      assert.deepEqual(byName.map((x: { id: string }) => x.id), [created.id]);
      const upd = await k.request('PUT', `${P()}/volumes/${created.id}`, { token: member.token, body: { volume: { name: 'vol1b', description: 'd' } } });
      assert.equal(json(upd.body).volume.name, 'vol1b');
      await k.request('POST', `${P()}/volumes/${created.id}/metadata`, { token: member.token, body: { metadata: { c: 'd' } } });
      assert.deepEqual(json((await k.request('GET', `${P()}/volumes/${created.id}/metadata`, { token: member.token })).body).metadata, { a: 'b', c: 'd' });
      assert.equal((await k.request('DELETE', `${P()}/volumes/${created.id}/metadata/a`, { token: member.token })).statusCode, 200);
      const filtered = json((await k.request('GET', `${P()}/volumes/detail?metadata={'c':'d'}`, { token: member.token })).body).volumes;
      assert.equal(filtered.length, 1);
      const counted = json((await k.request('GET', `${V}/volumes/detail?with_count=true`, { token: member.token, headers: v(45) })).body);
      assert.equal(counted.count, 1);
      assert.equal(json((await k.request('GET', `${V}/volumes/summary`, { token: member.token, headers: v(12) })).body)['volume-summary'].total_size, 1);
      // isolation
      assert.equal((await k.request('GET', `${V}/volumes/${created.id}`, { token: other.token })).statusCode, 404);
      assert.deepEqual(json((await k.request('GET', `${V}/volumes/detail`, { token: other.token })).body).volumes, []);
      assert.equal((await k.request('DELETE', `${V}/volumes/${created.id}`, { token: other.token })).statusCode, 404);
      const del = await k.request('DELETE', `${P()}/volumes/${created.id}`, { token: member.token });
      assert.equal(del.statusCode, 202);
      for (let i = 0; i < 50 && (await listIds()).includes(created.id); i++) await k.kumo.agent!.settled();
      assert.deepEqual(await listIds(), []);
      assert.ok(storage.calls.includes(`deleteVolume ${created.id}`));
      assert.ok(!storage.volumes.has(created.id));
    });

    test('bad input: Cinder status and message, nothing changed', async () => {
      const before = await listIds();
      const zero = await create({ size: 0 });
      assert.equal(zero.statusCode, 400);
      assert.equal(json(zero.body).badRequest.message, 'Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1');
      const negative = await create({ size: -1 });
      assert.equal(negative.statusCode, 400);
      assert.match(json(negative.body).badRequest.message, /-1 is less than the minimum of 1/);
      const unknownType = await create({ size: 1, volume_type: 'gold' });
      assert.equal(unknownType.statusCode, 404);
      assert.equal(json(unknownType.body).itemNotFound.message, 'Volume type with name gold could not be found.');
      const big = await create({ size: 5000 });
      assert.equal(big.statusCode, 413);
      assert.equal(json(big.body).overLimit.message, 'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5000G, quota is 1000G and 0G has been consumed.');
      assert.deepEqual(await listIds(), before);

      const vol = json((await create({ size: 2, name: 'busy' })).body).volume;
      await until(vol.id, 'available');
      const smaller = await k.request('POST', `${P()}/volumes/${vol.id}/action`, { token: member.token, body: { 'os-extend': { new_size: 1 } } });
      assert.equal(smaller.statusCode, 400);
      assert.equal(json(smaller.body).badRequest.message, 'Invalid input received: New size for extend must be greater than current size. (current: 2, extended: 1).');
      assert.equal((await show(vol.id)).size, 2);

      const attach = await k.request('POST', `${V}/attachments`, { token: member.token, headers: v(27), body: { attachment: { volume_uuid: vol.id, instance_uuid: 'server-1' } } });
      assert.equal(attach.statusCode, 200, attach.body);
      const attachmentId = json(attach.body).attachment.id;
      await k.request('POST', `${V}/attachments/${attachmentId}/action`, { token: member.token, headers: v(44), body: { 'os-complete': null } });
      const inUse = await show(vol.id);
      assert.equal(inUse.status, 'in-use');
      assert.equal(inUse.attachments[0].server_id, 'server-1');

      const second = await k.request('POST', `${V}/attachments`, { token: member.token, headers: v(27), body: { attachment: { volume_uuid: vol.id, instance_uuid: 'server-2' } } });
      assert.equal(second.statusCode, 400);
      assert.equal(json(second.body).badRequest.message, `Invalid volume: Volume ${vol.id} status must be available or downloading to reserve, but the current status is in-use.`);
      const delInUse = await k.request('DELETE', `${P()}/volumes/${vol.id}`, { token: member.token });
      assert.equal(delInUse.statusCode, 400);
      assert.match(json(delInUse.body).badRequest.message, /^Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached/);
      const snap = await k.request('POST', `${P()}/snapshots`, { token: member.token, body: { snapshot: { volume_id: vol.id, name: 's' } } });
      assert.equal(snap.statusCode, 400);
      assert.equal(json(snap.body).badRequest.message, `Invalid volume: Volume ${vol.id} status must be available, but current status is: in-use.`);
      const after = await show(vol.id);
      assert.equal(after.status, 'in-use');
      assert.equal(after.attachments.length, 1);
      assert.deepEqual(json((await k.request('GET', `${P()}/snapshots`, { token: member.token })).body).snapshots, []);
      // online extend from 3.42
      assert.equal((await k.request('POST', `${P()}/volumes/${vol.id}/action`, { token: member.token, body: { 'os-extend': { new_size: 3 } } })).statusCode, 400);
      assert.equal((await k.request('POST', `${P()}/volumes/${vol.id}/action`, { token: member.token, headers: v(42), body: { 'os-extend': { new_size: 3 } } })).statusCode, 202);
      const grown = await until(vol.id, 'in-use');
      assert.equal(grown.size, 3);
      assert.equal(storage.volumes.get(vol.id), 3 * GIB);
      assert.equal((await k.request('DELETE', `${V}/attachments/${attachmentId}`, { token: member.token, headers: v(27) })).statusCode, 200);
      assert.equal((await show(vol.id)).status, 'available');
    });

    test('snapshots, volume from snapshot, types with multiattach, quotas and limits', async () => {
      const vol = json((await create({ size: 1, name: 'src' })).body).volume;
      await until(vol.id, 'available');
      const snapRes = await k.request('POST', `${P()}/snapshots`, { token: member.token, body: { snapshot: { volume_id: vol.id, name: 's1', metadata: { k: 'v' } } } });
      assert.equal(snapRes.statusCode, 202);
      const snap = json(snapRes.body).snapshot;
      for (let i = 0; i < 50; i++) {
        await k.kumo.agent!.settled();
        if (json((await k.request('GET', `${P()}/snapshots/${snap.id}`, { token: member.token })).body).snapshot.status === 'available') break;
      }
      assert.equal(json((await k.request('GET', `${P()}/snapshots/${snap.id}`, { token: member.token })).body).snapshot.status, 'available');
      const tooSmall = await create({ size: 0, snapshot_id: snap.id });
      assert.equal(tooSmall.statusCode, 400);
      const fromSnap = json((await create({ snapshot_id: snap.id, name: 'copy' })).body).volume;
      await until(fromSnap.id, 'available');
      assert.ok(storage.calls.includes(`createVolume ${fromSnap.id} ${GIB} snapshot:${snap.id}`));
      // a volume with snapshots needs cascade
      assert.equal((await k.request('DELETE', `${P()}/volumes/${vol.id}`, { token: member.token })).statusCode, 400);
      assert.equal((await k.request('DELETE', `${P()}/volumes/${vol.id}?cascade=true`, { token: member.token })).statusCode, 202);
      for (let i = 0; i < 50 && (await k.request('GET', `${P()}/snapshots/${snap.id}`, { token: member.token })).statusCode !== 404; i++) await k.kumo.agent!.settled();
      assert.equal((await k.request('GET', `${P()}/snapshots/${snap.id}`, { token: member.token })).statusCode, 404);

      // types
      assert.equal((await k.request('POST', `${V}/types`, { token: member.token, body: { volume_type: { name: 'multi' } } })).statusCode, 403);
      const t = json((await k.request('POST', `${V}/types`, { token: admin, body: { volume_type: { name: 'multi', extra_specs: { multiattach: '<is> True' } } } })).body).volume_type;
      assert.equal(json((await k.request('GET', `${V}/types/default`, { token: member.token })).body).volume_type.name, '__DEFAULT__');
      const mv = json((await create({ size: 1, volume_type: 'multi' })).body).volume;
      assert.equal(mv.multiattach, true);
      await until(mv.id, 'available');
      const c = { projectId: member.projectId, userId: 'u', isAdmin: false, requestId: 'r' };
      const vd = volumeDepsOf(k);
      const a1 = await reserveVolume(vd, c, mv.id, { instanceId: 'vm-a' });
      await completeAttachment(vd, a1.id, { hostName: 'test-host', mountpoint: '/dev/vdb' });
      const a2 = await reserveVolume(vd, c, mv.id, { instanceId: 'vm-b' });
      await completeAttachment(vd, a2.id, { hostName: 'test-host', mountpoint: '/dev/vdb' });
      await assert.rejects(reserveVolume(vd, c, mv.id, { instanceId: 'vm-a' }), (e: { status: number }) => e.status === 409);
      assert.equal((await getAttachableVolume(vd, c, mv.id)).attachments.length, 2);
      assert.deepEqual((await listAttachmentsOfInstance(vd, 'vm-a')).map((a) => a.status), ['attached']);
      assert.equal((await k.request('DELETE', `${V}/types/${t.id}`, { token: admin })).statusCode, 400);
      await beginDetaching(vd, a1.id);
      await deleteAttachment(vd, a1.id);
      await deleteAttachment(vd, a1.id);
      assert.equal((await show(mv.id)).status, 'in-use');
      await deleteAttachment(vd, a2.id);
      assert.equal((await show(mv.id)).status, 'available');
      await assert.rejects(getAttachableVolume(vd, { ...c, projectId: other.projectId }, mv.id), (e: { status: number }) => e.status === 404);

      // quotas
      const q = json((await k.request('GET', `${V}/os-quota-sets/${member.projectId}?usage=True`, { token: member.token })).body).quota_set;
      assert.equal(q.volumes.limit, 10);
      assert.ok(q.volumes.in_use >= 2);
      assert.equal(q.volumes___DEFAULT__.limit, -1);
      assert.equal((await k.request('PUT', `${V}/os-quota-sets/${member.projectId}`, { token: member.token, body: { quota_set: { volumes: 1 } } })).statusCode, 403);
      assert.equal((await k.request('PUT', `${V}/os-quota-sets/${member.projectId}`, { token: admin, body: { quota_set: { volumes: q.volumes.in_use } } })).statusCode, 200);
      const before = await listIds();
      const over = await create({ size: 1 });
      assert.equal(over.statusCode, 413);
      assert.equal(json(over.body).overLimit.message, `Maximum number of volumes allowed (${q.volumes.in_use}) exceeded for quota 'volumes'.`);
      await assert.rejects(createVolumeFor(vd, c, { sizeGb: 1, name: 'x' }), (e: { status: number }) => e.status === 413);
      assert.deepEqual(await listIds(), before);
      const limits = json((await k.request('GET', `${V}/limits`, { token: member.token })).body).limits;
      assert.equal(limits.absolute.maxTotalVolumes, q.volumes.in_use);
      assert.deepEqual(limits.rate, []);
      await k.request('DELETE', `${V}/os-quota-sets/${member.projectId}`, { token: admin });
      const services = json((await k.request('GET', `${V}/os-services`, { token: admin })).body).services;
      assert.deepEqual(services.map((s: { binary: string; state: string }) => `${s.binary}:${s.state}`), ['cinder-scheduler:up', 'cinder-volume:up']);
      assert.equal((await k.request('GET', `${V}/os-services`, { token: member.token })).statusCode, 403);
    });

    test('upload to image, and reconcile: orphan files, vanished files, stray mounts', async () => {
      const vol = json((await create({ size: 1, name: 'up' })).body).volume;
      await until(vol.id, 'available');
      const up = await k.request('POST', `${P()}/volumes/${vol.id}/action`, { token: member.token, body: { 'os-volume_upload_image': { image_name: 'from-vol', disk_format: 'raw' } } });
      assert.equal(up.statusCode, 202, up.body);
      const imageId = json(up.body)['os-volume_upload_image'].image_id;
      await until(vol.id, 'available');
      const image = json((await k.request('GET', `/image/v2/images/${imageId}`, { token: member.token })).body);
      assert.equal(image.status, 'active');
      assert.equal(image.size, 4096);

      storage.volumes.set('00000000-0000-4000-8000-00000000dead', GIB);
      storage.mounts.set('stray', { attachmentId: 'stray', volumeId: vol.id, hostPath: '/x', loopDevice: '/dev/loop1', readOnly: false });
      storage.volumes.delete(vol.id);
      k.kumo.agent!.resync();
      await k.kumo.agent!.settled();
      k.advance(61_000);
      k.kumo.agent!.resync();
      await k.kumo.agent!.settled();
      assert.ok(!storage.volumes.has('00000000-0000-4000-8000-00000000dead'), 'a file with no row is removed after the grace');
      assert.ok(!storage.mounts.has('stray'));
      const gone = await show(vol.id, admin);
      assert.equal(gone.status, 'error');
      assert.match(gone.status_reason, /file is missing/);
    });
  });
}

/** The volume service's deps, as the server assembled them (reached the way Nova and Zun will be given them). */
function volumeDepsOf(k: TestKumo): VolumeDeps {
  return k.kumo.volume;
}
