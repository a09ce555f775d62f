/**
 * End to end: images through the real Debian `openstack` CLI (openstacksdk) and the legacy
 * `glance` client (which validates responses against the served schema), against `kumo up`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kumoUpForCli, openstackCli, run, tearDown } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';

describe('openstack image commands against kumo up', () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  const { os, osJson } = openstackCli(() => env);
  /** Another command (the glance client, the CLI as another user) that must succeed. */
  const cli = async (cmd: string, args: string[], e: NodeJS.ProcessEnv) => {
    const r = await run(cmd, args, e);
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    ({ live, env } = await kumoUpForCli(['--agent', 'off']));
  });
  after(() => tearDown(live));

  test('image create --file, list, show, set, save (same bytes), delete', async () => {
    const file = join(live.dir, 'disk.img');
    // Bigger than the API's 1 MiB JSON body limit: the upload is streamed.
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, data);
    const created = await osJson('image', 'create', '--file', file, '--disk-format', 'qcow2', '--container-format', 'bare', 'cirros-e2e');
    assert.equal(created.name, 'cirros-e2e');
    assert.ok((await osJson('image', 'list')).some((i: { Name: string; Status: string }) => i.Name === 'cirros-e2e' && i.Status === 'active'));
    const shown = await osJson('image', 'show', 'cirros-e2e');
    assert.equal(shown.id, created.id);
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(shown.size, data.length);
    assert.equal(shown.disk_format, 'qcow2');

    await os('image', 'set', '--property', 'os_distro=cirros', '--tag', 'e2e', '--min-ram', '64', 'cirros-e2e');
    const set = await osJson('image', 'show', 'cirros-e2e');
    assert.equal(set.properties.os_distro, 'cirros');
    assert.deepEqual(set.tags, ['e2e']);
    assert.equal(set.min_ram, 64);

    const out = join(live.dir, 'saved.img');
    await os('image', 'save', '--file', out, 'cirros-e2e');
    assert.ok(readFileSync(out).equals(data), 'image save returns the uploaded bytes');

    await os('image', 'delete', 'cirros-e2e');
    assert.ok(!(await osJson('image', 'list')).some((i: { Name: string }) => i.Name === 'cirros-e2e'));
    const gone = await run('openstack', ['--os-cloud', 'kumo', 'image', 'show', 'cirros-e2e'], env);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No Image found for cirros-e2e|Could not find resource/);
  });

  test('image create --import: glance-direct (stage, then import)', async () => {
    const file = join(live.dir, 'import.img');
    const data = randomBytes(300 * 1024);
    writeFileSync(file, data);
    await osJson('image', 'create', '--import', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', 'imported-e2e');
    const shown = await osJson('image', 'show', 'imported-e2e');
    assert.equal(shown.status, 'active');
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    const out = join(live.dir, 'imported.out');
    await os('image', 'save', '--file', out, 'imported-e2e');
    assert.ok(readFileSync(out).equals(data));
    await os('image', 'delete', 'imported-e2e');
  });

  test('sharing: image add project, the member accepts, then lists it', async () => {
    const file = join(live.dir, 'shared.img');
    writeFileSync(file, randomBytes(4096));
    await osJson('image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', '--shared', 'shared-e2e');
    await os('project', 'create', 'img-demo');
    await os('user', 'create', '--project', 'img-demo', '--password', 'dana-pw', 'dana');
    await os('role', 'add', '--project', 'img-demo', '--user', 'dana', 'member');
    const dEnv = { ...env, OS_CLIENT_CONFIG_FILE: join(live.dir, 'dana.yaml') };
    writeFileSync(dEnv.OS_CLIENT_CONFIG_FILE, readFileSync(join(live.dir, 'clouds.yaml'), 'utf8')
      .replace('username: "admin"', 'username: "dana"').replace(/password: .*/, 'password: "dana-pw"').replace('project_name: "admin"', 'project_name: "img-demo"'));
    const dana = (...args: string[]) => cli('openstack', ['--os-cloud', 'kumo', ...args], dEnv);

    assert.ok(!JSON.parse(await dana('image', 'list', '-f', 'json')).some((i: { Name: string }) => i.Name === 'shared-e2e'));
    const member = await osJson('image', 'add', 'project', 'shared-e2e', 'img-demo');
    assert.equal(member.status, 'pending');
    const id = (await osJson('image', 'show', 'shared-e2e')).id as string;
    await dana('image', 'set', '--accept', id);
    assert.ok(JSON.parse(await dana('image', 'list', '-f', 'json')).some((i: { Name: string }) => i.Name === 'shared-e2e'));
    const members = await osJson('image', 'member', 'list', 'shared-e2e');
    assert.deepEqual(members.map((m: { Status: string }) => m.Status), ['accepted']);
    await os('image', 'remove', 'project', 'shared-e2e', 'img-demo');
    assert.ok(!JSON.parse(await dana('image', 'list', '-f', 'json')).some((i: { Name: string }) => i.Name === 'shared-e2e'));
    await os('image', 'delete', 'shared-e2e');
  });

  test('the legacy glance client: image-create, image-list and image-show against the served schema', async () => {
    const gEnv: NodeJS.ProcessEnv = { ...env };
    for (const line of readFileSync(join(live.dir, 'admin-openrc.sh'), 'utf8').split('\n')) {
      const m = /^export (\w+)=(.*)$/.exec(line);
      if (m) gEnv[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
    }
    const file = join(live.dir, 'glance.img');
    writeFileSync(file, randomBytes(70000));
    const created = await cli('glance', ['image-create', '--name', 'legacy-e2e', '--disk-format', 'raw', '--container-format', 'bare', '--file', file], gEnv);
    assert.match(created, /status\s+\|\s+active/);
    const id = /\|\s+id\s+\|\s+([0-9a-f-]{36})/.exec(created)?.[1];
    assert.ok(id);
    assert.match(await cli('glance', ['image-list'], gEnv), /legacy-e2e/);
    assert.match(await cli('glance', ['image-show', id], gEnv), /virtual_size\s+\|\s+70000/);
    const missing = await run('glance', ['image-show', '00000000-0000-4000-8000-000000000000'], gEnv);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /404 Not Found: No image found with ID/);
    await cli('glance', ['image-delete', id], gEnv);
  });
});
