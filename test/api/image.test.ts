import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { KumoError } from '../../src/errors.js';
import { newImageId } from '../../src/image/context.js';
import type { ImageDeps } from '../../src/image/context.js';
import { createImageFromFile, imageFilePath, openImageData, recoverImageStore } from '../../src/image/image-data.js';
import { createImage, findImage } from '../../src/image/images.js';
import { createSilentLogger } from '../../src/log.js';
import { ChangeSignal } from '../../src/store/revision.js';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const G = '/image/v2';
const PATCH = 'application/openstack-images-v2.1-json-patch';
const CAP = 3 * 1024 * 1024;

/** A qcow2 header (magic, version 3, cluster bits 16) declaring `virtual` bytes, then `rest` bytes of payload. */
function qcow2(virtual: bigint, rest: number): Buffer {
  const header = Buffer.alloc(512);
  header.writeUInt32BE(0x514649fb, 0);
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(16, 20);
  header.writeBigUInt64BE(virtual, 24);
  return Buffer.concat([header, randomBytes(rest)]);
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

for (const dialect of DIALECTS) {
  describe(`image API (Glance v2) (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let alice: string;
    let aliceProject: string;
    let bob: string;
    let bobProject: string;
    before(async () => {
      k = await startTestKumo(dialect, { maxImageSizeBytes: CAP });
      admin = await k.adminToken();
      ({ token: alice, projectId: aliceProject } = await k.member('img-a', 'alice'));
      ({ token: bob, projectId: bobProject } = await k.member('img-b', 'bob'));
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const api = (method: string, path: string, token: string, opts: { body?: unknown; headers?: Record<string, string>; payload?: Buffer | Readable } = {}) =>
      k.kumo.app.inject({
        method: method as 'GET',
        url: `${G}${path}`,
        headers: {
          'x-auth-token': token,
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(opts.payload !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
          ...(opts.headers ?? {}),
        },
        payload: opts.payload ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
      });
    const create = async (token: string, body: Record<string, unknown>) => {
      const res = await api('POST', '/images', token, { body });
      assert.equal(res.statusCode, 201, res.body);
      return json(res.body);
    };
    const show = async (id: string, token = alice) => json((await api('GET', `/images/${id}`, token)).body);
    const patch = (id: string, token: string, ops: unknown, contentType = PATCH) =>
      api('PATCH', `/images/${id}`, token, { headers: { 'content-type': contentType }, payload: Buffer.from(JSON.stringify(ops)) });
    const jsonError = (res: { body: string }) => json(res.body) as { code: string; title: string; message: string };
    const imagesDir = () => join(k.config.dataDir, 'glance-images');
    const leftovers = () => (existsSync(imagesDir()) ? readdirSync(imagesDir()).filter((f) => f.startsWith('.upload-')) : []);
    const listIds = async (token: string, query = '') => (json((await api('GET', `/images${query}`, token)).body).images as { id: string }[]).map((i) => i.id);

    test('version discovery: anonymous, 300 at the root and 200 at /versions, self links under /image', async () => {
      const root = await k.request('GET', '/image');
      assert.equal(root.statusCode, 300);
      const doc = json(root.body);
      assert.deepEqual([doc.versions[0].id, doc.versions[0].status], ['v2.16', 'CURRENT']);
      assert.equal(doc.versions[0].links[0].href, `${k.config.publicUrl}/image/v2/`);
      assert.ok(doc.versions.every((v: { links: { rel: string }[] }) => v.links[0].rel === 'self'));
      assert.equal((await k.request('GET', '/image/versions')).statusCode, 200);
      const catalog = json((await k.request('GET', '/identity/v3/auth/catalog', { token: alice })).body).catalog;
      assert.equal(catalog.find((s: { type: string }) => s.type === 'image').endpoints[0].url, `${k.config.publicUrl}/image`);
      assert.equal((await k.request('GET', `${G}/images`)).statusCode, 401);
    });

    test('create, upload past the global body limit, show and download round trip with checksums', async () => {
      const withHeader = await api('POST', '/images', alice, { body: { name: 'header' } });
      assert.equal(withHeader.headers['openstack-image-import-methods'], 'glance-direct', 'openstacksdk reads it before `image create --import`');
      assert.equal(withHeader.headers.location, `${k.config.publicUrl}/image/v2/images/${json(withHeader.body).id}`);
      const created = await create(alice, {
        name: 'cirros', disk_format: 'qcow2', container_format: 'bare', 'owner_specified.openstack.md5': '', hw_disk_bus: 'scsi', tags: ['t1'],
      });
      assert.equal(created.status, 'queued');
      assert.equal(created.visibility, 'shared');
      assert.equal(created.owner, aliceProject);
      assert.equal(created.hw_disk_bus, 'scsi');
      assert.equal(created['owner_specified.openstack.md5'], '');
      assert.deepEqual(created.tags, ['t1']);
      for (const key of ['checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size']) assert.equal(created[key], null, key);
      assert.deepEqual([created.self, created.file, created.schema], [`/v2/images/${created.id}`, `/v2/images/${created.id}/file`, '/v2/schemas/image']);
      assert.deepEqual([created.protected, created.os_hidden, created.min_ram, created.min_disk], [false, false, 0, 0]);
      assert.match(created.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      const data = qcow2(1024n ** 3n, 2 * 1024 * 1024);
      const up = await api('PUT', `/images/${created.id}/file`, alice, { payload: data });
      assert.equal(up.statusCode, 204, up.body);
      const active = await show(created.id);
      assert.equal(active.status, 'active');
      assert.equal(active.size, data.length);
      assert.equal(active.virtual_size, 1024 ** 3);
      assert.equal(active.checksum, md5(data));
      assert.equal(active.os_hash_algo, 'sha512');
      assert.equal(active.os_hash_value, sha512(data));

      const down = await api('GET', `/images/${created.id}/file`, alice);
      assert.equal(down.statusCode, 200);
      assert.equal(down.headers['content-type'], 'application/octet-stream');
      assert.equal(down.headers['content-md5'], md5(data));
      assert.equal(Number(down.headers['content-length']), data.length);
      assert.ok(down.rawPayload.equals(data));
      const part = await api('GET', `/images/${created.id}/file`, alice, { headers: { range: 'bytes=10-19' } });
      assert.equal(part.statusCode, 206);
      assert.equal(part.headers['content-range'], `bytes 10-19/${data.length}`);
      assert.ok(part.rawPayload.equals(data.subarray(10, 20)));

      const again = await api('PUT', `/images/${created.id}/file`, alice, { payload: Buffer.from('other') });
      assert.equal(again.statusCode, 409);
      assert.equal((await show(created.id)).checksum, md5(data), 'a second upload changes nothing');
      assert.ok((await api('GET', `/images/${created.id}/file`, alice)).rawPayload.equals(data));

      const raw = await create(alice, { name: 'raw-one', disk_format: 'raw', container_format: 'bare' });
      assert.equal((await api('PUT', `/images/${raw.id}/file`, alice, { payload: Buffer.from('0123456789') })).statusCode, 204);
      assert.equal((await show(raw.id)).virtual_size, 10);
      const queued = await create(alice, { name: 'no-data', disk_format: 'raw', container_format: 'bare' });
      assert.equal((await api('GET', `/images/${queued.id}/file`, alice)).statusCode, 204, 'an image without data has no content');
    });

    test('uploads that fail leave the image queued and no partial file; too large is 413', async () => {
      const img = await create(alice, { name: 'big', disk_format: 'raw', container_format: 'bare' });
      const declared = await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.alloc(CAP + 1) });
      assert.equal(declared.statusCode, 413);
      assert.match(declared.body, /too large/);
      // Chunked (no length): refused while streaming.
      const chunks = Readable.from((function* () { for (let i = 0; i < 4; i++) yield Buffer.alloc(1024 * 1024, i); })());
      const streamed = await api('PUT', `/images/${img.id}/file`, alice, { payload: chunks });
      assert.equal(streamed.statusCode, 413);
      // A client that goes away mid-upload, over a real socket.
      await k.kumo.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = k.kumo.app.server.address() as { port: number };
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: `${G}/images/${img.id}/file`, headers: { 'x-auth-token': alice, 'content-type': 'application/octet-stream', 'content-length': String(2 * 1024 * 1024) } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(256 * 1024, 7), () => setTimeout(() => { req.destroy(); resolve(); }, 50));
      });
      for (let i = 0; i < 200 && (await show(img.id)).status !== 'queued'; i++) await new Promise((r) => setTimeout(r, 20));
      const after = await show(img.id);
      assert.equal(after.status, 'queued');
      assert.equal(after.size, null);
      assert.deepEqual(leftovers(), []);
      assert.equal(existsSync(join(imagesDir(), img.id)), false);
      const wrongType = await api('PUT', `/images/${img.id}/file`, alice, { body: { data: 'x' } });
      assert.equal(wrongType.statusCode, 415, 'image data is octet-stream only');
      assert.equal((await show(img.id)).status, 'queued');
      // Deleted while its data is arriving: the upload ends with 410 and leaves no file.
      const doomed = await create(alice, { name: 'doomed', disk_format: 'raw', container_format: 'bare' });
      const answer = new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: `${G}/images/${doomed.id}/file`, headers: { 'x-auth-token': alice, 'content-type': 'application/octet-stream', 'content-length': '8192' } });
        req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.write(Buffer.alloc(4096, 1));
        void (async () => {
          for (let i = 0; i < 200 && (await show(doomed.id)).status !== 'saving'; i++) await new Promise((r) => setTimeout(r, 20));
          assert.equal((await api('DELETE', `/images/${doomed.id}`, alice)).statusCode, 204);
          req.end(Buffer.alloc(4096, 2));
        })().catch(reject);
      });
      assert.equal(await answer, 410);
      assert.equal(existsSync(join(imagesDir(), doomed.id)), false);
      assert.deepEqual(leftovers(), []);
      const ok = await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.from('fine') });
      assert.equal(ok.statusCode, 204, 'a queued image takes a new upload');
      assert.equal((await show(img.id)).checksum, md5(Buffer.from('fine')));
    });

    test('missing images and bad ids are 404 in Glance\'s shape (HTML by default, JSON when asked)', async () => {
      const missing = '00000000-0000-4000-8000-000000000000';
      const html = await api('GET', `/images/${missing}`, alice);
      assert.equal(html.statusCode, 404);
      assert.match(String(html.headers['content-type']), /text\/html/);
      assert.match(html.body, /<h1>404 Not Found<\/h1>/);
      assert.match(html.body, new RegExp(`No image found with ID ${missing}`));
      const asJson = await api('GET', `/images/${missing}`, alice, { headers: { accept: 'application/json' } });
      assert.deepEqual(jsonError(asJson), { code: '404 Not Found', title: 'Not Found', message: `No image found with ID ${missing}` });
      assert.equal((await api('PUT', `/images/${missing}/file`, alice, { payload: Buffer.from('x') })).statusCode, 404);
      assert.equal((await api('GET', '/images/cirros', alice)).statusCode, 404, 'lookup by name in the path is a 404 (clients then list by name)');
      const emptyId = await api('GET', '/images/', alice, { headers: { accept: 'application/json' } });
      assert.equal(emptyId.statusCode, 404, 'an empty id is a show, not the list');
      assert.equal(jsonError(emptyId).message, 'No image found with ID ');
      assert.equal((await api('GET', '/images', alice)).statusCode, 200);
      assert.equal((await api('DELETE', `/images/${missing}`, alice)).statusCode, 404);
      assert.deepEqual(leftovers(), []);
    });

    test('AMI-style formats mix freely with others, as in Glance v2 (only v1 refused that)', async () => {
      for (const [container_format, disk_format] of [['ami', 'raw'], ['aki', 'qcow2'], ['bare', 'ari']]) {
        const img = await create(alice, { name: `mix-${container_format}-${disk_format}`, container_format, disk_format });
        assert.deepEqual([img.container_format, img.disk_format], [container_format, disk_format]);
      }
    });

    test('bad create bodies: clear errors, nothing created', async () => {
      const before = await listIds(admin, '?visibility=all&limit=1000');
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ name: 'x', disk_format: 'vhdz' }, 400, /'vhdz'|"vhdz" is not one of/],
        [{ name: 'x', container_format: 'zip' }, 400, /"zip" is not one of/],
        [{ name: 'x', visibility: 'everyone' }, 400, /"everyone" is not one of/],
        [{ name: 'x', min_ram: 'lots' }, 400, /integer/],
        [{ name: 'x', min_disk: -1 }, 400, /negative/],
        [{ name: 'x', protected: 'yes' }, 400, /boolean/],
        [{ name: 'x', tags: 'a,b' }, 400, /array/],
        [{ name: 'x', hw_video_model: 3 }, 400, /string/],
        [{ name: 'x', id: 'not-a-uuid' }, 400, /UUID/],
        [{ name: 'x', status: 'active' }, 403, /Attribute 'status' is read-only/],
        [{ name: 'x', checksum: 'abc' }, 403, /read-only/],
        [{ name: 'x', self: '/x' }, 403, /read-only/],
        [{ name: 'x', deleted: 'true' }, 403, /Attribute 'deleted' is reserved/],
        [{ name: 'x', os_glance_import_task: 'x' }, 403, /reserved/],
        [{ name: 'x', visibility: 'public' }, 403, /publicize_image/],
        [{ name: 'x', owner: bobProject }, 403, /not permitted to create images owned by/],
      ];
      for (const [body, status, message] of cases) {
        const res = await api('POST', '/images', alice, { body, headers: { accept: 'application/json' } });
        assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
        assert.match(jsonError(res).message, message, JSON.stringify(body));
      }
      assert.equal((await api('POST', '/images', alice, { headers: { 'content-type': 'application/json' }, payload: Buffer.from('{bad') })).statusCode, 400);
      assert.deepEqual(await listIds(admin, '?visibility=all&limit=1000'), before);
    });

    test('JSON-patch: add/replace/remove properties and attributes; bad patches change nothing', async () => {
      const img = await create(alice, { name: 'patchme', disk_format: 'raw', container_format: 'bare', kernel_id: '11111111-2222-4333-8444-555555555555' });
      const res = await patch(img.id, alice, [
        { op: 'replace', path: '/name', value: 'patched' },
        { op: 'add', path: '/hw_qemu_guest_agent', value: 'yes' },
        { op: 'replace', path: '/min_ram', value: 512 },
        { op: 'add', path: '/tags', value: ['a', 'b'] },
        { op: 'remove', path: '/kernel_id' },
        { op: 'replace', path: '/protected', value: true },
        { op: 'replace', path: '/visibility', value: 'private' },
      ]);
      assert.equal(res.statusCode, 200, res.body);
      const v = json(res.body);
      assert.deepEqual([v.name, v.hw_qemu_guest_agent, v.min_ram, v.tags, v.kernel_id, v.protected, v.visibility], ['patched', 'yes', 512, ['a', 'b'], undefined, true, 'private']);
      // Draft-4 form (v2.0 media type).
      const d4 = await patch(img.id, alice, [{ replace: '/min_disk', value: 2 }], 'application/openstack-images-v2.0-json-patch');
      assert.equal(d4.statusCode, 200, d4.body);
      assert.equal(json(d4.body).min_disk, 2);

      const before = await show(img.id);
      const bad: [unknown, number, RegExp, string?][] = [
        [[{ op: 'move', path: '/name', value: 'x' }], 400, /Invalid operation: `move`/],
        [[{ path: '/name', value: 'x' }], 400, /Unable to find `op`/],
        [[{ op: 'replace', value: 'x' }], 400, /Unable to find 'path'/],
        [[{ op: 'replace', path: 'name', value: 'x' }], 400, /does not start with/],
        [[{ op: 'replace', path: '/name' }], 400, /requires a member named "value"/],
        [[{ op: 'replace', path: '/a/b', value: 'x' }], 400, /Invalid JSON pointer/],
        [{ op: 'replace', path: '/name', value: 'x' }, 400, /JSON array/],
        [[{ op: 'replace', path: '/name', value: 'ok' }, { op: 'replace', path: '/disk_format', value: 'floppy' }], 400, /"floppy" is not one of/],
        [[{ op: 'replace', path: '/name', value: 'ok' }, { op: 'replace', path: '/status', value: 'active' }], 403, /read-only/],
        [[{ op: 'remove', path: '/name' }], 403, /may not be removed/],
        [[{ op: 'replace', path: '/id', value: '11111111-2222-4333-8444-555555555555' }], 403, /Attribute 'id' is read-only/],
        [[{ op: 'replace', path: '/name', value: 'ok' }, { op: 'replace', path: '/nothere', value: 'x' }], 409, /Property nothere does not exist/],
        [[{ op: 'remove', path: '/nothere' }], 409, /does not exist/],
        [[{ op: 'replace', path: '/visibility', value: 'public' }], 403, /publicize_image/],
        [[{ op: 'replace', path: '/owner', value: bobProject }], 403, /Owner can't be updated by non admin/],
        [[{ op: 'replace', path: '/name', value: 'x' }], 415, /Image PATCH expects Content-Type/, 'application/json'],
      ];
      for (const [ops, status, message, type] of bad) {
        const r = await api('PATCH', `/images/${img.id}`, alice, { headers: { 'content-type': type ?? PATCH, accept: 'application/json' }, payload: Buffer.from(JSON.stringify(ops)) });
        assert.equal(r.statusCode, status, `${JSON.stringify(ops)}: ${r.body}`);
        assert.match(jsonError(r).message, message, JSON.stringify(ops));
      }
      assert.deepEqual(await show(img.id), before, 'failed patches changed nothing');
      assert.equal((await patch(img.id, bob, [{ op: 'replace', path: '/name', value: 'x' }])).statusCode, 404, 'another project\'s private image does not exist for it');
      await patch(img.id, alice, [{ op: 'replace', path: '/protected', value: false }]);
      assert.equal((await api('PATCH', `/images/${img.id}`, alice, { headers: { 'content-type': PATCH }, payload: Buffer.from('[{"op": "replace", "path": "/name", "value": "y"}') })).statusCode, 400);
      // Formats may change only while queued.
      await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.from('data') });
      const fmt = await patch(img.id, alice, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]);
      assert.equal(fmt.statusCode, 403);
    });

    test('tags: add, idempotent add, remove, removing a missing tag is 404', async () => {
      const img = await create(alice, { name: 'tagged' });
      assert.equal((await api('PUT', `/images/${img.id}/tags/blue`, alice)).statusCode, 204);
      assert.equal((await api('PUT', `/images/${img.id}/tags/blue`, alice)).statusCode, 204);
      assert.equal((await api('PUT', `/images/${img.id}/tags/green`, alice)).statusCode, 204);
      assert.deepEqual((await show(img.id)).tags, ['blue', 'green']);
      assert.equal((await api('DELETE', `/images/${img.id}/tags/blue`, alice)).statusCode, 204);
      assert.equal((await api('DELETE', `/images/${img.id}/tags/blue`, alice)).statusCode, 404);
      assert.deepEqual((await show(img.id)).tags, ['green']);
      assert.equal((await api('PUT', `/images/${img.id}/tags/${'x'.repeat(256)}`, alice)).statusCode, 400);
      assert.deepEqual((await show(img.id)).tags, ['green']);
    });

    test('list: filters, sorting, pagination with marker and next', async () => {
      const mk = async (name: string, extra: Record<string, unknown> = {}) => (await create(bob, { name, disk_format: 'raw', container_format: 'bare', ...extra })).id as string;
      const ids: string[] = [];
      for (const n of ['l-c', 'l-a', 'l-e', 'l-b', 'l-d']) {
        ids.push(await mk(n, { tags: n === 'l-a' || n === 'l-b' ? ['gold'] : [], os_distro: n === 'l-e' ? 'debian' : 'ubuntu' }));
        k.advance(1000);
      }
      const hidden = await mk('l-hidden', { os_hidden: true });
      await api('PUT', `/images/${ids[1]}/file`, bob, { payload: Buffer.alloc(100) });
      await api('PUT', `/images/${ids[3]}/file`, bob, { payload: Buffer.alloc(300) });
      const names = async (query: string) => (json((await api('GET', `/images${query}`, bob)).body).images as { name: string }[]).map((i) => i.name);

      assert.deepEqual(await names('?sort_key=name&sort_dir=asc'), ['l-a', 'l-b', 'l-c', 'l-d', 'l-e']);
      assert.deepEqual(await names(''), ['l-d', 'l-b', 'l-e', 'l-a', 'l-c'], 'default: newest first');
      assert.deepEqual(await names('?sort=name:desc'), ['l-e', 'l-d', 'l-c', 'l-b', 'l-a']);
      assert.deepEqual(await names('?sort=size:asc,name:asc'), ['l-c', 'l-d', 'l-e', 'l-a', 'l-b']);
      assert.deepEqual(await names('?name=l-c'), ['l-c']);
      assert.deepEqual(await names('?name=in:l-a,l-e&sort_key=name&sort_dir=asc'), ['l-a', 'l-e']);
      assert.deepEqual(await names(`?id=in:${ids[0]},${ids[2]}&sort_key=name&sort_dir=asc`), ['l-c', 'l-e']);
      assert.deepEqual(await names('?status=active&sort_key=name&sort_dir=asc'), ['l-a', 'l-b']);
      assert.deepEqual(await names('?tag=gold&sort_key=name&sort_dir=asc'), ['l-a', 'l-b']);
      assert.deepEqual(await names('?size_min=200'), ['l-b']);
      assert.deepEqual(await names('?size_max=200'), ['l-a']);
      assert.deepEqual(await names('?os_distro=debian'), ['l-e'], 'unknown keys filter on properties');
      assert.deepEqual(await names('?os_hidden=true'), ['l-hidden']);
      assert.deepEqual(await names('?os_hidden=True'), ['l-hidden'], 'openstacksdk sends Python booleans');
      assert.deepEqual(await names(`?owner=${bobProject}&disk_format=raw&container_format=bare&sort_key=name&sort_dir=asc`), ['l-a', 'l-b', 'l-c', 'l-d', 'l-e']);
      const created = (await show(ids[2], bob)).created_at as string;
      assert.deepEqual(await names(`?created_at=gte:${created}&sort_key=name&sort_dir=asc`), ['l-b', 'l-d', 'l-e']);
      assert.deepEqual(await names(`?created_at=lt:${created}&sort_key=name&sort_dir=asc`), ['l-a', 'l-c']);
      assert.ok(!(await names('')).includes('l-hidden'), 'hidden images are not listed by default');
      assert.ok(hidden);

      const page1 = json((await api('GET', '/images?limit=2&sort_key=name&sort_dir=asc', bob)).body);
      assert.deepEqual(page1.images.map((i: { name: string }) => i.name), ['l-a', 'l-b']);
      assert.equal(page1.first, '/v2/images');
      assert.equal(page1.schema, '/v2/schemas/images');
      assert.match(page1.next, /^\/v2\/images\?/);
      const page2 = json((await api('GET', page1.next.replace('/v2/images', '/images'), bob)).body);
      assert.deepEqual(page2.images.map((i: { name: string }) => i.name), ['l-c', 'l-d']);
      const page3 = json((await api('GET', page2.next.replace('/v2/images', '/images'), bob)).body);
      assert.deepEqual(page3.images.map((i: { name: string }) => i.name), ['l-e']);
      assert.equal(page3.next, undefined);

      for (const [query, message] of [
        ['?limit=x', /limit param must be an integer/], ['?limit=-1', /positive/], ['?sort_key=owner', /Invalid sort key/],
        ['?sort_dir=up', /Invalid sort direction/], ['?sort=name&sort_key=name', /cannot be combined/], ['?visibility=world', /Invalid visibility value/],
        ['?marker=00000000-0000-4000-8000-000000000000', /Marker/], ['?size_min=big', /non-numeric/], ['?created_at=gt:yesterday', /ISO 8601/],
        ['?name=like:x', /unknown operator/], ['?protected=maybe', /Valid values are 'true' or 'false'/], ['?member_status=maybe', /Invalid status/],
      ] as const) {
        const r = await api('GET', `/images${query}`, bob, { headers: { accept: 'application/json' } });
        assert.equal(r.statusCode, 400, query);
        assert.match(jsonError(r).message, message, query);
      }
    });

    test('visibility: private, shared with members, public by admins only, community', async () => {
      const priv = await create(alice, { name: 'vis-private', visibility: 'private' });
      const shared = await create(alice, { name: 'vis-shared' });
      const community = await create(alice, { name: 'vis-community', visibility: 'community' });
      const pub = await create(admin, { name: 'vis-public', visibility: 'public' });
      assert.equal((await api('GET', `/images/${priv.id}`, bob)).statusCode, 404);
      assert.equal((await api('GET', `/images/${shared.id}`, bob)).statusCode, 404, 'shared, but not with bob yet');
      assert.equal((await api('GET', `/images/${pub.id}`, bob)).statusCode, 200);
      assert.equal((await api('GET', `/images/${community.id}`, bob)).statusCode, 200);
      const bobSees = await listIds(bob);
      assert.ok(bobSees.includes(pub.id));
      assert.ok(!bobSees.includes(priv.id) && !bobSees.includes(shared.id));
      assert.ok(!bobSees.includes(community.id), 'community images are listed only when asked for');
      assert.deepEqual(await listIds(bob, '?visibility=community'), [community.id]);
      assert.ok((await listIds(alice)).includes(community.id), 'the owner lists its community images');
      assert.ok((await listIds(admin)).includes(priv.id), 'admins see every image');
      assert.equal((await api('DELETE', `/images/${pub.id}`, bob)).statusCode, 403, 'a public image is not bob\'s to delete');
      assert.equal((await patch(pub.id, bob, [{ op: 'replace', path: '/name', value: 'mine' }])).statusCode, 403);
      assert.equal((await api('PUT', `/images/${community.id}/file`, bob, { payload: Buffer.from('x') })).statusCode, 403);
      assert.equal((await show(community.id)).status, 'queued');
    });

    test('members: the owner shares, the member accepts, only then is it listed; rules on who may do what', async () => {
      const img = await create(alice, { name: 'to-share', disk_format: 'raw', container_format: 'bare' });
      await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.from('shared data') });
      const priv = await create(alice, { name: 'not-shared', visibility: 'private' });
      assert.equal((await api('POST', `/images/${priv.id}/members`, alice, { body: { member: bobProject } })).statusCode, 403, 'only shared images have members');
      for (const [body, message] of [[{}, /not specified/], [{ member: '' }, /can't be empty/], [{ member: 5 }, /Expected a member/]] as const) {
        const r = await api('POST', `/images/${img.id}/members`, alice, { body, headers: { accept: 'application/json' } });
        assert.equal(r.statusCode, 400);
        assert.match(jsonError(r).message, message);
      }
      const added = await api('POST', `/images/${img.id}/members`, alice, { body: { member: bobProject } });
      assert.equal(added.statusCode, 200, added.body);
      const m = json(added.body);
      assert.deepEqual([m.image_id, m.member_id, m.status, m.schema], [img.id, bobProject, 'pending', '/v2/schemas/member']);
      assert.equal((await api('POST', `/images/${img.id}/members`, alice, { body: { member: bobProject } })).statusCode, 409);

      assert.equal((await api('GET', `/images/${img.id}`, bob)).statusCode, 200, 'a member sees the image');
      assert.ok(!(await listIds(bob)).includes(img.id), 'but it is listed only once accepted');
      assert.ok((await listIds(bob, '?member_status=pending')).includes(img.id));
      assert.equal((await api('PUT', `/images/${img.id}/members/${bobProject}`, alice, { body: { status: 'accepted' } })).statusCode, 403, 'the owner cannot answer for the member');
      assert.equal((await api('PUT', `/images/${img.id}/members/${bobProject}`, bob, { body: { status: 'maybe' } })).statusCode, 400);
      assert.equal((await api('POST', `/images/${img.id}/members`, bob, { body: { member: 'someone' } })).statusCode, 403, 'only the owner adds members');
      const accepted = await api('PUT', `/images/${img.id}/members/${bobProject}`, bob, { body: { status: 'accepted' } });
      assert.equal(json(accepted.body).status, 'accepted');
      assert.ok((await listIds(bob)).includes(img.id));
      assert.ok((await api('GET', `/images/${img.id}/file`, bob)).rawPayload.equals(Buffer.from('shared data')));
      assert.deepEqual(json((await api('GET', `/images/${img.id}/members`, alice)).body).members.map((x: { member_id: string }) => x.member_id), [bobProject]);
      assert.equal(json((await api('GET', `/images/${img.id}/members`, alice)).body).schema, '/v2/schemas/members');
      assert.equal(json((await api('GET', `/images/${img.id}/members/${bobProject}`, bob)).body).status, 'accepted');
      await patch(img.id, alice, [{ op: 'replace', path: '/visibility', value: 'private' }]);
      assert.equal((await api('GET', `/images/${img.id}`, bob)).statusCode, 404, 'members count only while the image is shared');
      await patch(img.id, alice, [{ op: 'replace', path: '/visibility', value: 'shared' }]);
      assert.ok((await listIds(bob)).includes(img.id), 'shared again: the accepted membership is back');
      assert.equal((await api('DELETE', `/images/${img.id}/members/${bobProject}`, bob)).statusCode, 403, 'the member cannot remove itself');
      assert.equal((await api('DELETE', `/images/${img.id}/members/${bobProject}`, alice)).statusCode, 204);
      assert.equal((await api('GET', `/images/${img.id}`, bob)).statusCode, 404);
      assert.equal((await api('GET', `/images/${img.id}/members/${bobProject}`, alice)).statusCode, 404);
    });

    test('protected images cannot be deleted; delete removes the record and the data', async () => {
      const img = await create(alice, { name: 'keep', disk_format: 'raw', container_format: 'bare', protected: true });
      await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.from('keep me') });
      const refused = await api('DELETE', `/images/${img.id}`, alice, { headers: { accept: 'application/json' } });
      assert.equal(refused.statusCode, 403);
      assert.match(jsonError(refused).message, /is protected and cannot be deleted/);
      assert.equal((await show(img.id)).status, 'active');
      assert.ok(existsSync(join(imagesDir(), img.id)));
      await patch(img.id, alice, [{ op: 'replace', path: '/protected', value: false }]);
      assert.equal((await api('DELETE', `/images/${img.id}`, alice)).statusCode, 204);
      assert.equal((await api('GET', `/images/${img.id}`, alice)).statusCode, 404);
      assert.equal(existsSync(join(imagesDir(), img.id)), false);
    });

    test('deactivate and reactivate: data is admin-only while deactivated', async () => {
      const img = await create(alice, { name: 'deact', disk_format: 'raw', container_format: 'bare' });
      assert.equal((await api('POST', `/images/${img.id}/actions/deactivate`, alice)).statusCode, 403, 'a queued image cannot be deactivated');
      await api('PUT', `/images/${img.id}/file`, alice, { payload: Buffer.from('abc') });
      assert.equal((await api('POST', `/images/${img.id}/actions/deactivate`, alice)).statusCode, 204);
      assert.equal((await show(img.id)).status, 'deactivated');
      assert.equal((await api('GET', `/images/${img.id}/file`, alice)).statusCode, 403);
      assert.equal((await api('GET', `/images/${img.id}/file`, admin)).statusCode, 200);
      assert.equal((await api('POST', `/images/${img.id}/actions/reactivate`, alice)).statusCode, 204);
      assert.ok((await api('GET', `/images/${img.id}/file`, alice)).rawPayload.equals(Buffer.from('abc')));
    });

    test('import: glance-direct stages, then imports; discovery of methods and stores', async () => {
      assert.deepEqual(json((await api('GET', '/info/import', alice)).body)['import-methods'].value, ['glance-direct']);
      assert.equal(json((await api('GET', '/info/stores', alice)).body).stores[0].id, 'local');
      const img = await create(alice, { name: 'imported', disk_format: 'raw', container_format: 'bare' });
      const early = await api('POST', `/images/${img.id}/import`, alice, { body: { method: { name: 'glance-direct' } } });
      assert.equal(early.statusCode, 409, 'nothing staged yet');
      const data = randomBytes(1500 * 1024);
      assert.equal((await api('PUT', `/images/${img.id}/stage`, alice, { payload: data })).statusCode, 204);
      const staged = await show(img.id);
      assert.equal(staged.status, 'uploading');
      assert.equal(staged.stores, undefined, 'staged data is not in a store yet');
      for (const [body, message] of [
        [{}, /requires a 'method' field/], [{ method: {} }, /requires a 'name' field/], [{ method: { name: 'web-download' } }, /Unknown import method name 'web-download'/],
        [{ method: { name: 'glance-direct' }, all_stores: 'yes' }, /must be boolean/],
      ] as const) {
        const r = await api('POST', `/images/${img.id}/import`, alice, { body, headers: { accept: 'application/json' } });
        assert.equal(r.statusCode, 400);
        assert.match(jsonError(r).message, message);
      }
      assert.equal((await show(img.id)).status, 'uploading', 'refused imports change nothing');
      assert.deepEqual(json((await api('GET', `/images/${img.id}/tasks`, alice)).body).tasks, [], 'refused imports leave no task');
      const imported = await api('POST', `/images/${img.id}/import`, alice, { body: { method: { name: 'glance-direct' } } });
      assert.equal(imported.statusCode, 202);
      const tasks = json((await api('GET', `/images/${img.id}/tasks`, alice)).body).tasks;
      assert.equal(tasks.length, 1);
      assert.deepEqual([tasks[0].type, tasks[0].status, tasks[0].image_id, tasks[0].owner, tasks[0].request_id, tasks[0].input.import_req.method.name, tasks[0].result],
        ['api_image_import', 'success', img.id, aliceProject, imported.headers['x-openstack-request-id'], 'glance-direct', { image_id: img.id }]);
      assert.ok(Date.parse(tasks[0].expires_at) > Date.parse(tasks[0].created_at));
      assert.equal((await api('GET', `/images/${img.id}/tasks`, bob)).statusCode, 404, "another project's private image");
      const done = await show(img.id);
      assert.deepEqual([done.status, done.size, done.checksum, done.os_hash_value, done.stores], ['active', data.length, md5(data), sha512(data), 'local']);
      assert.ok((await api('GET', `/images/${img.id}/file`, alice)).rawPayload.equals(data));
      assert.equal((await api('DELETE', `/images/${img.id}`, alice)).statusCode, 204, 'an image with tasks deletes');
      assert.equal((await api('GET', `/images/${img.id}/tasks`, alice)).statusCode, 404);
    });

    test('the functions other services call: findImage, createImageFromFile, openImageData, imageFilePath', async () => {
      const deps: ImageDeps = {
        db: k.kumo.db, config: k.config, logger: createSilentLogger(), now: Date.now, newId: newImageId, changes: new ChangeSignal(), imagesDir: k.kumo.paths.glanceImagesDir,
      };
      const asAlice = { projectId: aliceProject, userId: 'alice', isAdmin: false };
      const asBob = { projectId: bobProject, userId: 'bob', isAdmin: false };
      const source = join(k.config.dataDir, 'snapshot-source');
      const data = randomBytes(200 * 1024);
      writeFileSync(source, data);
      const snap = await createImageFromFile(deps, asAlice, { name: 'snap-1', disk_format: 'raw', container_format: 'bare', visibility: 'private', properties: { image_type: 'snapshot' } }, source);
      assert.deepEqual([snap.status, snap.size, snap.checksum, snap.properties.image_type], ['active', data.length, md5(data), 'snapshot']);
      assert.ok(existsSync(source), 'the source file is read, not moved');
      const found = await findImage(deps, asAlice, 'snap-1');
      assert.equal(found.id, snap.id);
      assert.equal((await findImage(deps, asAlice, snap.id.toUpperCase())).id, snap.id);
      await assert.rejects(findImage(deps, asBob, 'snap-1'), (e: KumoError) => e.status === 404);
      await assert.rejects(findImage(deps, asBob, snap.id), (e: KumoError) => e.status === 404);
      const colon = await createImage(deps, asAlice, { name: 'debian:12' });
      assert.equal((await findImage(deps, asAlice, 'debian:12')).id, colon.id);
      await createImage(deps, asAlice, { name: 'snap-1' });
      await assert.rejects(findImage(deps, asAlice, 'snap-1'), (e: KumoError) => e.status === 409);
      const opened = await openImageData(deps, asAlice, snap.id);
      assert.ok(opened);
      const chunks: Buffer[] = [];
      for await (const c of opened.stream) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.ok(readFileSync(imageFilePath(deps, snap.id)).equals(data));
    });

    test('start-up recovery: interrupted uploads are reset and files no image owns are removed', async () => {
      const deps: ImageDeps = {
        db: k.kumo.db, config: k.config, logger: createSilentLogger(), now: Date.now, newId: newImageId, changes: new ChangeSignal(), imagesDir: k.kumo.paths.glanceImagesDir,
      };
      const saving = await create(alice, { name: 'crashed-upload', disk_format: 'raw', container_format: 'bare' });
      const importing = await create(alice, { name: 'crashed-import', disk_format: 'raw', container_format: 'bare' });
      await api('PUT', `/images/${importing.id}/stage`, alice, { payload: Buffer.from('staged bytes') });
      const kept = await create(alice, { name: 'kept', disk_format: 'raw', container_format: 'bare' });
      await api('PUT', `/images/${kept.id}/file`, alice, { payload: Buffer.from('kept bytes') });
      // What a crash leaves: rows mid-transition, a temp file, the data of an image whose row is gone.
      await k.kumo.db.updateTable('image').set({ status: 'saving' }).where('id', '=', saving.id).execute();
      await k.kumo.db.updateTable('image').set({ status: 'importing' }).where('id', '=', importing.id).execute();
      writeFileSync(join(imagesDir(), '.upload-deadbeef'), 'partial');
      const orphan = join(imagesDir(), '99999999-9999-4999-8999-999999999999');
      writeFileSync(orphan, 'nobody owns this');
      await recoverImageStore(deps);
      assert.equal((await show(saving.id)).status, 'queued');
      assert.equal((await show(importing.id)).status, 'uploading', 'the staged data is intact: it can be imported again');
      assert.deepEqual(leftovers(), []);
      assert.equal(existsSync(orphan), false);
      assert.ok((await api('GET', `/images/${kept.id}/file`, alice)).rawPayload.equals(Buffer.from('kept bytes')));
      assert.equal((await api('POST', `/images/${importing.id}/import`, alice, { body: { method: { name: 'glance-direct' } } })).statusCode, 202);
      assert.equal((await show(importing.id)).status, 'active');
    });

    test('schemas: the image schema has nullable types and every visibility', async () => {
      const schema = json((await api('GET', '/schemas/image', alice)).body);
      assert.equal(schema.name, 'image');
      assert.deepEqual(schema.properties.checksum.type, ['null', 'string']);
      assert.deepEqual(schema.properties.visibility.enum, ['public', 'private', 'shared', 'community']);
      assert.deepEqual(schema.additionalProperties, { type: 'string' });
      assert.equal(json((await api('GET', '/schemas/images', alice)).body).properties.images.items.name, 'image');
      assert.equal(json((await api('GET', '/schemas/member', alice)).body).name, 'member');
      assert.equal(json((await api('GET', '/schemas/members', alice)).body).name, 'members');
    });
  });
}
