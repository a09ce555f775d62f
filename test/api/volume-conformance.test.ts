import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeBlockStorage } from '../support/fake-block-storage.js';
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
    before(async () => {
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), blockStorage: fakeBlockStorage() });
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
  });
}
