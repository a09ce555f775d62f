import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeBlockStorage } from '../support/fake-block-storage.js';
import type { FakeBlockStorage } from '../support/fake-block-storage.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { PlugEverything } from '../support/plug-everything.js';

const V = '/volume/v3';

/**
 * What Tempest's tempest.api.volume found (scripts/tempest-volume.sh): Cinder's exact answer shapes
 * (Tempest validates every body against schemas that refuse unknown keys) and the request forms
 * Cinder accepts. One case per cause.
 */
for (const dialect of DIALECTS) {
  describe(`volume API as Tempest checks it (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: { token: string; projectId: string };
    let storage: FakeBlockStorage;
    before(async () => {
      storage = fakeBlockStorage();
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), blockStorage: storage });
      admin = await k.adminToken();
      member = await k.member('conf-a', 'cora');
      await k.kumo.agent!.settled();
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const P = () => `${V}/${member.projectId}`;
    const show = async (id: string, token: string) => json((await k.request('GET', `${V}/volumes/${id}`, { token })).body).volume;
    async function until(id: string, status: string, token = member.token): Promise<Record<string, any>> {
      for (let i = 0; i < 100; i++) {
        await k.kumo.agent!.settled();
        const s = await show(id, token);
        if (s?.status === status) return s;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`volume ${id} never became ${status}`);
    }
    const extensionKeys = ['os-vol-tenant-attr:tenant_id', 'os-vol-host-attr:host', 'os-vol-mig-status-attr:migstat', 'os-vol-mig-status-attr:name_id', 'volume_image_metadata'];

    test('create and update answer without the os-vol-* extension attributes; show and detail have them', async () => {
      for (const token of [member.token, admin]) {
        const projectId = token === admin ? json((await k.request('GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } })).body).token.project.id : member.projectId;
        const res = await k.request('POST', `${V}/volumes`, { token, body: { volume: { size: 1, name: 'ext' } } });
        assert.equal(res.statusCode, 202, res.body);
        const created = json(res.body).volume;
        for (const key of extensionKeys) assert.ok(!(key in created), `create answer has ${key}`);
        await until(created.id, 'available', token);
        const upd = json((await k.request('PUT', `${V}/volumes/${created.id}`, { token, body: { volume: { name: 'ext2' } } })).body).volume;
        assert.equal(upd.name, 'ext2');
        for (const key of extensionKeys) assert.ok(!(key in upd), `update answer has ${key}`);
        const got = await show(created.id, token);
        assert.equal(got['os-vol-tenant-attr:tenant_id'], projectId);
        const detail = json((await k.request('GET', `${V}/volumes/detail`, { token })).body).volumes.find((x: { id: string }) => x.id === created.id);
        assert.equal(detail['os-vol-tenant-attr:tenant_id'], projectId);
        if (token === admin) {
          assert.equal(got['os-vol-host-attr:host'], 'test-host@kumo#kumo');
          // Kumo's status_reason appears only when there is a reason.
          assert.ok(!('status_reason' in got), 'status_reason without a reason');
        }
      }
    });

    test('volume type answers: no qos_specs_id on create, nor the access flag on update', async () => {
      const res = await k.request('POST', `${V}/types`, { token: admin, body: { volume_type: { name: 'shape', 'os-volume-type-access:is_public': true } } });
      assert.equal(res.statusCode, 200, res.body);
      const created = json(res.body).volume_type;
      assert.deepEqual(Object.keys(created).sort(), ['description', 'extra_specs', 'id', 'is_public', 'name', 'os-volume-type-access:is_public']);
      const upd = json((await k.request('PUT', `${V}/types/${created.id}`, { token: admin, body: { volume_type: { description: 'd' } } })).body).volume_type;
      assert.deepEqual(Object.keys(upd).sort(), ['description', 'extra_specs', 'id', 'is_public', 'name']);
      assert.equal(upd.description, 'd');
      const got = json((await k.request('GET', `${V}/types/${created.id}`, { token: admin })).body).volume_type;
      assert.equal(got.qos_specs_id, null);
      assert.equal(got['os-volume-type-access:is_public'], true);
    });

    test('a snapshot of volume_id null is 404 (Cinder allows null, then finds no volume); a missing one 400', async () => {
      const before = json((await k.request('GET', `${P()}/snapshots`, { token: member.token })).body).snapshots;
      const nul = await k.request('POST', `${P()}/snapshots`, { token: member.token, body: { snapshot: { volume_id: null, display_name: 's' } } });
      assert.equal(nul.statusCode, 404);
      assert.deepEqual(json(nul.body), { itemNotFound: { code: 404, message: 'Volume None could not be found.' } });
      const missing = await k.request('POST', `${P()}/snapshots`, { token: member.token, body: { snapshot: { name: 's' } } });
      assert.equal(missing.statusCode, 400);
      assert.ok(json(missing.body).badRequest);
      assert.deepEqual(json((await k.request('GET', `${P()}/snapshots`, { token: member.token })).body).snapshots, before);
    });

    test("the create body's multiattach flag (Cinder's deprecated form) makes a multiattach volume", async () => {
      const res = await k.request('POST', `${P()}/volumes`, { token: member.token, body: { volume: { size: 1, multiattach: true } } });
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(json(res.body).volume.multiattach, true);
      assert.equal((await until(json(res.body).volume.id, 'available')).multiattach, true);
    });
    const act = async (id: string, body: Record<string, unknown>, token = member.token) => k.request('POST', `${V}/volumes/${id}/action`, { token, body });
    const newVolume = async (extra: Record<string, unknown> = {}) => {
      const created = json((await k.request('POST', `${V}/volumes`, { token: member.token, body: { volume: { size: 1, ...extra } } })).body).volume;
      return until(created.id, 'available');
    };

    test('snapshot answers: the os-extended-snapshot-attributes on show and detail only, no links', async () => {
      const vol = await newVolume();
      const res = await k.request('POST', `${V}/snapshots`, { token: member.token, body: { snapshot: { volume_id: vol.id, name: 'sx' } } });
      assert.equal(res.statusCode, 202, res.body);
      const snap = json(res.body).snapshot;
      const plain = ['created_at', 'description', 'id', 'metadata', 'name', 'size', 'status', 'updated_at', 'volume_id'];
      assert.deepEqual(Object.keys(snap).sort(), plain);
      const upd = json((await k.request('PUT', `${V}/snapshots/${snap.id}`, { token: member.token, body: { snapshot: { name: 'sy' } } })).body).snapshot;
      assert.deepEqual(Object.keys(upd).sort(), plain);
      const summary = json((await k.request('GET', `${V}/snapshots`, { token: member.token })).body).snapshots.find((x: { id: string }) => x.id === snap.id);
      assert.deepEqual(Object.keys(summary).sort(), plain);
      const got = json((await k.request('GET', `${V}/snapshots/${snap.id}`, { token: member.token })).body).snapshot;
      assert.equal(got['os-extended-snapshot-attributes:project_id'], member.projectId);
      assert.ok('os-extended-snapshot-attributes:progress' in got);
      const detail = json((await k.request('GET', `${V}/snapshots/detail`, { token: member.token })).body).snapshots.find((x: { id: string }) => x.id === snap.id);
      assert.equal(detail['os-extended-snapshot-attributes:project_id'], member.projectId);
    });

    test('GET volumes/ (an empty id) is 404, not the list', async () => {
      const res = await k.request('GET', `${P()}/volumes/`, { token: member.token });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(json(res.body), { itemNotFound: { code: 404, message: 'Volume  could not be found.' } });
    });

    test('the read-only flag shows among the metadata of GET answers once set, not in the metadata API', async () => {
      const vol = await newVolume({ metadata: { a: 'b' } });
      assert.deepEqual(vol.metadata, { a: 'b' });
      for (const flag of [true, false]) {
        assert.equal((await act(vol.id, { 'os-update_readonly_flag': { readonly: flag } })).statusCode, 202);
        assert.deepEqual((await show(vol.id, member.token)).metadata, { a: 'b', readonly: flag ? 'True' : 'False' });
      }
      assert.deepEqual(json((await k.request('GET', `${V}/volumes/${vol.id}/metadata`, { token: member.token })).body).metadata, { a: 'b' });
    });

    test('image metadata actions: set merges, show, unset; an unknown key is 404 and changes nothing', async () => {
      const vol = await newVolume();
      const set = await act(vol.id, { 'os-set_image_metadata': { metadata: { image_name: 'i', kernel_id: 'k' } } });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(json(set.body), { metadata: { image_name: 'i', kernel_id: 'k' } });
      assert.deepEqual((await show(vol.id, member.token)).volume_image_metadata, { image_name: 'i', kernel_id: 'k' });
      assert.equal((await act(vol.id, { 'os-unset_image_metadata': { key: 'kernel_id' } })).statusCode, 200);
      const missing = await act(vol.id, { 'os-unset_image_metadata': { key: 'kernel_id' } });
      assert.equal(missing.statusCode, 404);
      assert.ok(json(missing.body).itemNotFound);
      const shown = await act(vol.id, { 'os-show_image_metadata': {} });
      assert.deepEqual(json(shown.body), { metadata: { image_name: 'i' } });
      assert.equal((await act(vol.id, { 'os-set_image_metadata': { metadata: { bad: 1 } } })).statusCode, 400);
      assert.deepEqual((await show(vol.id, member.token)).volume_image_metadata, { image_name: 'i' });
    });

    test('retype changes the type in place; the same type is 400, an unknown one 404, and neither changes anything', async () => {
      const dst = json((await k.request('POST', `${V}/types`, { token: admin, body: { volume_type: { name: 'retype-dst' } } })).body).volume_type;
      const vol = await newVolume();
      assert.equal(vol.volume_type, '__DEFAULT__');
      const same = await act(vol.id, { 'os-retype': { new_type: '__DEFAULT__', migration_policy: 'never' } });
      assert.equal(same.statusCode, 400);
      assert.equal((await act(vol.id, { 'os-retype': { new_type: 'no-such-type' } })).statusCode, 404);
      assert.equal((await show(vol.id, member.token)).volume_type, '__DEFAULT__');
      const ok = await act(vol.id, { 'os-retype': { new_type: dst.id, migration_policy: 'never' } });
      assert.equal(ok.statusCode, 202, ok.body);
      const after = await show(vol.id, member.token);
      assert.equal(after.volume_type, 'retype-dst');
      assert.equal(after.status, 'available');
    });
    test('force detach (admin) frees a volume in error from its attachment; detaching a volume with none is a success', async () => {
      const vol = await newVolume();
      const server = '5b1f7a52-1c1e-4a7e-9d3c-2f0e6d5a4b3c';
      assert.equal((await act(vol.id, { 'os-attach': { instance_uuid: server, mountpoint: '/dev/vdb' } })).statusCode, 202);
      const attached = await until(vol.id, 'in-use');
      const attachmentId = attached.attachments[0].attachment_id;
      assert.equal((await act(vol.id, { 'os-reset_status': { status: 'error' } }, admin)).statusCode, 202);
      assert.equal((await act(vol.id, { 'os-force_detach': { attachment_id: attachmentId, connector: null } })).statusCode, 403);
      const unknown = await act(vol.id, { 'os-force_detach': { attachment_id: 'f00f0000-0000-4000-8000-000000000000' } }, admin);
      assert.equal(unknown.statusCode, 404);
      let now = await show(vol.id, member.token);
      assert.equal(now.status, 'error');
      assert.equal(now.attachments.length, 1);
      assert.equal((await act(vol.id, { 'os-force_detach': { attachment_id: attachmentId, connector: null } }, admin)).statusCode, 202);
      now = await show(vol.id, member.token);
      assert.equal(now.status, 'available');
      assert.deepEqual(now.attachments, []);
      assert.equal((await act(vol.id, { 'os-detach': {} })).statusCode, 202);
      assert.equal((await show(vol.id, member.token)).status, 'available');
    });
    test('a full page links the next one, even when nothing follows (Cinder); the last, short page does not', async () => {
      const mine = json((await k.request('GET', `${V}/volumes`, { token: member.token })).body).volumes.length;
      const full = json((await k.request('GET', `${V}/volumes?limit=${mine}`, { token: member.token })).body);
      assert.equal(full.volumes.length, mine);
      const next = full.volumes_links?.find((l: { rel: string }) => l.rel === 'next')?.href as string | undefined;
      assert.ok(next, 'next link on a full page');
      const after = json((await k.request('GET', new URL(next).pathname.replace(/^.*?\/volume\/v3/, V) + new URL(next).search, { token: member.token })).body);
      assert.deepEqual(after.volumes, []);
      assert.equal(after.volumes_links, undefined);
      const short = json((await k.request('GET', `${V}/volumes?limit=${mine + 1}`, { token: member.token })).body);
      assert.equal(short.volumes_links, undefined);
    });
    test("an admin's snapshot status reset changes the record only: creating stays creating; a delete still works", async () => {
      const vol = await newVolume();
      const snap = json((await k.request('POST', `${V}/snapshots`, { token: member.token, body: { snapshot: { volume_id: vol.id } } })).body).snapshot;
      const snapStatus = async () => json((await k.request('GET', `${V}/snapshots/${snap.id}`, { token: member.token })).body).snapshot?.status;
      for (let i = 0; i < 50 && (await snapStatus()) !== 'available'; i++) await k.kumo.agent!.settled();
      assert.equal(await snapStatus(), 'available');
      const made = storage.calls.filter((c) => c.startsWith(`createSnapshot ${snap.id}`)).length;
      assert.equal((await k.request('POST', `${V}/snapshots/${snap.id}/action`, { token: admin, body: { 'os-reset_status': { status: 'creating' } } })).statusCode, 202);
      await k.kumo.agent!.settled();
      await k.kumo.agent!.settled();
      assert.equal(await snapStatus(), 'creating');
      assert.equal(storage.calls.filter((c) => c.startsWith(`createSnapshot ${snap.id}`)).length, made, 'not made again');
      assert.equal((await k.request('POST', `${V}/snapshots/${snap.id}/action`, { token: admin, body: { 'os-reset_status': { status: 'available' } } })).statusCode, 202);
      assert.equal((await k.request('DELETE', `${V}/snapshots/${snap.id}`, { token: member.token })).statusCode, 202);
      for (let i = 0; i < 50 && (await snapStatus()) !== undefined; i++) await k.kumo.agent!.settled();
      assert.equal(await snapStatus(), undefined);
    });
    test("an admin's volume status reset changes the record only: creating stays creating; force delete removes it", async () => {
      const vol = await newVolume();
      const made = storage.calls.filter((c) => c.startsWith(`createVolume ${vol.id}`)).length;
      assert.equal((await act(vol.id, { 'os-reset_status': { status: 'creating' } }, admin)).statusCode, 202);
      await k.kumo.agent!.settled();
      await k.kumo.agent!.settled();
      assert.equal((await show(vol.id, member.token)).status, 'creating');
      assert.equal(storage.calls.filter((c) => c.startsWith(`createVolume ${vol.id}`)).length, made, 'not made again');
      assert.equal((await act(vol.id, { 'os-force_delete': {} }, admin)).statusCode, 202);
      for (let i = 0; i < 50 && (await k.request('GET', `${V}/volumes/${vol.id}`, { token: member.token })).statusCode !== 404; i++) await k.kumo.agent!.settled();
      assert.equal((await k.request('GET', `${V}/volumes/${vol.id}`, { token: member.token })).statusCode, 404);
      assert.ok(storage.calls.includes(`deleteVolume ${vol.id}`));
    });
    test('lists take offset and sort by display_name (Cinder column names) for snapshots and volumes', async () => {
      const other = await k.member('conf-b', 'sofia');
      const vol = json((await k.request('POST', `${V}/volumes`, { token: other.token, body: { volume: { size: 1 } } })).body).volume;
      await until(vol.id, 'available', other.token);
      for (const name of ['b', 'c', 'a']) {
        const r = await k.request('POST', `${V}/snapshots`, { token: other.token, body: { snapshot: { volume_id: vol.id, name } } });
        assert.equal(r.statusCode, 202, r.body);
      }
      const names = async (url: string) => json((await k.request('GET', url, { token: other.token })).body).snapshots.map((x: { name: string }) => x.name);
      assert.deepEqual(await names(`${V}/snapshots?sort_key=display_name&sort_dir=asc`), ['a', 'b', 'c']);
      assert.deepEqual(await names(`${V}/snapshots?sort_key=display_name&sort_dir=desc`), ['c', 'b', 'a']);
      assert.deepEqual(await names(`${V}/snapshots?sort_key=display_name&sort_dir=asc&offset=2&limit=3`), ['c']);
      assert.equal((await k.request('GET', `${V}/snapshots?offset=x`, { token: other.token })).statusCode, 400);
      assert.equal(json((await k.request('GET', `${V}/volumes?sort_key=display_name&offset=1`, { token: other.token })).body).volumes.length, 0);
    });
  });
}
