import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const C = '/compute/v2.1';
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmyIDhpUzt5E1kJHlwYPYRJ8Wp0d6s5fZ5xLw7XoRpk test@kumo';

for (const dialect of DIALECTS) {
  describe(`compute API: versions, flavors, keypairs, quotas (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: { token: string; projectId: string };
    let other: { token: string; projectId: string };
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
      member = await k.member('compute-a', 'carol');
      other = await k.member('compute-b', 'dave');
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const v = (minor: number) => ({ 'openstack-api-version': `compute 2.${minor}` });

    test('version documents, microversion negotiation and the Nova error shape', async () => {
      const root = await k.request('GET', '/compute');
      assert.equal(root.statusCode, 200);
      assert.equal(json(root.body).versions[0].links[0].href, `${k.config.publicUrl}/compute/v2.1/`);
      const doc = json((await k.request('GET', '/compute/v2.1')).body).version;
      assert.equal(doc.version, '2.92');
      assert.equal(doc.min_version, '2.1');
      const echoed = await k.request('GET', `${C}/flavors`, { token: member.token, headers: { 'x-openstack-nova-api-version': '2.60' } });
      assert.equal(echoed.headers['x-openstack-nova-api-version'], '2.60');
      assert.equal(echoed.headers['openstack-api-version'], 'compute 2.60');
      const latest = await k.request('GET', `${C}/flavors`, { token: member.token, headers: { 'openstack-api-version': 'compute latest' } });
      assert.equal(latest.headers['openstack-api-version'], 'compute 2.92');
      const tooNew = await k.request('GET', `${C}/flavors`, { token: member.token, headers: v(93) });
      assert.equal(tooNew.statusCode, 406);
      assert.match(json(tooNew.body).computeFault.message, /Version 2\.93 is not supported by the API\. Minimum is 2\.1 and maximum is 2\.92\./);
      const garbage = await k.request('GET', `${C}/flavors`, { token: member.token, headers: { 'x-openstack-nova-api-version': 'two' } });
      assert.equal(garbage.statusCode, 400);
      const missing = await k.request('GET', `${C}/servers/nope`, { token: member.token });
      assert.deepEqual(json(missing.body), { itemNotFound: { code: 404, message: 'Instance nope could not be found.' } });
      assert.equal((await k.request('GET', `${C}/servers`)).statusCode, 401);
    });

    test('flavors: the seeded ones, create with access, extra specs, the fields OSC reads', async () => {
      const list = json((await k.request('GET', `${C}/flavors/detail?is_public=None`, { token: member.token })).body).flavors;
      const tiny = list.find((f: { name: string }) => f.name === 'm1.tiny');
      assert.equal(tiny.id, '1');
      assert.equal(tiny.swap, '');
      assert.equal(tiny['os-flavor-access:is_public'], true);
      assert.equal(tiny['OS-FLV-EXT-DATA:ephemeral'], 0);
      assert.equal(json((await k.request('GET', `${C}/flavors/1`, { token: member.token, headers: v(75) })).body).flavor.swap, 0);

      const forbidden = await k.request('POST', `${C}/flavors`, { token: member.token, body: { flavor: { name: 'x', ram: 64, vcpus: 1, disk: 1 } } });
      assert.equal(forbidden.statusCode, 403);
      assert.ok(json(forbidden.body).forbidden);
      const created = await k.request('POST', `${C}/flavors`, { token: admin, headers: v(61), body: { flavor: { name: 'priv', ram: 256, vcpus: 2, disk: 2, id: 'priv-1', 'os-flavor-access:is_public': false, description: 'hidden' } } });
      assert.equal(created.statusCode, 200, created.body);
      assert.equal(json(created.body).flavor.description, 'hidden');
      assert.deepEqual(json(created.body).flavor.extra_specs, {});
      assert.equal((await k.request('POST', `${C}/flavors`, { token: admin, body: { flavor: { name: 'priv', ram: 256, vcpus: 2, disk: 2 } } })).statusCode, 409);
      for (const bad of [{ name: 'b', ram: 0, vcpus: 1, disk: 1 }, { name: 'b', ram: 64, vcpus: -1, disk: 1 }, { name: ' lead', ram: 64, vcpus: 1, disk: 1 }, { name: 'b', ram: 'lots', vcpus: 1, disk: 1 }]) {
        const res = await k.request('POST', `${C}/flavors`, { token: admin, body: { flavor: bad } });
        assert.equal(res.statusCode, 400, JSON.stringify(bad));
        assert.ok(json(res.body).badRequest.message);
      }
      assert.equal(json((await k.request('GET', `${C}/flavors?is_public=None`, { token: admin })).body).flavors.filter((f: { name: string }) => f.name === 'b').length, 0, 'bad flavors changed nothing');

      assert.equal((await k.request('GET', `${C}/flavors/priv-1`, { token: member.token })).statusCode, 404, 'private flavor hidden');
      const grant = await k.request('POST', `${C}/flavors/priv-1/action`, { token: admin, body: { addTenantAccess: { tenant: member.projectId } } });
      assert.deepEqual(json(grant.body).flavor_access, [{ flavor_id: 'priv-1', tenant_id: member.projectId }]);
      assert.equal((await k.request('GET', `${C}/flavors/priv-1`, { token: member.token })).statusCode, 200);
      assert.equal((await k.request('GET', `${C}/flavors/priv-1`, { token: other.token })).statusCode, 404);

      const specs = await k.request('POST', `${C}/flavors/priv-1/os-extra_specs`, { token: admin, body: { extra_specs: { 'hw:cpu_policy': 'shared', 'quota:cpu_quota': 5000 } } });
      assert.deepEqual(json(specs.body).extra_specs, { 'hw:cpu_policy': 'shared', 'quota:cpu_quota': '5000' });
      assert.deepEqual(json((await k.request('GET', `${C}/flavors/priv-1/os-extra_specs/hw:cpu_policy`, { token: admin })).body), { 'hw:cpu_policy': 'shared' });
      assert.equal((await k.request('DELETE', `${C}/flavors/priv-1/os-extra_specs/hw:cpu_policy`, { token: admin })).statusCode, 200);
      assert.equal((await k.request('DELETE', `${C}/flavors/priv-1/os-extra_specs/hw:cpu_policy`, { token: admin })).statusCode, 404);
      const shown = json((await k.request('GET', `${C}/flavors/priv-1`, { token: admin, headers: v(61) })).body).flavor;
      assert.deepEqual(shown.extra_specs, { 'quota:cpu_quota': '5000' });

      const page = json((await k.request('GET', `${C}/flavors?limit=2&marker=1`, { token: member.token })).body).flavors;
      assert.equal(page.length, 2);
      assert.ok(page.every((f: { id: string }) => f.id > '1'));
      assert.equal((await k.request('DELETE', `${C}/flavors/priv-1`, { token: admin })).statusCode, 202);
      assert.equal((await k.request('GET', `${C}/flavors/priv-1`, { token: admin })).statusCode, 404);
    });

    test('keypairs: generate (RSA), import ed25519, per-user isolation, bad keys change nothing', async () => {
      const gen = await k.request('POST', `${C}/os-keypairs`, { token: member.token, headers: v(10), body: { keypair: { name: 'gen' } } });
      assert.equal(gen.statusCode, 201, gen.body);
      const kp = json(gen.body).keypair;
      assert.match(kp.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
      assert.match(kp.public_key, /^ssh-rsa AAAAB3NzaC1yc2E/);
      assert.match(kp.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      assert.equal(kp.type, 'ssh');
      const imported = await k.request('POST', `${C}/os-keypairs`, { token: member.token, headers: v(92), body: { keypair: { name: 'ed', public_key: ED25519 } } });
      assert.equal(imported.statusCode, 201, imported.body);
      assert.equal(json(imported.body).keypair.private_key, undefined);
      assert.equal((await k.request('POST', `${C}/os-keypairs`, { token: member.token, headers: v(92), body: { keypair: { name: 'nokey' } } })).statusCode, 400, 'generation is gone at 2.92');
      assert.equal((await k.request('POST', `${C}/os-keypairs`, { token: member.token, body: { keypair: { name: 'ed', public_key: ED25519 } } })).statusCode, 409);
      for (const bad of [{ name: 'bad', public_key: 'ssh-rsa notbase64!' }, { name: 'bad', public_key: 'ssh-ed25519 AAAAC3NzaC1yc2E=' }, { name: 'b/ad', public_key: ED25519 }]) {
        const res = await k.request('POST', `${C}/os-keypairs`, { token: member.token, body: { keypair: bad } });
        assert.equal(res.statusCode, 400, JSON.stringify(bad));
      }
      const names = json((await k.request('GET', `${C}/os-keypairs`, { token: member.token })).body).keypairs.map((x: { keypair: { name: string } }) => x.keypair.name);
      assert.deepEqual(names, ['ed', 'gen']);
      assert.equal((await k.request('GET', `${C}/os-keypairs/ed`, { token: other.token })).statusCode, 404);
      assert.deepEqual(json((await k.request('GET', `${C}/os-keypairs`, { token: other.token })).body).keypairs, []);
      assert.equal((await k.request('DELETE', `${C}/os-keypairs/gen`, { token: member.token, headers: v(2) })).statusCode, 204);
      assert.equal((await k.request('GET', `${C}/os-keypairs/gen`, { token: member.token })).statusCode, 404);
    });

    test('keypairs: generated x509 (2.2 to 2.91) is a self-signed certificate for the user, with its key; it imports back', async () => {
      const gen = await k.request('POST', `${C}/os-keypairs`, { token: member.token, headers: v(2), body: { keypair: { name: 'cert', type: 'x509' } } });
      assert.equal(gen.statusCode, 201, gen.body);
      const kp = json(gen.body).keypair;
      assert.equal(kp.type, 'x509');
      assert.match(kp.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
      const cert = new X509Certificate(kp.public_key);
      assert.match(cert.subject, /^CN=[0-9a-f]{32}$/, "the user id");
      assert.equal(cert.issuer, cert.subject);
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
      assert.ok(cert.checkPrivateKey(createPrivateKey(kp.private_key)), 'the certificate is for the returned key');
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      assert.ok(Date.parse(cert.validTo) - Date.parse(cert.validFrom) > 9 * 365 * 24 * 3600 * 1000);
      assert.equal(kp.fingerprint, cert.fingerprint.toLowerCase());
      const shown = json((await k.request('GET', `${C}/os-keypairs/cert`, { token: member.token, headers: v(2) })).body).keypair;
      assert.deepEqual([shown.type, shown.public_key, shown.fingerprint], ['x509', kp.public_key, kp.fingerprint]);
      const again = await k.request('POST', `${C}/os-keypairs`, { token: member.token, headers: v(2), body: { keypair: { name: 'cert-imported', type: 'x509', public_key: kp.public_key } } });
      assert.equal(json(again.body).keypair.fingerprint, kp.fingerprint, 'importing it gives the same fingerprint');
      for (const name of ['cert', 'cert-imported']) assert.equal((await k.request('DELETE', `${C}/os-keypairs/${name}`, { token: member.token })).statusCode, 202);
    });

    test('quotas and limits: defaults, admin updates, usage in limits', async () => {
      const limits = json((await k.request('GET', `${C}/limits`, { token: member.token })).body).limits.absolute;
      assert.equal(limits.maxTotalInstances, 10);
      assert.equal(limits.totalInstancesUsed, 0);
      assert.equal((await k.request('PUT', `${C}/os-quota-sets/${member.projectId}`, { token: member.token, body: { quota_set: { instances: 1 } } })).statusCode, 403);
      const bad = await k.request('PUT', `${C}/os-quota-sets/${member.projectId}`, { token: admin, body: { quota_set: { instances: -5 } } });
      assert.equal(bad.statusCode, 400);
      const up = await k.request('PUT', `${C}/os-quota-sets/${member.projectId}`, { token: admin, body: { quota_set: { instances: 3, cores: 4 } } });
      assert.equal(json(up.body).quota_set.instances, 3);
      assert.equal(json((await k.request('GET', `${C}/os-quota-sets/${member.projectId}`, { token: member.token })).body).quota_set.cores, 4);
      assert.equal((await k.request('GET', `${C}/os-quota-sets/${member.projectId}`, { token: other.token })).statusCode, 403);
      assert.equal((await k.request('DELETE', `${C}/os-quota-sets/${member.projectId}`, { token: admin })).statusCode, 202);
      assert.equal(json((await k.request('GET', `${C}/os-quota-sets/${member.projectId}`, { token: member.token })).body).quota_set.instances, 10);
    });

    test('quota sets by microversion: the network proxies before 2.36, the injected files before 2.57', async () => {
      const network = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
      const injected = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files'];
      for (const path of ['', '/defaults', '/detail']) {
        const at = async (minor: number) => json((await k.request('GET', `${C}/os-quota-sets/${member.projectId}${path}`, { token: member.token, headers: v(minor) })).body).quota_set;
        const old = await at(1);
        for (const key of [...network, ...injected, 'instances', 'cores', 'ram']) assert.ok(key in old, `${path} 2.1 has ${key}`);
        assert.deepEqual(old.floating_ips, path === '/detail' ? { limit: -1, in_use: 0, reserved: 0 } : -1);
        const mid = await at(36);
        assert.deepEqual(network.filter((key) => key in mid), [], `${path} 2.36 has no network quotas`);
        assert.deepEqual(injected.filter((key) => !(key in mid)), []);
        const late = await at(57);
        assert.deepEqual([...network, ...injected].filter((key) => key in late), []);
        assert.ok('instances' in late);
      }
    });

    test('the image proxy (until 2.35) and image metadata proxy (until 2.38): Nova\'s view of Glance\'s images', async () => {
      const glance = async (token: string, body: Record<string, unknown>, data?: Buffer) => {
        const img = json((await k.request('POST', '/image/v2/images', { token, body })).body);
        if (data) await k.kumo.app.inject({ method: 'PUT', url: `/image/v2/images/${img.id}/file`, headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, payload: data });
        return img.id as string;
      };
      const serverId = '11111111-2222-4333-8444-555555555555';
      const base = await glance(member.token, { name: 'proxy-base', disk_format: 'raw', container_format: 'bare', min_ram: 64, os_distro: 'busybox' }, Buffer.alloc(1024, 1));
      const snap = await glance(member.token, { name: 'proxy-snap', disk_format: 'qcow2', container_format: 'bare', image_type: 'snapshot', instance_uuid: serverId });
      const hidden = await glance(other.token, { name: 'proxy-other', disk_format: 'raw', container_format: 'bare', visibility: 'private' });
      const get = (path: string, minor = 1) => k.request('GET', `${C}${path}`, { token: member.token, headers: v(minor) });

      const detail = json((await get(`/images/${base}`)).body).image;
      assert.deepEqual([detail.status, detail.progress, detail.minRam, detail.minDisk, detail['OS-EXT-IMG-SIZE:size'], detail.metadata], ['ACTIVE', 100, 64, 0, 1024, { os_distro: 'busybox' }]);
      assert.match(detail.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(detail.links.map((l: { rel: string }) => l.rel), ['self', 'bookmark', 'alternate']);
      assert.equal(detail.links[0].href, `${k.config.publicUrl}/compute/v2.1/images/${base}`);
      const queued = json((await get(`/images/${snap}`)).body).image;
      assert.deepEqual([queued.status, queued.progress, queued.server.id], ['SAVING', 25, serverId]);
      assert.equal((await get(`/images/${hidden}`)).statusCode, 404, "another project's private image");
      assert.match(json((await get(`/images/${hidden}`)).body).itemNotFound.message, new RegExp(`Image ${hidden} could not be found`));

      const ids = async (q: string, path = '/images') => json((await get(`${path}${q}`)).body).images.map((i: { id: string }) => i.id) as string[];
      const summary = json((await get('/images')).body).images.find((i: { id: string }) => i.id === base);
      assert.deepEqual(Object.keys(summary).sort(), ['id', 'links', 'name']);
      assert.deepEqual(await ids('?name=proxy-base'), [base]);
      assert.ok((await ids('?status=ACTIVE')).includes(base));
      assert.ok(!(await ids('?status=ACTIVE')).includes(snap));
      assert.deepEqual(await ids('?type=snapshot'), [snap]);
      assert.deepEqual(await ids(`?server=${encodeURIComponent(`${k.config.publicUrl}/compute/servers/${serverId}`)}`, '/images/detail'), [snap]);
      assert.deepEqual(await ids('?minRam=64'), [base]);
      assert.ok(!(await ids('')).includes(hidden));
      const page = json((await get('/images?limit=1')).body);
      assert.equal(page.images.length, 1);
      assert.match(page.images_links[0].href, new RegExp(`limit=1&marker=${page.images[0].id}`));
      assert.equal((await get('/images/detail?changes-since=nonsense')).statusCode, 400);
      assert.equal((await get('/images/detail?changes-since=2011/01/01')).statusCode, 400, 'not ISO 8601');
      assert.equal((await get('/images', 36)).statusCode, 404, 'gone at 2.36');
      assert.equal((await get(`/images/${base}`, 36)).statusCode, 404);

      const meta = (method: string, path: string, body?: unknown, minor = 1) => k.request(method, `${C}/images/${base}/metadata${path}`, { token: member.token, headers: v(minor), body });
      const current = async () => json((await meta('GET', '')).body).metadata;
      assert.deepEqual(json((await meta('PUT', '', { metadata: { os_version: 'v1', arch: 'x86_64' } })).body).metadata, { os_version: 'v1', arch: 'x86_64' });
      assert.deepEqual(json((await meta('POST', '', { metadata: { os_version: 'v2', extra: 'x' } })).body).metadata, { os_version: 'v2', arch: 'x86_64', extra: 'x' });
      assert.deepEqual(json((await meta('GET', '/arch')).body), { meta: { arch: 'x86_64' } });
      assert.equal((await meta('GET', '/nope')).statusCode, 404);
      assert.deepEqual(json((await meta('PUT', '/arch', { meta: { arch: 'arm' } })).body), { meta: { arch: 'arm' } });
      const before = await current();
      for (const [method, path, body, status] of [
        ['PUT', '/arch', { meta: { other: 'x' } }, 400], ['PUT', '/arch', { meta: { arch: 'a', b: 'c' } }, 400], ['POST', '', { metadata: { k: 5 } }, 400],
        ['POST', '', { metadata: 'flat' }, 400], ['POST', '', { metadata: { os_glance_x: 'y' } }, 403], ['DELETE', '/nope', undefined, 404],
      ] as const) {
        assert.equal((await meta(method, path, body)).statusCode, status, `${method} ${path} ${JSON.stringify(body)}`);
      }
      assert.deepEqual(await current(), before, 'refused changes change nothing');
      assert.equal((await meta('DELETE', '/extra')).statusCode, 204);
      assert.deepEqual(await current(), { os_version: 'v2', arch: 'arm' });
      assert.equal((await k.request('GET', `${C}/images/${hidden}/metadata`, { token: member.token })).statusCode, 404);
      assert.equal((await meta('GET', '', undefined, 38)).statusCode, 200);
      assert.equal((await meta('GET', '', undefined, 39)).statusCode, 404, 'gone at 2.39');

      assert.equal((await k.request('DELETE', `${C}/images/${hidden}`, { token: member.token })).statusCode, 404, 'not visible, not deleted');
      assert.equal((await k.request('GET', `/image/v2/images/${hidden}`, { token: other.token })).statusCode, 200);
      assert.equal((await k.request('DELETE', `${C}/images/${snap}`, { token: member.token })).statusCode, 204);
      assert.equal((await get(`/images/${snap}`)).statusCode, 404);
    });

    test('server groups and availability zones', async () => {
      const g = await k.request('POST', `${C}/os-server-groups`, { token: member.token, headers: v(64), body: { server_group: { name: 'g1', policy: 'anti-affinity', rules: { max_server_per_host: 1 } } } });
      assert.equal(g.statusCode, 200, g.body);
      const group = json(g.body).server_group;
      assert.deepEqual(group.members, []);
      assert.equal(json((await k.request('GET', `${C}/os-server-groups/${group.id}`, { token: member.token })).body).server_group.policies[0], 'anti-affinity');
      assert.equal((await k.request('POST', `${C}/os-server-groups`, { token: member.token, headers: v(64), body: { server_group: { name: 'g2', policy: 'sideways' } } })).statusCode, 400);
      assert.equal((await k.request('GET', `${C}/os-server-groups/${group.id}`, { token: other.token })).statusCode, 404);
      assert.equal((await k.request('DELETE', `${C}/os-server-groups/${group.id}`, { token: member.token })).statusCode, 204);
      const zones = json((await k.request('GET', `${C}/os-availability-zone`, { token: member.token })).body).availabilityZoneInfo;
      assert.equal(zones[0].zoneName, 'nova');
    });

    test('server create: bad input gets Nova\'s message and makes nothing', async () => {
      const post = (server: Record<string, unknown>, minor = 1) => k.request('POST', `${C}/servers`, { token: member.token, headers: v(minor), body: { server } });
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ name: 'vm', imageRef: 'x', flavorRef: '999' }, /Flavor 999 could not be found\./],
        [{ imageRef: 'x', flavorRef: '1' }, /'name' is a required property/],
        [{ name: 'vm', imageRef: 'x', flavorRef: '1', user_data: 'not base64!' }, /is not a 'base64'/],
        [{ name: 'vm', imageRef: 'x', flavorRef: '1', bogus: 1 }, /Additional properties are not allowed/],
        [{ name: 'vm', imageRef: 'x', flavorRef: '1', min_count: 0 }, /min_count/],
        [{ name: 'vm', imageRef: 'x', flavorRef: '1' }, /Image x could not be found\./],
      ];
      for (const [server, message] of cases) {
        const res = await post(server);
        assert.equal(res.statusCode, 400, `${JSON.stringify(server)}: ${res.body}`);
        assert.match(json(res.body).badRequest.message, message);
      }
      assert.equal((await post({ name: 'vm', imageRef: 'x', flavorRef: '1' }, 37)).statusCode, 400, "2.37 requires 'networks'");
      for (const [since, status] of [['2011/01/01', 400], ['yesterday', 400], ['2011-01-01', 200], ['2011-01-01T00:00:00Z', 200], ['2011-01-01T00:00:00.5+01:00', 200]] as const) {
        const res = await k.request('GET', `${C}/servers?changes-since=${encodeURIComponent(since)}`, { token: member.token });
        assert.equal(res.statusCode, status, `changes-since=${since}: ${res.body}`);
      }
      assert.deepEqual(json((await k.request('GET', `${C}/servers`, { token: member.token })).body).servers, []);
      const ports = json((await k.request('GET', '/network/v2.0/ports', { token: member.token })).body).ports;
      assert.deepEqual(ports, []);
    });
  });
}
