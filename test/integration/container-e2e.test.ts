/**
 * Containers end to end on this host (root): `kumo up` with its agent, a loopback registry
 * holding a busybox image the test builds, and the real `openstack appcontainer` CLI
 * (python3-zunclient). What is proven is what a user sees: containers Running, one reaching
 * another's HTTP server over the tenant network, logs, exec exit codes, stop/start, delete
 * leaving nothing behind; volumes mounted with `--mount` (a real loop device and ext4) keeping
 * their data from one container to the next.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { kumoUpForCli, restartKumo, run, tearDown } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';
import { endpointNamespace, isRoot, randomTag, sh } from '../support/netns.js';
import { dockerSaveTar, pushBusyboxImage, startRegistry } from '../support/registry.js';
import type { Registry } from '../support/registry.js';
import { waitFor } from '../support/wait.js';

/** The loop devices over `file` (`losetup -j`), empty when none. */
const loopsOver = (file: string): string => execFileSync('losetup', ['-j', file], { encoding: 'utf8' }).trim();

describe('containers through kumo up and `openstack appcontainer`', { skip: isRoot ? false : 'needs root' }, () => {
  let live: Live;
  let registry: Registry;
  let env: NodeJS.ProcessEnv;
  let image: string;
  // "The outside": a bridge of this test's with a namespace holding the external gateway address.
  const tag = randomTag();
  const outsideBridge = `ktc${tag}`;
  let outside: { name: string; remove(): Promise<void> } | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-ctr-e2e-'));

  const os = async (...args: string[]) => {
    const r = await run('openstack', ['--os-cloud', 'kumo', ...args], env);
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  const osJson = async (...args: string[]) => JSON.parse(await os(...args, '-f', 'json')) as Record<string, any>;
  const statusOf = async (name: string) => (await osJson('appcontainer', 'show', name)) as { status: string; status_reason: string | null; status_detail: string | null; addresses: unknown };
  const until = (name: string, status: string) => waitFor(`${name} ${status}`, async () => {
    const c = await statusOf(name);
    if (c.status === 'Error') throw new Error(`${name} went to Error: ${c.status_reason}`);
    return c.status === status && c;
  }, 90_000, 500);

  before(async () => {
    registry = await startRegistry();
    image = await pushBusyboxImage(registry, scratch);
    await sh('ip', ['link', 'add', outsideBridge, 'type', 'bridge']);
    await sh('ip', ['link', 'set', outsideBridge, 'up']);
    outside = await endpointNamespace(`c${tag}`);
    await sh('ip', ['link', 'add', `kco${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name]);
    await sh('ip', ['link', 'set', `kco${tag}`, 'master', outsideBridge, 'up']);
    await sh('ip', ['-n', outside.name, 'addr', 'add', '198.18.0.1/24', 'dev', 'eth0']);
    await sh('ip', ['-n', outside.name, 'link', 'set', 'eth0', 'up']);
    ({ live, env } = await kumoUpForCli(['--agent', 'on', '--host', hostname(), '--physical-bridges', `public:${outsideBridge}`, '--log-level', 'info']));
  });

  after(async () => {
    if (live) await tearDown(live);
    await registry?.stop();
    await outside?.remove();
    await sh('ip', ['link', 'del', outsideBridge]).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  });

  test('run, reach, logs, exec, stop/start, delete', async () => {
    await os('network', 'create', 'ctr-net');
    await os('subnet', 'create', '--network', 'ctr-net', '--subnet-range', '10.66.0.0/24', 'ctr-sub');
    // httpd serves its working directory (a `-h` would be taken by the CLI for --help).
    await os('appcontainer', 'run', '--name', 'web', '--workdir', '/etc', '--net', 'network=ctr-net', image, 'httpd', '-f', '-p', '8080');
    await os('appcontainer', 'run', '--name', 'client', '--net', 'network=ctr-net', image, 'sleep', '300');
    const web = await until('web', 'Running');
    await until('client', 'Running');
    const webIp = /10\.66\.0\.\d+/.exec(JSON.stringify(web.addresses))?.[0];
    assert.ok(webIp, `web has an address: ${JSON.stringify(web.addresses)}`);

    // The client reaches the web container's HTTP server over the tenant network.
    let last = '';
    const fetched = await waitFor('HTTP from client to web', async () => {
      const r = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'wget', '-O', '-', `http://${webIp}:8080/hostname`], env);
      last = `${r.code} ${r.stdout} ${r.stderr}`;
      // The CLI's own options (-q, -h) must not appear in the command: it would take them.
      return r.code === 0 && r.stdout;
    }, 30_000, 500).catch(async (err: Error) => {
      const addr = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'ip', 'addr'], env);
      throw new Error(`${err.message}; last: ${last}; client ip addr: ${addr.stdout} ${addr.stderr}`);
    });
    assert.ok(fetched.trim().length > 0);

    const failing = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'sh', '-c', 'echo out; exit 3'], env);
    assert.equal(failing.code, 3, 'the exit code of the command becomes the CLI\'s');
    assert.match(failing.stdout, /out/);

    // Interactive exec: the CLI needs a terminal of its own, so it runs under script(1); what is typed
    // reaches a shell on a terminal in the container over the websocket, and its output comes back.
    const typed = "(sleep 2; printf 'test -t 0 && echo kumo-$((6*7)) on a terminal\\n'; sleep 2; printf 'exit\\n'; sleep 3)";
    const interactive = await run('sh', ['-c', `${typed} | script -qec 'stty cols 100 rows 30; openstack --os-cloud kumo appcontainer exec --interactive client sh' /dev/null`], env);
    assert.match(interactive.stdout, /kumo-42 on a terminal/, `interactive exec output: ${interactive.stdout} ${interactive.stderr}\nKumo: ${live.output().split('\n').filter((l) => /exec|websocket|ws/i.test(l)).slice(-10).join('\n')}`);

    await os('appcontainer', 'run', '--name', 'talker', '--net', 'network=ctr-net', image, 'sh', '-c', 'echo hello from kumo; echo to stderr >&2');
    await until('talker', 'Stopped');
    const logs = await os('appcontainer', 'logs', 'talker');
    assert.match(logs, /hello from kumo/);
    assert.match(logs, /to stderr/);

    // Zun's glance image driver: a `docker save` tar uploaded to the image service runs as a container.
    const saved = join(scratch, 'saved.tar');
    dockerSaveTar(join(scratch, 'rootfs'), saved, { repoTag: 'saved/busybox:1.0', cmd: ['sh', '-c', 'echo from-glance; sleep 300'] });
    await os('image', 'create', '--file', saved, '--disk-format', 'raw', '--container-format', 'docker', 'saved-bb');
    await os('appcontainer', 'run', '--name', 'from-glance', '--image-driver', 'glance', '--net', 'network=ctr-net', 'saved-bb');
    await until('from-glance', 'Running');
    assert.match(await os('appcontainer', 'logs', 'from-glance'), /from-glance/);
    const noImage = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'run', '--image-driver', 'glance', 'no-such-image'], env);
    assert.notEqual(noImage.code, 0);
    // zunclient prints an error's title; the detail (Kumo's reason) is in the body, checked by the API tests.
    assert.match(noImage.stderr, /Bad Request \(HTTP 400\)/);
    await os('appcontainer', 'delete', '--force', 'from-glance');

    await os('appcontainer', 'stop', 'web');
    await until('web', 'Stopped');
    await os('appcontainer', 'start', 'web');
    await until('web', 'Running');

    // A floating IP reaches the web container from "the outside", once a group lets TCP 8080 in.
    await os('security', 'group', 'create', 'only8080');
    await os('security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'only8080');
    await os('appcontainer', 'add', 'security', 'group', 'web', 'only8080');
    await os('network', 'create', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public', 'ctr-public');
    await os('subnet', 'create', '--network', 'ctr-public', '--subnet-range', '198.18.0.0/24', '--gateway', '198.18.0.1', '--allocation-pool', 'start=198.18.0.10,end=198.18.0.99', '--no-dhcp', 'ctr-public-sub');
    await os('router', 'create', 'ctr-router');
    await os('router', 'set', '--external-gateway', 'ctr-public', 'ctr-router');
    await os('router', 'add', 'subnet', 'ctr-router', 'ctr-sub');
    const webPort = (await osJson('port', 'list', '--fixed-ip', `ip-address=${webIp}`)) as unknown as { ID: string }[];
    const fip = await osJson('floating', 'ip', 'create', 'ctr-public');
    await os('floating', 'ip', 'set', '--port', webPort[0].ID, fip.id);
    const fromOutside = await waitFor('web through its floating IP', async () => {
      const r = await run('ip', ['netns', 'exec', outside!.name, 'busybox', 'wget', '-O', '-', `http://${fip.floating_ip_address}:8080/hostname`], env);
      return r.code === 0 && r.stdout;
    }, 30_000, 500);
    assert.ok(fromOutside.trim().length > 0);
    await os('floating', 'ip', 'delete', fip.id);
    await os('router', 'remove', 'subnet', 'ctr-router', 'ctr-sub');
    await os('router', 'delete', 'ctr-router');

    // A second network attached to a running container appears inside it as eth1, and goes on detach.
    await os('network', 'create', 'ctr-net2');
    await os('subnet', 'create', '--network', 'ctr-net2', '--subnet-range', '10.67.0.0/24', 'ctr-sub2');
    await os('appcontainer', 'network', 'attach', '--network', 'ctr-net2', 'client');
    await waitFor('eth1 in the client', async () => /inet 10\.67\.0\.\d+/.test((await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'ip', 'addr', 'show', 'eth1'], env)).stdout), 30_000, 500);
    await os('appcontainer', 'network', 'detach', '--network', 'ctr-net2', 'client');
    await waitFor('eth1 gone', async () => (await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'ip', 'addr', 'show', 'eth1'], env)).code !== 0, 30_000, 500);

    // A security group that opens TCP 8080 only: 8080 answers, 8081 does not.
    await os('appcontainer', 'run', '--name', 'guarded', '--security-group', 'only8080', '--net', 'network=ctr-net', image, 'sh', '-c', 'httpd -p 8081 -h /etc; httpd -f -p 8080 -h /etc');
    const guarded = await until('guarded', 'Running');
    const guardedIp = /10\.66\.0\.\d+/.exec(JSON.stringify(guarded.addresses))![0];
    // (busybox-static's `wget -T` crashes, even on the host: plain wget where it connects, nc -w where it must not.)
    const fetch8080 = () => run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'wget', '-O', '-', `http://${guardedIp}:8080/hostname`], env);
    let lastTry = '';
    await waitFor('8080 through the group', async () => {
      const r = await fetch8080();
      lastTry = `${r.code} ${r.stdout} ${r.stderr}`;
      return r.code === 0;
    }, 30_000, 500).catch((err: Error) => { throw new Error(`${err.message}: ${lastTry}`); });
    const open = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'sh', '-c', `echo | nc -w 3 ${guardedIp} 8080 && echo connected`], env);
    assert.match(open.stdout, /connected/, 'nc reaches 8080');
    const closed = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'sh', '-c', `echo | nc -w 3 ${guardedIp} 8081 && echo connected`], env);
    assert.notEqual(closed.code, 0, '8081 is blocked by the security group');
    await os('appcontainer', 'delete', '--force', 'guarded');

    // A memory limit is enforced, and the kill is reported as an OOM kill.
    await os('appcontainer', 'run', '--name', 'hog', '--memory', '16', '--net', 'network=ctr-net', image, 'sh', '-c', 'x=aaaaaaaa; while true; do x=$x$x; done');
    const hog = await until('hog', 'Stopped');
    assert.equal(hog.status_reason, 'OOMKilled');
    await os('appcontainer', 'delete', 'hog');

    // Another project sees none of this project's containers.
    await os('project', 'create', 'ctr-other');
    await os('user', 'create', '--project', 'ctr-other', '--password', 'pw', 'ctr-eve');
    await os('role', 'add', '--project', 'ctr-other', '--user', 'ctr-eve', 'member');
    const eve: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: process.env.HOME, OS_AUTH_URL: `${live.url}/identity/v3`, OS_USERNAME: 'ctr-eve', OS_PASSWORD: 'pw', OS_PROJECT_NAME: 'ctr-other',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_IDENTITY_API_VERSION: '3', OS_REGION_NAME: 'RegionOne',
    };
    const theirs = await run('openstack', ['appcontainer', 'list', '-f', 'json'], eve);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.deepEqual(JSON.parse(theirs.stdout), []);
    const peek = await run('openstack', ['appcontainer', 'show', 'web'], eve);
    assert.notEqual(peek.code, 0, 'web is invisible to another project');

    // kill -9 of Kumo: containers keep running; one that exits meanwhile is seen with its exit code after the restart.
    await os('appcontainer', 'run', '--name', 'blinker', '--net', 'network=ctr-net', image, 'sh', '-c', 'sleep 3; exit 4');
    await until('blinker', 'Running');
    live.proc.kill('SIGKILL');
    await new Promise((r) => live.proc.once('exit', r));
    await new Promise((r) => setTimeout(r, 5000));
    live = await restartKumo(live, ['--agent', 'on', '--host', hostname(), '--log-level', 'info']);
    const ended = await until('blinker', 'Stopped');
    assert.match(String(ended.status_detail), /^Exited\(4\)/);
    assert.equal((await statusOf('web')).status, 'Running', 'the web container kept running through the restart');
    const again = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'wget', '-O', '-', `http://${webIp}:8080/hostname`], env);
    assert.equal(again.code, 0, `client still reaches web after the restart: ${again.stderr}`);
    await os('appcontainer', 'delete', 'blinker');

    // Lifecycle actions and limits with the CLI, seen in what the CLI shows and in the cgroup (through stats).
    await os('appcontainer', 'run', '--name', 'victim', '--memory', '128', '--net', 'network=ctr-net', image, 'sleep', '600');
    await until('victim', 'Running');
    await os('appcontainer', 'pause', 'victim');
    await until('victim', 'Paused');
    await os('appcontainer', 'unpause', 'victim');
    await until('victim', 'Running');
    await os('appcontainer', 'set', '--memory', '64', '--cpu', '0.5', 'victim');
    const limited = await osJson('appcontainer', 'show', 'victim');
    assert.deepEqual([limited.memory, limited.cpu], ['64', 0.5]);
    await waitFor('the new memory limit in the cgroup', async () => (await osJson('appcontainer', 'stats', 'victim'))['MEM LIMIT(MiB)'] === 64, 30_000, 500);
    const before = (await osJson('appcontainer', 'stats', 'victim'))['CPU time (ns)'];
    await os('appcontainer', 'restart', '--timeout', '1', 'victim');
    await waitFor('victim restarted', async () => {
      const v = await statusOf('victim');
      return v.status === 'Running' && (await osJson('appcontainer', 'stats', 'victim'))['CPU time (ns)'] !== before;
    }, 60_000, 500);
    await os('appcontainer', 'kill', '--signal', 'SIGKILL', 'victim');
    const killed = await until('victim', 'Stopped');
    assert.match(String(killed.status_detail), /Exited\(137\)/);
    await os('appcontainer', 'delete', 'victim');

    // A capsule: an init container first, then two members in one network namespace; the relay
    // reaches the server on localhost and serves what it got at the capsule's one address.
    const templateFile = join(scratch, 'capsule.json');
    writeFileSync(templateFile, JSON.stringify({
      kind: 'capsule',
      metadata: { name: 'pod', labels: { app: 'relay' } },
      nets: [{ network: 'ctr-net' }],
      spec: {
        restartPolicy: 'Always',
        initContainers: [{ image, command: ['sh', '-c', 'echo init done'] }],
        containers: [
          { name: 'server', image, command: ['sh', '-c', 'mkdir -p /srv && echo capsule-ok > /srv/index.html && exec httpd -f -p 8080 -h /srv'] },
          { name: 'relay', image, command: ['sh', '-c', 'mkdir -p /srv; until wget -O /srv/index.html http://127.0.0.1:8080/index.html; do sleep 0.2; done; exec httpd -f -p 8081 -h /srv'] },
        ],
      },
    }));
    assert.equal((await osJson('capsule', 'create', '--file', templateFile)).name, 'pod');
    const pod = await waitFor('capsule Running', async () => {
      const c = await osJson('capsule', 'show', 'pod');
      if (c.status === 'Error') throw new Error(`capsule went to Error: ${c.status_reason}`);
      return c.status === 'Running' && c;
    }, 90_000, 500);
    assert.equal(pod.containers.length, 3);
    assert.ok(pod.containers.some((m: { status: string; name: string }) => m.name.startsWith('capsule-pod-') && m.status === 'Stopped'), 'the init container ran and ended');
    const podIp = /10\.66\.0\.\d+/.exec(String(pod.addresses))?.[0];
    assert.ok(podIp, `the capsule has an address: ${String(pod.addresses)}`);
    const relayed = await waitFor('the relay at the capsule\'s address', async () => {
      const r = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'exec', 'client', 'wget', '-O', '-', `http://${podIp}:8081/index.html`], env);
      return r.code === 0 && r.stdout;
    }, 30_000, 500);
    // exec output is stdout and stderr together (wget's progress on stderr).
    assert.match(relayed, /^capsule-ok$/m);
    assert.deepEqual((await osJson('capsule', 'list')).map((c: { name: string }) => c.name), ['pod']);
    assert.ok(!(await osJson('appcontainer', 'list')).some((c: { name: string }) => c.name.startsWith('capsule-')), 'members are the capsule API\'s');
    await os('capsule', 'delete', 'pod');
    await waitFor('capsule gone', async () => (await osJson('capsule', 'list')).length === 0, 60_000, 500);

    const refused = await run('openstack', ['--os-cloud', 'kumo', 'appcontainer', 'delete', 'web'], env);
    assert.match(refused.stdout + refused.stderr, /Conflict|Cannot delete/i, 'a running container is not deleted without --force or --stop');
    await os('appcontainer', 'delete', '--stop', 'web');
    await os('appcontainer', 'delete', '--force', 'client');
    await os('appcontainer', 'delete', 'talker');
    await waitFor('all containers gone', async () => (await osJson('appcontainer', 'list')).length === 0, 60_000, 500);
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(live.dir));
    assert.deepEqual(mounts, [], 'no overlay mount left');
    const ports = await osJson('port', 'list', '--device-owner', 'compute:kuryr');
    assert.deepEqual(ports, [], 'no container port left');

    assert.deepEqual((await osJson('appcontainer', 'availability', 'zone', 'list')).map((z: { availability_zone: string }) => z.availability_zone), ['nova']);

    // Images on the host (admin): pull, list, show, delete.
    const pulled = await osJson('appcontainer', 'image', 'pull', image, hostname());
    assert.match(String(pulled.image_id), /^sha256:[0-9a-f]{64}$/);
    const listed = await osJson('appcontainer', 'image', 'list');
    assert.ok(listed.some((i: { uuid: string }) => i.uuid === pulled.uuid));
    assert.equal((await osJson('appcontainer', 'image', 'show', pulled.uuid)).image_id, pulled.image_id);
    await os('appcontainer', 'image', 'delete', pulled.uuid);
    assert.ok(!(await osJson('appcontainer', 'image', 'list')).some((i: { uuid: string }) => i.uuid === pulled.uuid));
  });

  test('--mount: a volume keeps its data from one container to the next; size= makes one that goes with its container; nothing left after', async () => {
    await os('network', 'create', 'vol-net');
    await os('subnet', 'create', '--network', 'vol-net', '--subnet-range', '10.68.0.0/24', 'vol-sub');
    const v1 = await osJson('volume', 'create', '--size', '1', 'v1');
    await waitFor('v1 available', async () => (await osJson('volume', 'show', 'v1')).status === 'available', 30_000, 200);
    const file = join(live.dir, 'volumes', 'volumes', `${v1.id}.raw`);
    assert.ok(existsSync(file), `the volume's file ${file}`);
    const ended = (name: string) => waitFor(`${name} ended`, async () => {
      const c = await statusOf(name);
      if (c.status === 'Error') throw new Error(`${name} went to Error: ${c.status_reason}`);
      return c.status === 'Stopped' && c;
    }, 60_000, 300);
    const logs = async (name: string) => (await os('appcontainer', 'logs', name)).trim();

    await os('appcontainer', 'run', '--name', 'writer', '--net', 'network=vol-net', '--mount', 'source=v1,destination=/data', image,
      'sh', '-c', 'echo kept-42 > /data/f && grep " /data " /proc/mounts');
    await ended('writer');
    assert.match(await logs('writer'), /^\S+ \/data ext4 rw/m, 'an ext4 filesystem made on first use, mounted read-write');
    const inUse = await osJson('volume', 'show', 'v1');
    assert.equal(inUse.status, 'in-use', 'in use while its container exists, even stopped');
    await os('appcontainer', 'delete', 'writer');
    await waitFor('v1 given back', async () => (await osJson('volume', 'show', 'v1')).status === 'available', 30_000, 200);
    assert.equal(loopsOver(file), '', 'no loop device over the volume once its container is gone');

    await os('appcontainer', 'run', '--name', 'reader', '--net', 'network=vol-net', '--mount', `source=${v1.id},destination=/data`, image, 'cat', '/data/f');
    await ended('reader');
    assert.equal(await logs('reader'), 'kept-42', 'the data persists');
    await os('appcontainer', 'delete', 'reader');

    await os('appcontainer', 'run', '--name', 'scratcher', '--net', 'network=vol-net', '--mount', 'size=1,destination=/scratch', image,
      'sh', '-c', 'echo s > /scratch/x && cat /scratch/x');
    await ended('scratcher');
    assert.equal(await logs('scratcher'), 's');
    assert.equal((await osJson('volume', 'list')).length, 2, 'v1 and the one made for scratcher');
    await os('appcontainer', 'delete', 'scratcher');
    await waitFor('the scratch volume deleted', async () => (await osJson('volume', 'list')).length === 1, 30_000, 300);

    // Below the driver's mounts dir (with crun that dir itself is a shared bind mount of its own).
    const volumeMounts = join(live.dir, 'volumes', 'mounts');
    assert.deepEqual(readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`${volumeMounts}/`)), [], 'no volume mount left');
    assert.equal(loopsOver(file), '', 'no loop device left');
    assert.deepEqual(execFileSync('losetup', ['--noheadings', '--output', 'BACK-FILE', '--list'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(live.dir)), [], 'no loop device over any of its volumes');
    await os('volume', 'delete', 'v1');
  });
});
