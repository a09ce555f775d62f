/**
 * The container controller without a host: the API records desired state, the in-process agent
 * drives fake runtime and image store (in-memory, as unit tests may) and writes Zun's status
 * back. The real runc/conmon driver and image store are proven in test/integration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import { FakeImages, FakeRuntime } from '../support/fake-container-drivers.js';
import { PlugEverything } from '../support/plug-everything.js';
import { WebSocket } from 'ws';
import { waitFor as eventually } from '../support/wait.js';

const Z = '/container/v1';

for (const dialect of DIALECTS) {
  describe(`container agent: desired state to the runtime, status back (${dialect})`, () => {
    let k: TestKumo;
    let member: string;
    const runtime = new FakeRuntime();
    const images = new FakeImages();
    before(async () => {
      k = await startTestKumo(dialect, { netDriver: new PlugEverything(), containerDrivers: { runtime, images } });
      ({ token: member } = await k.member('agent-zun', 'dave'));
      const net = JSON.parse((await k.request('POST', '/network/v2.0/networks', { token: member, body: { network: { name: 'n' } } })).body).network;
      await k.request('POST', '/network/v2.0/subnets', { token: member, body: { subnet: { network_id: net.id, cidr: '10.88.0.0/24', ip_version: 4, dns_nameservers: ['10.88.0.53'] } } });
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const zun = (method: string, path: string, body?: unknown) => k.request(method, `${Z}${path}`, { token: member, body, headers: { 'openstack-api-version': 'container 1.40' } });
    const show = async (ident: string) => json((await zun('GET', `/containers/${ident}`)).body);
    const statusIs = async (ident: string, status: string) => {
      let last: Record<string, any> = {};
      try {
        return await eventually(`${ident} ${status}`, async () => {
          last = await show(ident);
          return last.status === status && last;
        });
      } catch (err) {
        throw new Error(`${(err as Error).message}; last seen ${JSON.stringify({ status: last.status, status_reason: last.status_reason, status_detail: last.status_detail, task_state: last.task_state })}`);
      }
    };

    test('run: image, network, runtime spec as Docker merges it, then Running; exec, logs, stop, start', async () => {
      const res = await zun('POST', '/containers?run=true', { name: 'web', image: 'busybox', command: ['httpd', '-f'], environment: { A: 'b' }, memory: '64', cpu: 0.5 });
      assert.equal(res.statusCode, 202, res.body);
      const c = await statusIs('web', 'Running');
      const spec = runtime.containers.get(c.uuid)!.spec;
      assert.deepEqual(spec.args, ['httpd', '-f']);
      assert.ok(spec.env.includes('A=b') && spec.env.includes('PATH=/bin'));
      assert.equal(spec.netns, `ns-${c.uuid}`);
      assert.equal(spec.limits.memoryBytes, 64 * 1024 * 1024);
      assert.deepEqual(spec.mounts.map((m) => m.destination), ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']);

      const exec = json((await zun('POST', '/containers/web/execute?command=%22echo%22+%22hi+there%22')).body);
      assert.deepEqual(exec, { output: 'ran echo hi there\n', exit_code: 0, exec_id: null, proxy_url: null });
      const logs = await zun('GET', '/containers/web/logs?stdout=True&stderr=True&timestamps=False&tail=all');
      assert.match(String(logs.headers['content-type']), /application\/json/);
      assert.equal(JSON.parse(logs.body), 'hello\nworld\n');

      assert.equal((await zun('POST', '/containers/web/stop?timeout=1')).statusCode, 202);
      const stopped = await statusIs('web', 'Stopped');
      assert.match(stopped.status_detail, /^Exited\(143\)/);
      assert.equal((await zun('POST', '/containers/web/execute?command=ls')).statusCode, 409, 'exec in a stopped container');
      assert.equal((await zun('POST', '/containers/web/start')).statusCode, 202);
      await statusIs('web', 'Running');
      assert.equal((await zun('PATCH', '/containers/web', { memory: 128 })).statusCode, 200);
      await eventually('the new memory limit applied', async () => runtime.containers.get(c.uuid)!.limits.memoryBytes === 128 * 1024 * 1024);
    });

    test('restart policy on-failure:2 restarts twice, then the container stays Stopped with its exit code', async () => {
      await zun('POST', '/containers?run=true', { name: 'flaky', image: 'busybox', command: ['false'], restart_policy: { Name: 'on-failure', MaximumRetryCount: 2 } });
      const c = await statusIs('flaky', 'Running');
      for (let i = 0; i < 3; i++) {
        const before = runtime.starts.get(c.uuid)!;
        runtime.exit(c.uuid, 1);
        if (i < 2) await eventually('a restart', async () => runtime.starts.get(c.uuid) === before + 1 && runtime.containers.get(c.uuid)!.state === 'running');
      }
      const done = await statusIs('flaky', 'Stopped');
      assert.match(done.status_detail, /^Exited\(1\)/);
      assert.equal(done.status_reason, 'Exited with code 1');
      assert.equal(runtime.starts.get(c.uuid), 3);
    });

    test('network attach/detach and security group add/remove act on the container\'s ports', async () => {
      const net2 = JSON.parse((await k.request('POST', '/network/v2.0/networks', { token: member, body: { network: { name: 'n2' } } })).body).network;
      await k.request('POST', '/network/v2.0/subnets', { token: member, body: { subnet: { network_id: net2.id, cidr: '10.89.0.0/24', ip_version: 4 } } });
      const created = await zun('POST', '/containers?run=true', { name: 'multi', image: 'busybox', command: ['sleep', '1000'], nets: [{ network: 'n' }] });
      assert.equal(created.statusCode, 202, created.body);
      await statusIs('multi', 'Running');
      assert.equal((await zun('POST', '/containers/multi/network_attach?network=n2')).statusCode, 202);
      const nets = json((await zun('GET', '/containers/multi/network_list')).body).networks;
      assert.equal(nets.length, 2);
      assert.match(nets.find((n: { net_id: string }) => n.net_id === net2.id).fixed_ips[0].ip_address, /^10\.89\.0\./);
      assert.equal((await zun('POST', '/containers/multi/network_attach?network=n2')).statusCode, 409, 'already on that network');
      const sg = JSON.parse((await k.request('POST', '/network/v2.0/security-groups', { token: member, body: { security_group: { name: 'web' } } })).body).security_group;
      assert.equal((await zun('POST', '/containers/multi/add_security_group?name=web')).statusCode, 202);
      const portIds = nets.map((n: { port_id: string }) => n.port_id);
      for (const id of portIds) {
        const port = JSON.parse((await k.request('GET', `/network/v2.0/ports/${id}`, { token: member })).body).port;
        assert.ok(port.security_groups.includes(sg.id));
      }
      assert.deepEqual((await show('multi')).security_groups, ['web']);
      assert.equal((await zun('POST', '/containers/multi/add_security_group?name=web')).statusCode, 409);
      assert.equal((await zun('POST', '/containers/multi/remove_security_group?name=web')).statusCode, 202);
      assert.equal((await zun('POST', '/containers/multi/network_detach?network=n2')).statusCode, 202);
      assert.equal(json((await zun('GET', '/containers/multi/network_list')).body).networks.length, 1);
      assert.equal((await k.request('GET', `/network/v2.0/ports/${nets.find((n: { net_id: string }) => n.net_id === net2.id).port_id}`, { token: member })).statusCode, 404, 'the detached port is gone');
      await zun('DELETE', '/containers/multi?force=true');
    });

    test('interactive exec: a one-time websocket link; bytes both ways; execute_resize sizes the terminal', async () => {
      const made = await zun('POST', '/containers?run=true', { name: 'tty', image: 'busybox', command: ['sleep', '100'], nets: [{ network: 'n' }] });
      assert.equal(made.statusCode, 202, made.body);
      const c = await statusIs('tty', 'Running');
      const res = await zun('POST', '/containers/tty/execute?run=false&interactive=true&command=sh');
      assert.equal(res.statusCode, 200, res.body);
      const exec = json(res.body);
      assert.deepEqual([exec.output, exec.exit_code], [null, null]);
      assert.match(exec.proxy_url, /^ws:\/\/.+\/container\/v1\/exec\/[0-9a-f]{32}\?token=/);
      const address = await k.kumo.app.listen({ port: 0, host: '127.0.0.1' });
      const url = (u: string) => u.replace(/^ws:\/\/[^/]+/, address.replace(/^http/, 'ws'));
      const connect = (u: string) => new Promise<{ ws: WebSocket; closed: Promise<number> }>((resolve, reject) => {
        const ws = new WebSocket(url(u), ['binary', 'base64']);
        const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)));
        ws.on('open', () => resolve({ ws, closed }));
        ws.on('error', reject);
      });
      const forged = await connect(exec.proxy_url.replace(/token=.*/, 'token=AAAA'));
      assert.equal(await forged.closed, 4000, 'a wrong secret is refused');
      assert.equal((await zun('POST', `/containers/tty/execute_resize?exec_id=${'0'.repeat(32)}&w=80&h=24`)).statusCode, 404);
      const { ws, closed } = await connect(exec.proxy_url);
      assert.equal(ws.protocol, 'binary', 'the subprotocol zunclient asks for first');
      let got = '';
      ws.on('message', (d: Buffer) => (got += d.toString()));
      ws.send(Buffer.from('hello\n'));
      await eventually('echo over the websocket', async () => got.includes('HELLO'));
      assert.equal((await zun('POST', `/containers/tty/execute_resize?exec_id=${exec.exec_id}&w=120&h=40`)).statusCode, 200);
      assert.deepEqual(runtime.sizes.at(-1), [120, 40]);
      ws.send(Buffer.from('exit\n'));
      assert.equal(await closed, 1000, 'the socket closes when the process ends');
      const again = await connect(exec.proxy_url);
      assert.equal(await again.closed, 4000, 'the link works once');
      await zun('DELETE', `/containers/${c.uuid}?force=true`);
    });

    test('images on the host are for admins: pull, list, show, delete', async () => {
      const admin = await k.adminToken();
      const asAdmin = (method: string, path: string, body?: unknown) => k.request(method, `${Z}${path}`, { token: admin, body, headers: { 'openstack-api-version': 'container 1.40' } });
      assert.equal((await zun('GET', '/images')).statusCode, 403);
      const pulled = await asAdmin('POST', '/images', { repo: 'busybox', host: 'test-host' });
      assert.equal(pulled.statusCode, 202, pulled.body);
      const image = json(pulled.body);
      assert.equal(image.image_id, 'sha256:bb');
      assert.ok(json((await asAdmin('GET', '/images')).body).images.some((i: { uuid: string }) => i.uuid === image.uuid));
      assert.equal(json((await asAdmin('GET', `/images/${image.uuid}`)).body).repo, 'docker.io/library/busybox');
      assert.equal((await asAdmin('POST', '/images', { repo: 'busybox', host: 'elsewhere' })).statusCode, 404);
      assert.equal((await asAdmin('GET', '/images/nope')).statusCode, 404);
      const hosts = json((await asAdmin('GET', '/hosts')).body).hosts;
      assert.deepEqual(hosts.map((h: { hostname: string }) => h.hostname), ['test-host']);
      assert.ok(hosts[0].cpus > 0 && hosts[0].mem_total > 0 && hosts[0].total_containers >= 1);
      assert.equal(json((await asAdmin('GET', `/hosts/${hosts[0].uuid}`)).body).hostname, 'test-host');
      assert.equal((await zun('GET', '/hosts')).statusCode, 403);
    });

    test('an unknown image ends in Error with the reason; delete rules; orphans are removed', async () => {
      await zun('POST', '/containers?run=true', { name: 'ghost', image: 'nosuchimage', nets: [{ network: 'n' }] });
      const err = await statusIs('ghost', 'Error');
      assert.match(err.status_reason, /nosuchimage could not be pulled: manifest unknown/);
      assert.equal((await zun('DELETE', '/containers/ghost')).statusCode, 204, 'Error containers delete without force');

      const web = await show('web');
      const refused = await zun('DELETE', '/containers/web');
      assert.equal(refused.statusCode, 409);
      assert.equal((await zun('DELETE', '/containers/web?stop=True')).statusCode, 204);
      await eventually('web gone', async () => (await zun('GET', '/containers/web')).statusCode === 404);
      assert.ok(!runtime.containers.has(web.uuid) && !runtime.netns.has(web.uuid) && !images.rootfs.has(web.uuid));

      // A container the store does not know (a delete interrupted by kill -9) is removed.
      await runtime.create({ ...runtime.containers.get((await show('flaky')).uuid)!.spec, id: 'orphan-1' });
      k.kumo.agent!.resync();
      await eventually('orphan removed', async () => !runtime.containers.has('orphan-1'));
    });
  });
}
