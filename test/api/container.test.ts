import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const Z = '/container/v1';
const N = '/network/v2.0';
const V = { 'openstack-api-version': 'container 1.40' };

for (const dialect of DIALECTS) {
  describe(`container API (Zun v1), without an agent (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: string;
    let projectId: string;
    let net: Record<string, any>;
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
      ({ token: member, projectId } = await k.member('zun-a', 'carol'));
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const zun = (method: string, path: string, body?: unknown, token = member) => k.request(method, `${Z}${path}`, { token, body, headers: V });
    const errorOf = (res: { body: string }) => json(res.body).errors[0] as { status: number; title: string; detail: string };

    test('discovery: 200 with CURRENT and the version range; microversions beyond it are 406 in Zun\'s error shape', async () => {
      const root = await k.request('GET', '/container', { token: member, headers: { 'openstack-api-version': 'container 1.1' } });
      assert.equal(root.statusCode, 200);
      const doc = json(root.body);
      assert.deepEqual([doc.versions[0].status, doc.versions[0].min_version, doc.versions[0].max_version], ['CURRENT', '1.1', '1.40']);
      assert.equal(root.headers['openstack-api-version'], 'container 1.1');
      const tooNew = await k.request('GET', `${Z}/containers`, { token: member, headers: { 'openstack-api-version': 'container 1.41' } });
      assert.equal(tooNew.statusCode, 406);
      assert.match(errorOf(tooNew).detail, /supported version range is: \[1\.1, 1\.40\]/);
      const catalog = json((await k.request('GET', '/identity/v3/auth/catalog', { token: member })).body).catalog;
      assert.match(catalog.find((s: { type: string }) => s.type === 'container').endpoints[0].url, /\/container\/v1$/);
    });

    test('create needs a network: none is a clear 400; with one, the container gets a port and its address', async () => {
      const none = await zun('POST', '/containers?run=true', { image: 'busybox', command: ['sleep', '100'] });
      assert.equal(none.statusCode, 400);
      assert.match(errorOf(none).detail, /no network/);
      net = json((await k.request('POST', `${N}/networks`, { token: member, body: { network: { name: 'zun-net' } } })).body).network;
      await k.request('POST', `${N}/subnets`, { token: member, body: { subnet: { network_id: net.id, cidr: '10.77.0.0/24', ip_version: 4 } } });
      const res = await zun('POST', '/containers?run=true', { name: 'c1', image: 'busybox', command: ['sleep', '100'], memory: '64', environment: { A: 'b' } });
      assert.equal(res.statusCode, 202, res.body);
      const c = json(res.body);
      assert.equal(c.status, 'Creating');
      assert.equal(c.memory, '64');
      assert.deepEqual(c.command, ['sleep', '100']);
      assert.equal(c.project_id, projectId);
      assert.match(c.addresses[net.id][0].addr, /^10\.77\.0\.\d+$/);
      const port = json((await k.request('GET', `${N}/ports/${c.addresses[net.id][0].port}`, { token: member })).body).port;
      assert.equal(port.device_owner, 'compute:kuryr');
      assert.equal(port.device_id, c.uuid);
      assert.equal(json((await zun('GET', '/containers/c1')).body).uuid, c.uuid, 'names are resolved server-side');
      const list = json((await zun('GET', '/containers')).body);
      assert.deepEqual(list.containers.map((x: { name: string }) => x.name), ['c1']);
      assert.equal(list.next, null);
    });

    test('bad input is refused with Zun\'s status and message and creates nothing', async () => {
      const before = (await k.request('GET', `${N}/ports`, { token: admin })).body;
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ name: 'c1', image: 'busybox' }, 409, /already exists/],
        [{ image: 'busybox', memory: 'lots' }, 400, /memory/],
        [{ image: 'busybox', cpu: -1 }, 400, /cpu/],
        [{ image: 'busybox', nets: [{ network: 'nowhere' }] }, 404, /nowhere could not be found/],
        [{ image: 'busybox', command: ['sh', '-c', 'x'.repeat(140 * 1024)] }, 400, /longer than/],
        [{ image: 'busybox', restart_policy: { Name: 'always', MaximumRetryCount: 3 } }, 400, /retry count/],
        [{ image: 'busybox', nets: [{ network: net.id, 'v4-fixed-ip': '10.99.0.5' }] }, 400, /not a valid IP/],
        [{ image: 'b' }, 400, /image/],
        [{ image: 'busybox', availability_zone: 'mars' }, 400, /Availability zone mars does not exist/],
        [{ image: 'busybox', disk: 1 }, 400, /Disk limits are not supported on this host/],
        [{ image: 'busybox', disk: -1 }, 400, /disk/],
        [{ image: 'no-such-image', image_driver: 'glance' }, 400, /Image no-such-image could not be found in the image service/],
        [{ image: 'a-qcow2', image_driver: 'glance' }, 400, /container format bare; the glance image driver needs a docker image/],
        [{ image: 'busybox', image_driver: 'ftp' }, 400, /It must be docker or glance/],
      ];
      // A VM image in Glance is not a container image.
      const vmImage = json((await k.request('POST', '/image/v2/images', { token: member, body: { name: 'a-qcow2', disk_format: 'qcow2', container_format: 'bare' } })).body).id;
      assert.ok(vmImage);
      for (const [body, status, detail] of cases) {
        const res = await zun('POST', '/containers', body);
        assert.equal(res.statusCode, status, `${JSON.stringify(body).slice(0, 80)} -> ${res.body.slice(0, 200)}`);
        assert.match(errorOf(res).detail, detail);
      }
      assert.equal((await k.request('GET', `${N}/ports`, { token: admin })).body, before, 'no port was left behind');
      assert.deepEqual(json((await zun('GET', '/containers')).body).containers.map((x: { name: string }) => x.name), ['c1']);
      assert.deepEqual(json((await zun('GET', '/availability_zones')).body), { availability_zones: [{ availability_zone: 'nova' }] });
      assert.equal((await zun('POST', '/containers', { name: 'inzone', image: 'busybox', availability_zone: 'nova' })).statusCode, 202);
      await zun('DELETE', '/containers/inzone?force=true');
    });

    test("actions follow Zun's state table; rename and update; another project sees nothing", async () => {
      const start = await zun('POST', '/containers/c1/start');
      assert.equal(start.statusCode, 409);
      assert.match(errorOf(start).detail, /Cannot start container .* in Creating state/);
      assert.equal((await zun('POST', '/containers/c1/kill?signal=NOPE')).statusCode, 409, 'state is checked first');
      assert.equal((await zun('POST', '/containers/c1/rename?name=c2')).statusCode, 202);
      const updated = await zun('PATCH', '/containers/c2', { memory: 128, cpu: 0.5 });
      assert.equal(updated.statusCode, 409, 'update waits until the container exists on its host');
      assert.equal(errorOf(await zun('GET', '/containers/c2/logs')).status, 409);
      const other = await zun('GET', '/containers/c2', undefined, admin);
      assert.equal(other.statusCode, 404, 'names resolve within the caller\'s project');
      assert.equal(json((await zun('GET', '/containers?all_projects=true', undefined, admin)).body).containers.length, 1);
      assert.equal((await zun('GET', '/containers?all_projects=true')).statusCode, 403);
      const del = await zun('DELETE', '/containers/c2');
      assert.equal(del.statusCode, 409);
      assert.equal((await zun('DELETE', '/containers/c2?force=True')).statusCode, 204);
      assert.equal((await zun('GET', '/containers/c2')).statusCode, 404);
      const ports = json((await k.request('GET', `${N}/ports?device_owner=compute:kuryr`, { token: member })).body).ports;
      assert.deepEqual(ports, [], 'its port went with it');
    });

    test('capsules: a template becomes one capsule with one port and hidden members; bad templates change nothing', async () => {
      const template = {
        kind: 'capsule',
        metadata: { name: 'pod1', labels: { app: 'web' }, annotations: { note: 'x' } },
        spec: {
          restartPolicy: 'OnFailure',
          initContainers: [{ image: 'busybox', command: ['true'] }],
          containers: [
            { name: 'server', image: 'busybox', command: ['httpd', '-f'], env: { A: 'b' }, workDir: '/www', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: { requests: { cpu: 0.5, memory: 64 } } },
            { name: 'side', image: 'busybox', args: ['sleep', '100'], resources: { requests: { cpu: 0.25, memory: 32 } } },
          ],
        },
      };
      const portsBefore = json((await k.request('GET', `${N}/ports?device_owner=compute:kuryr`, { token: member })).body).ports.length;
      const bad = async (t: unknown, pattern: RegExp) => {
        const res = await zun('POST', '/capsules', { template: t });
        assert.equal(res.statusCode, 400, res.body);
        assert.match(errorOf(res).detail, pattern);
      };
      await bad({ ...template, kind: 'pod' }, /kind must be capsule/);
      await bad({ ...template, spec: { containers: [] } }, /at least one container/);
      await bad({ ...template, spec: { containers: [{ command: ['x'] }] } }, /image is required/);
      await bad({ ...template, spec: { ...template.spec, restartPolicy: 'Sometimes' } }, /Always, OnFailure or Never/);
      await bad({ ...template, spec: { ...template.spec, volumes: [{ name: 'data', cinder: { size: 1 } }] } }, /block storage/);
      await bad({ ...template, spec: { containers: [{ image: 'busybox', volumeMounts: [{ name: 'nope', mountPath: '/d' }] }] } }, /does not define/);
      await bad({ ...template, spec: { containers: [{ image: 'busybox', resources: { requests: { memory: 'lots' } } }] } }, /memory/);
      await bad({ ...template, spec: { containers: [{ image: 'busybox', command: 'sh' }] } }, /list of strings/);
      assert.equal(json((await zun('GET', '/capsules')).body).capsules.length, 0, 'nothing was made');
      assert.equal(json((await k.request('GET', `${N}/ports?device_owner=compute:kuryr`, { token: member })).body).ports.length, portsBefore);

      const res = await zun('POST', '/capsules', { template });
      assert.equal(res.statusCode, 202, res.body);
      const c = json(res.body);
      assert.equal(c.name, 'pod1');
      assert.equal(c.status, 'Creating');
      assert.deepEqual([c.cpu, c.memory, c.labels, c.annotations, c.restart_policy], [0.75, '96', { app: 'web' }, { note: 'x' }, { Name: 'on-failure', MaximumRetryCount: '0' }]);
      assert.equal(c.containers.length, 3);
      const server = c.containers.find((m: { name: string }) => m.name === 'capsule-pod1-server');
      assert.deepEqual([server.environment, server.workdir, server.ports, server.memory], [{ A: 'b' }, '/www', [80], '64']);
      const [address] = c.addresses[net.id];
      assert.match(address.addr, /^10\.77\.0\.\d+$/);
      for (const m of c.containers) assert.deepEqual(m.addresses, c.addresses, 'every member has the capsule\'s one address');
      const port = json((await k.request('GET', `${N}/ports/${address.port}`, { token: member })).body).port;
      assert.equal(port.device_id, c.uuid);
      assert.equal(json((await zun('GET', '/capsules/pod1')).body).uuid, c.uuid, 'names resolve');
      assert.deepEqual(json((await zun('GET', '/capsules')).body).capsules.map((x: { uuid: string }) => x.uuid), [c.uuid]);
      const containers = json((await zun('GET', '/containers')).body).containers.map((x: { name: string }) => x.name);
      assert.ok(!containers.some((n: string) => n.startsWith('capsule-')), 'members are not in the container list');
      assert.equal((await zun('GET', `/containers/${server.uuid}`)).statusCode, 404);
      assert.equal((await zun('GET', `/capsules/${c.uuid}`, undefined, admin)).statusCode, 404, 'another project does not see it');
      assert.equal((await zun('POST', '/capsules', { template })).statusCode, 409, 'names are unique per project');

      assert.equal((await zun('DELETE', '/capsules/pod1')).statusCode, 204);
      assert.equal((await zun('GET', '/capsules/pod1')).statusCode, 404);
      assert.equal((await k.request('GET', `${N}/ports/${address.port}`, { token: member })).statusCode, 404, 'its port went with it');
    });

    test('quotas: 403 when a project would exceed its containers, and admin-only changes', async () => {
      assert.equal((await zun('PUT', `/quotas/${projectId}`, { containers: 1 })).statusCode, 403);
      assert.equal((await zun('PUT', `/quotas/${projectId}`, { containers: 1 }, admin)).statusCode, 200);
      assert.equal((await zun('POST', '/containers', { name: 'q1', image: 'busybox' })).statusCode, 202);
      const over = await zun('POST', '/containers', { name: 'q2', image: 'busybox' });
      assert.equal(over.statusCode, 403);
      assert.match(errorOf(over).detail, /Quota exceeded for resources: \['containers'\]/);
      const usage = json((await zun('GET', `/quotas/${projectId}?usages=true`)).body);
      assert.deepEqual(usage.containers, { limit: 1, in_use: 1 });
      assert.equal((await zun('DELETE', `/quotas/${projectId}`, undefined, admin)).statusCode, 204);
      await zun('DELETE', '/containers/q1?force=true');
    });
  });
}
