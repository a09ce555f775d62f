/**
 * Zun `--mount`: containers with volumes, through the container and volume controllers with a
 * fake runtime and a recording block storage. A named volume (by name or id) is reserved at
 * create, mounted by the host and bind-mounted into the container, in-use, given back on delete;
 * `size=` makes a volume that goes with the container; bad mounts are refused and change nothing.
 * The real loop devices, ext4 and crun are the e2e test's (test/integration/container-e2e.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { fakeBlockStorage } from '../support/fake-block-storage.js';
import type { FakeBlockStorage } from '../support/fake-block-storage.js';
import { FakeImages, FakeRuntime } from '../support/fake-container-drivers.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { PlugEverything } from '../support/plug-everything.js';
import { waitFor } from '../support/wait.js';

const Z = '/container/v1';

for (const dialect of DIALECTS) {
  describe(`containers with volumes (${dialect})`, () => {
    let k: TestKumo;
    let bs: FakeBlockStorage;
    const runtime = new FakeRuntime();
    const images = new FakeImages();
    let member: { token: string; projectId: string };
    let other: { token: string; projectId: string };
    before(async () => {
      bs = fakeBlockStorage();
      // Left by a Kumo killed before its container was deleted: no container holds this attachment.
      bs.mounts.set('stray', { attachmentId: 'stray', volumeId: 'gone', hostPath: '/fake/mounts/stray', loopDevice: '/dev/loop8', readOnly: false });
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), containerDrivers: { runtime, images }, blockStorage: bs });
      member = await k.member('zvol-a', 'zora');
      other = await k.member('zvol-b', 'olaf');
      for (const [who, cidr] of [[member, '10.61.0.0/24'], [other, '10.62.0.0/24']] as const) {
        const net = JSON.parse((await k.request('POST', '/network/v2.0/networks', { token: who.token, body: { network: { name: 'n' } } })).body).network;
        await k.request('POST', '/network/v2.0/subnets', { token: who.token, body: { subnet: { network_id: net.id, cidr, ip_version: 4 } } });
      }
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const zun = (method: string, path: string, body?: unknown, token = member.token) =>
      k.request(method, `${Z}${path}`, { token, body, headers: { 'openstack-api-version': 'container 1.40' } });
    /** What `openstack appcontainer run --mount ...` sends. */
    const run = (name: string, mounts: unknown[], token = member.token) =>
      zun('POST', '/containers?run=true', { name, image: 'busybox', command: ['sleep', '1000'], environment: {}, labels: {}, auto_remove: false, hints: {}, nets: [], mounts }, token);
    const show = async (ident: string) => json((await zun('GET', `/containers/${ident}`)).body);
    const volume = async (id: string, token = member.token, project = member.projectId) => {
      const res = await k.request('GET', `/volume/v3/${project}/volumes/${id}`, { token });
      return res.statusCode === 404 ? null : json(res.body).volume;
    };
    const volumeCount = async () => json((await k.request('GET', `/volume/v3/${member.projectId}/volumes`, { token: member.token })).body).volumes.length as number;
    const until = <T>(what: string, probe: () => Promise<T | undefined | false | null>) => waitFor(what, async () => {
      await k.kumo.agent!.settled();
      return probe();
    }, 10_000, 20);
    async function newVolume(name: string, who = member): Promise<string> {
      const res = await k.request('POST', `/volume/v3/${who.projectId}/volumes`, { token: who.token, body: { volume: { name, size: 1 } } });
      assert.equal(res.statusCode, 202, res.body);
      const id = json(res.body).volume.id as string;
      await until(`volume ${name} available`, async () => (await volume(id, who.token, who.projectId))?.status === 'available');
      return id;
    }
    const names = async () => json((await zun('GET', '/containers')).body).containers.map((c: any) => c.name) as string[];

    test('a mount no container holds (a kill -9 between mount and delete) is unmounted by the agent\'s first pass', async () => {
      await until('stray unmounted', async () => !bs.mounts.has('stray'));
      assert.ok(bs.calls.includes('unmount stray'));
    });

    test('a volume by name: reserved at create, mounted on the host, bound into the container at its destination, in-use; a second container cannot take it; delete gives it back', async () => {
      const vol = await newVolume('data1');
      const res = await run('c-vol', [{ source: 'data1', destination: '/data/' }]);
      assert.equal(res.statusCode, 202, res.body);
      const c = json(res.body);
      assert.deepEqual(c.mounts, [{ type: 'volume', source: vol, destination: '/data' }]);
      await until('Running', async () => (await show(c.uuid)).status === 'Running');
      const [mount] = [...bs.mounts.values()];
      assert.equal(mount.volumeId, vol);
      const spec = runtime.containers.get(c.uuid)!.spec;
      assert.deepEqual(spec.mounts.filter((m) => m.destination === '/data'), [{ source: mount.hostPath, destination: '/data', readonly: false }]);
      const v = await volume(vol);
      assert.equal(v.status, 'in-use');
      assert.deepEqual(v.attachments.map((a: any) => [a.server_id, a.device, a.attachment_id]), [[c.uuid, '/data', mount.attachmentId]]);
      assert.deepEqual((await show('c-vol')).mounts, [{ type: 'volume', source: vol, destination: '/data' }]);
      const listed = json((await zun('GET', '/containers')).body).containers.find((x: any) => x.uuid === c.uuid);
      assert.deepEqual(listed.mounts, [{ type: 'volume', source: vol, destination: '/data' }]);

      // One machine at a time: Zun's VolumeInUse, and nothing is made.
      const before = await names();
      const again = await run('c-vol-2', [{ source: vol, destination: '/data' }]);
      assert.equal(again.statusCode, 400, again.body);
      assert.match(json(again.body).errors[0].detail, new RegExp(`Volume ${vol} is still in use`));
      assert.deepEqual(await names(), before);
      assert.equal((await volume(vol)).attachments.length, 1);

      // A volume in use cannot be deleted through Cinder either.
      assert.equal((await k.request('DELETE', `/volume/v3/${member.projectId}/volumes/${vol}`, { token: member.token })).statusCode, 400);

      assert.equal((await zun('DELETE', `/containers/${c.uuid}?force=True&stop=False&all_projects=False`)).statusCode, 204);
      await until('volume given back', async () => {
        const x = await volume(vol);
        return x.status === 'available' && x.attachments.length === 0;
      });
      assert.equal(bs.mounts.size, 0, 'unmounted');
      assert.ok(bs.calls.includes(`unmount ${mount.attachmentId}`));
      assert.ok(bs.volumes.has(vol), 'a named volume outlives the container');
      assert.equal((await zun('GET', `/containers/${c.uuid}`)).statusCode, 404);

      // Free again: the next container mounts it (by id).
      const next = json((await run('c-vol-3', [{ source: vol, destination: '/srv' }])).body);
      await until('Running', async () => (await show(next.uuid)).status === 'Running');
      assert.equal((await volume(vol)).status, 'in-use');
      await zun('DELETE', `/containers/${next.uuid}?force=True`);
      await until('available', async () => (await volume(vol)).status === 'available');
    });

    test('size=1: a volume is made for the container, mounted once available, deleted with it', async () => {
      const count = await volumeCount();
      const res = await run('c-scratch', [{ size: '1', destination: '/scratch' }]);
      assert.equal(res.statusCode, 202, res.body);
      const c = json(res.body);
      const [{ source: vol }] = c.mounts;
      assert.equal(await volumeCount(), count + 1);
      await until('Running', async () => (await show(c.uuid)).status === 'Running');
      assert.ok(bs.calls.includes(`createVolume ${vol} ${1024 ** 3}`), bs.calls.join('\n'));
      assert.deepEqual([...bs.mounts.values()].map((m) => m.volumeId), [vol]);
      const v = await volume(vol);
      assert.equal(v.status, 'in-use');
      assert.equal(v.size, 1);
      assert.equal((await zun('DELETE', `/containers/${c.uuid}?force=True`)).statusCode, 204);
      await until('the volume deleted', async () => (await volume(vol)) === null);
      assert.equal(bs.mounts.size, 0);
      assert.ok(!bs.volumes.has(vol), 'its file removed');
      assert.equal(await volumeCount(), count);
    });

    test('a create refused after one size= volume was made (the second is over quota) leaves no volume behind', async () => {
      const admin = await k.adminToken();
      const count = await volumeCount();
      const q = await k.request('PUT', `/volume/v3/${member.projectId}/os-quota-sets/${member.projectId}`, { token: admin, body: { quota_set: { volumes: count + 1 } } });
      assert.equal(q.statusCode, 200, q.body);
      const res = await run('c-two', [{ size: '1', destination: '/a' }, { size: '1', destination: '/b' }]);
      assert.ok(res.statusCode >= 400, res.body);
      assert.ok(!(await names()).includes('c-two'), 'no container');
      await until('the first volume given up', async () => (await volumeCount()) === count);
      assert.equal((await k.request('PUT', `/volume/v3/${member.projectId}/os-quota-sets/${member.projectId}`, { token: admin, body: { quota_set: { volumes: -1 } } })).statusCode, 200);
    });

    test('bad mounts are refused in Zun\'s shape and make nothing: no container, no reservation, no volume, no mount', async () => {
      const vol = await newVolume('spare');
      const theirs = await newVolume('theirs', other);
      // In use by a container of this project.
      const busyVol = await newVolume('busy');
      const holder = json((await run('holder', [{ source: busyVol, destination: '/b' }])).body);
      await until('holder Running', async () => (await show(holder.uuid)).status === 'Running');

      const containers = await names();
      const volumes = await volumeCount();
      const calls = bs.calls.length;
      const cases: [string, unknown, number, RegExp][] = [
        ['unknown volume', [{ source: 'nope', destination: '/data' }], 404, /Volume nope could not be found/],
        ["another project's volume", [{ source: theirs, destination: '/data' }], 404, /could not be found/],
        ['in-use volume', [{ source: busyVol, destination: '/data' }], 400, /is still in use/],
        ['missing destination', [{ source: vol }], 400, /needs a destination/],
        ['relative destination', [{ source: vol, destination: 'data' }], 400, /must be an absolute path/],
        ['destination with ..', [{ source: vol, destination: '/a/../etc' }], 400, /must not contain/],
        ['destination /', [{ source: vol, destination: '/' }], 400, /root/],
        ['size 0', [{ size: '0', destination: '/data' }], 400, /greater than 0/],
        ['size -1', [{ size: -1, destination: '/data' }], 400, /greater than 0/],
        ['size 1.5', [{ size: '1.5', destination: '/data' }], 400, /whole number/],
        ['neither source nor size', [{ destination: '/data' }], 400, /needs a source or a size/],
        ['source and size', [{ source: vol, size: 1, destination: '/data' }], 400, /not both/],
        ['unknown key', [{ source: vol, destination: '/data', mode: 'ro' }], 400, /unknown keys mode/],
        ['bind mount', [{ type: 'bind', source: 'aGVsbG8=', destination: '/etc/x' }], 400, /bind .* not supported/],
        ['two mounts on one path', [{ source: vol, destination: '/d' }, { size: 1, destination: '/d/' }], 400, /two mounts on \/d/],
        ['a volume twice', [{ source: vol, destination: '/d1' }, { source: 'spare', destination: '/d2' }], 400, /given twice/],
        // The good mount first: still nothing made when a later one is bad.
        ['a size then an unknown volume', [{ size: 1, destination: '/ok' }, { source: 'nope', destination: '/data' }], 404, /could not be found/],
        ['not a list', { source: vol, destination: '/data' }, 400, /must be a list/],
      ];
      for (const [what, mounts, status, message] of cases) {
        const res = await zun('POST', '/containers?run=true', { name: 'refused', image: 'busybox', command: ['sleep', '1'], mounts });
        assert.equal(res.statusCode, status, `${what}: ${res.body}`);
        const err = json(res.body).errors[0];
        assert.equal(err.status, status, what);
        assert.match(err.detail, message, what);
      }
      await k.kumo.agent!.settled();
      assert.deepEqual(await names(), containers, 'no container');
      assert.equal(await volumeCount(), volumes, 'no volume');
      assert.equal((await volume(vol)).status, 'available', 'no reservation');
      assert.equal((await volume(vol)).attachments.length, 0);
      assert.equal((await volume(busyVol)).attachments.length, 1);
      assert.equal((await volume(theirs, other.token, other.projectId)).status, 'available');
      assert.deepEqual(bs.calls.slice(calls), [], 'nothing asked of the host');
      await zun('DELETE', `/containers/${holder.uuid}?force=True`);
      await until('busy back', async () => (await volume(busyVol)).status === 'available');
    });

    test('create without run: the volume is attached once the container is Created, given back on delete', async () => {
      const vol = await newVolume('lonely');
      const res = await zun('POST', '/containers', { name: 'c-created', image: 'busybox', command: ['sleep', '1'], mounts: [{ source: 'lonely', destination: '/l' }] });
      assert.equal(res.statusCode, 202, res.body);
      const c = json(res.body);
      await until('Created', async () => (await show(c.uuid)).status === 'Created');
      assert.equal((await volume(vol)).status, 'in-use', 'attached once the container is created');
      assert.equal((await zun('DELETE', `/containers/${c.uuid}`)).statusCode, 204);
      await until('available', async () => (await volume(vol)).status === 'available');
      assert.equal(bs.mounts.size, 0);
    });
  });
}
