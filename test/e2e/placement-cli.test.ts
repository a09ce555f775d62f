/**
 * End to end: the real `openstack` CLI with the osc-placement plugin (it negotiates 1.29 from
 * the root document) against `kumo up`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { kumoUpForCli, openstackCli, run, stop } from '../support/kumo-process.js';
import type { Live } from '../support/kumo-process.js';

describe('openstack resource provider/class/trait (osc-placement) against kumo up', () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  const { os, osJson, osFails: osFailsWith } = openstackCli(() => env);
  const osFails = (args: string[], pattern: RegExp) => osFailsWith(['--os-cloud', 'kumo', ...args], pattern);

  before(async () => {
    // Placement needs no host objects: the agent stays off.
    ({ live, env } = await kumoUpForCli(['--agent', 'off']));
  });
  after(async () => {
    await stop(live);
    rmSync(live.dir, { recursive: true, force: true });
  });

  test('providers, inventories, classes, traits, allocations and usages', async () => {
    const rp = await osJson('resource', 'provider', 'create', 'compute-e2e');
    assert.equal(rp.name, 'compute-e2e');
    assert.equal(rp.root_provider_uuid, rp.uuid, 'negotiated 1.29 shows the tree fields');
    await osFails(['resource', 'provider', 'create', 'compute-e2e'], /409|Conflicting resource provider name/);
    const listed = await osJson('resource', 'provider', 'list');
    assert.deepEqual(listed.map((r: { name: string }) => r.name), ['compute-e2e']);
    assert.equal((await osJson('resource', 'provider', 'show', rp.uuid)).generation, 0);

    await os('resource', 'provider', 'inventory', 'set', rp.uuid, '--resource', 'VCPU=4', '--resource', 'VCPU:allocation_ratio=2',
      '--resource', 'MEMORY_MB=2048', '--resource', 'MEMORY_MB:reserved=256', '--resource', 'DISK_GB=40');
    const inventory = await osJson('resource', 'provider', 'inventory', 'list', rp.uuid);
    const vcpu = inventory.find((i: { resource_class: string }) => i.resource_class === 'VCPU');
    assert.deepEqual([vcpu.total, vcpu.allocation_ratio, vcpu.used], [4, 2, 0]);
    assert.equal(inventory.find((i: { resource_class: string }) => i.resource_class === 'MEMORY_MB').reserved, 256);
    await osFails(['resource', 'provider', 'inventory', 'set', rp.uuid, '--resource', 'NOT_A_CLASS=1'], /400|Unknown resource class|NOT_A_CLASS/);

    await os('resource', 'class', 'create', 'CUSTOM_E2E_GOLD');
    const classes = (await osJson('resource', 'class', 'list')).map((c: { name: string }) => c.name);
    assert.ok(classes.includes('VCPU') && classes.includes('CUSTOM_E2E_GOLD'));
    const traits = (await osJson('trait', 'list')).map((t: { name: string }) => t.name);
    assert.ok(traits.includes('COMPUTE_VOLUME_ATTACH') && traits.includes('HW_CPU_X86_AVX2'));

    const consumer = '6e3a9b6c-3a4e-4c0e-9b53-2a3b1c4d5e6f';
    await os('resource', 'provider', 'allocation', 'set', consumer, '--project-id', 'p-e2e', '--user-id', 'u-e2e',
      '--allocation', `rp=${rp.uuid},VCPU=3,MEMORY_MB=512`);
    const shown = await osJson('resource', 'provider', 'allocation', 'show', consumer);
    assert.deepEqual(shown.map((a: { resource_provider: string; resources: Record<string, number> }) => [a.resource_provider, a.resources]), [[rp.uuid, { MEMORY_MB: 512, VCPU: 3 }]]);
    // VCPU capacity is 4 * 2 = 8: 3 are taken, 6 more do not fit.
    await osFails(['resource', 'provider', 'allocation', 'set', '7e3a9b6c-3a4e-4c0e-9b53-2a3b1c4d5e6f', '--project-id', 'p-e2e', '--user-id', 'u-e2e',
      '--allocation', `rp=${rp.uuid},VCPU=6`], /409|exceed the capacity/);
    const usage = await osJson('resource', 'provider', 'usage', 'show', rp.uuid);
    assert.deepEqual(Object.fromEntries(usage.map((u: { resource_class: string; usage: number }) => [u.resource_class, u.usage])), { DISK_GB: 0, MEMORY_MB: 512, VCPU: 3 });
    await osFails(['resource', 'provider', 'delete', rp.uuid], /409|has allocations/);

    await os('resource', 'provider', 'allocation', 'delete', consumer);
    await os('resource', 'provider', 'delete', rp.uuid);
    assert.deepEqual(await osJson('resource', 'provider', 'list'), []);
    await os('resource', 'class', 'delete', 'CUSTOM_E2E_GOLD');
  });

  test('a non-admin is refused', async () => {
    await os('project', 'create', 'pl-demo');
    await os('user', 'create', '--project', 'pl-demo', '--password', 'bob-pw', 'pl-bob');
    await os('role', 'add', '--project', 'pl-demo', '--user', 'pl-bob', 'member');
    const bobEnv = { ...env };
    for (const k of Object.keys(bobEnv)) if (k.startsWith('OS_')) delete bobEnv[k];
    const r = await run('openstack', ['--os-auth-url', `${live.url}/identity/v3`, '--os-username', 'pl-bob', '--os-password', 'bob-pw', '--os-project-name', 'pl-demo',
      '--os-user-domain-name', 'Default', '--os-project-domain-name', 'Default', '--os-region-name', 'RegionOne', '--os-identity-api-version', '3',
      'resource', 'provider', 'list'], bobEnv);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /403|Policy does not allow/);
  });
});
