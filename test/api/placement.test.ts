import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';
import type { PlacementDeps } from '../../src/placement/context.js';
import { KumoError } from '../../src/errors.js';
import { allocationCandidates, claimAllocation, ensureComputeProvider, releaseAllocations, usagesOfProvider } from '../../src/placement/scheduling.js';
import { createSilentLogger } from '../../src/log.js';
import { ChangeSignal } from '../../src/store/revision.js';

const P = '/placement';
const V = (v: string) => ({ 'openstack-api-version': `placement ${v}` });

for (const dialect of DIALECTS) {
  describe(`placement API (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    let member: string;
    let deps: PlacementDeps;
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
      ({ token: member } = await k.member('pl-a', 'pia'));
      deps = { db: k.kumo.db, config: k.config, logger: createSilentLogger(), now: Date.now, newId: randomUUID, changes: new ChangeSignal() };
    });
    after(() => k.close());
    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const pl = (method: string, path: string, body?: unknown, version = '1.39', token = admin) => k.request(method, `${P}${path}`, { token, body, headers: V(version) });
    const ok = async (method: string, path: string, body?: unknown, version = '1.39') => {
      const res = await pl(method, path, body, version);
      assert.ok(res.statusCode < 300, `${method} ${path}: ${res.statusCode} ${res.body}`);
      return res.body ? json(res.body) : {};
    };
    const errorOf = (res: { body: string }) => json(res.body).errors[0] as { status: number; title: string; detail: string; code: string; request_id: string };
    const fails = async (res: Promise<{ statusCode: number; body: string }>, status: number, code: string | RegExp) => {
      const r = await res;
      assert.equal(r.statusCode, status, r.body);
      const e = errorOf(r);
      assert.equal(e.status, status);
      if (typeof code === 'string') assert.equal(e.code, code);
      else assert.match(e.detail, code);
      assert.match(e.request_id, /^req-/);
      return e;
    };
    const newProvider = async (name: string, inventories?: Record<string, unknown>) => {
      const rp = await ok('POST', '/resource_providers', { name });
      if (inventories) await ok('PUT', `/resource_providers/${rp.uuid}/inventories`, { resource_provider_generation: rp.generation, inventories });
      return rp as { uuid: string; generation: number; name: string };
    };
    const alloc = (rp: string, resources: Record<string, number>, extra: Record<string, unknown> = {}) => ({
      allocations: { [rp]: { resources } }, project_id: 'p1', user_id: 'u1', consumer_generation: null, consumer_type: 'INSTANCE', ...extra,
    });

    test('root document, microversion echo and 406 negotiation body; the catalog has placement', async () => {
      const root = await k.request('GET', P, { token: admin, headers: V('1.29') });
      assert.equal(root.statusCode, 200);
      const v = json(root.body).versions[0];
      assert.deepEqual([v.id, v.status, v.min_version, v.max_version], ['v1.0', 'CURRENT', '1.0', '1.39']);
      assert.equal(v.links[0].rel, 'self');
      assert.equal(root.headers['openstack-api-version'], 'placement 1.29');
      assert.match(String(root.headers.vary), /OpenStack-API-Version/);
      assert.equal((await k.request('GET', `${P}/`, {})).statusCode, 200, 'no token needed on the root');
      assert.equal((await pl('GET', '/resource_providers', undefined, 'latest')).headers['openstack-api-version'], 'placement 1.39');
      const e = await fails(pl('GET', '/resource_providers', undefined, '1.40'), 406, 'placement.undefined_code');
      assert.deepEqual([(e as any).max_version, (e as any).min_version], ['1.39', '1.0']);
      await fails(pl('GET', '/resource_providers', undefined, 'one'), 400, /invalid version/);
      assert.equal((await k.request('GET', `${P}/resource_providers`, { token: admin })).headers['openstack-api-version'], 'placement 1.0');
      const catalog = json((await k.request('GET', '/identity/v3/auth/catalog', { token: admin })).body).catalog;
      assert.match(catalog.find((s: { type: string }) => s.type === 'placement').endpoints[0].url, /\/placement$/);
    });

    test('non-admins get 403 and no token 401, in placement\'s error shape', async () => {
      await fails(pl('GET', '/resource_providers', undefined, '1.29', member), 403, /placement:resource_providers:list/);
      await fails(pl('POST', '/resource_providers', { name: 'x' }, '1.29', member), 403, 'placement.undefined_code');
      const anon = await k.request('GET', `${P}/resource_providers`, {});
      assert.equal(anon.statusCode, 401);
      assert.equal(errorOf(anon).status, 401);
      assert.equal(json((await pl('GET', '/resource_providers')).body).resource_providers.length, 0);
    });

    test('providers: create, show, list by filter, rename, unique names, tree fields from 1.14, delete', async () => {
      const rp = await newProvider('host-a');
      assert.equal(rp.generation, 0);
      assert.equal((rp as any).root_provider_uuid, rp.uuid);
      assert.equal((rp as any).parent_provider_uuid, null);
      assert.deepEqual((rp as any).links.map((l: { rel: string }) => l.rel), ['self', 'inventories', 'usages', 'aggregates', 'traits', 'allocations']);
      const old = await pl('POST', '/resource_providers', { name: 'host-old' }, '1.10');
      assert.equal(old.statusCode, 201);
      assert.equal(old.body, '');
      assert.match(String(old.headers.location), /\/placement\/resource_providers\/[0-9a-f-]{36}$/);
      const child = await ok('POST', '/resource_providers', { name: 'host-a-nic', parent_provider_uuid: rp.uuid });
      assert.equal(child.root_provider_uuid, rp.uuid);
      const shown = await ok('GET', `/resource_providers/${rp.uuid}`, undefined, '1.10');
      assert.equal(shown.root_provider_uuid, undefined, 'no tree fields before 1.14');
      assert.deepEqual((await ok('GET', '/resource_providers?name=host-a')).resource_providers.map((r: { uuid: string }) => r.uuid), [rp.uuid]);
      assert.deepEqual((await ok('GET', `/resource_providers?in_tree=${child.uuid}`)).resource_providers.map((r: { name: string }) => r.name), ['host-a', 'host-a-nic']);
      const listBefore = (await ok('GET', '/resource_providers')).resource_providers;
      await fails(pl('POST', '/resource_providers', { name: 'host-a' }), 409, 'placement.duplicate_name');
      await fails(pl('POST', '/resource_providers', { name: 'host-b', uuid: 'not-a-uuid' }), 400, /is not a 'uuid'/);
      await fails(pl('POST', '/resource_providers', { name: 'host-b', parent_provider_uuid: randomUUID() }), 400, /parent provider UUID does not exist/);
      await fails(pl('POST', '/resource_providers', { name: '' }), 400, /name/);
      await fails(pl('POST', '/resource_providers', { name: 'host-b', color: 'red' }), 400, /color/);
      assert.deepEqual((await ok('GET', '/resource_providers')).resource_providers, listBefore, 'refused creates changed nothing');
      await fails(pl('PUT', `/resource_providers/${child.uuid}`, { name: 'host-a' }), 409, 'placement.duplicate_name');
      await fails(pl('DELETE', `/resource_providers/${rp.uuid}`), 409, 'placement.resource_provider.cannot_delete_parent');
      const renamed = await ok('PUT', `/resource_providers/${child.uuid}`, { name: 'host-a-nic0' });
      assert.equal(renamed.name, 'host-a-nic0');
      assert.equal(renamed.generation, 1);
      await ok('DELETE', `/resource_providers/${child.uuid}`);
      await fails(pl('GET', `/resource_providers/${child.uuid}`), 404, 'placement.resource_provider.not_found');
      await ok('DELETE', `/resource_providers/${String(old.headers.location).split('/').pop()}`);
    });

    test('inventories: defaults, generation conflicts, one class at a time, bad input changes nothing', async () => {
      const rp = await newProvider('host-inv');
      const put = await ok('PUT', `/resource_providers/${rp.uuid}/inventories`, {
        resource_provider_generation: 0,
        inventories: { VCPU: { total: 8, allocation_ratio: 4.0 }, MEMORY_MB: { total: 4096, reserved: 512 }, DISK_GB: { total: 100, max_unit: 50 } },
      });
      assert.equal(put.resource_provider_generation, 1);
      assert.deepEqual(put.inventories.VCPU, { total: 8, reserved: 0, min_unit: 1, max_unit: 2147483647, step_size: 1, allocation_ratio: 4 });
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/inventories`, { resource_provider_generation: 0, inventories: {} }), 409, 'placement.concurrent_update');
      const before = await ok('GET', `/resource_providers/${rp.uuid}/inventories`);
      const bad: [unknown, number][] = [
        [{ resource_provider_generation: 1, inventories: { NOPE: { total: 1 } } }, 400],
        [{ resource_provider_generation: 1, inventories: { VCPU: { total: -1 } } }, 400],
        [{ resource_provider_generation: 1, inventories: { VCPU: { total: 4, reserved: 5 } } }, 400],
        [{ resource_provider_generation: 1, inventories: { VCPU: { total: 4, min_unit: 3, max_unit: 2 } } }, 400],
        [{ resource_provider_generation: 1, inventories: { VCPU: { total: 4, allocation_ratio: 0 } } }, 400],
        [{ resource_provider_generation: 1, inventories: { VCPU: { total: 4, color: 'red' } } }, 400],
        [{ inventories: { VCPU: { total: 4 } } }, 400],
      ];
      for (const [body, status] of bad) await fails(pl('PUT', `/resource_providers/${rp.uuid}/inventories`, body), status, /./);
      await fails(pl('PUT', `/resource_providers/${randomUUID()}/inventories`, { resource_provider_generation: 0, inventories: {} }), 404, 'placement.resource_provider.not_found');
      assert.deepEqual(await ok('GET', `/resource_providers/${rp.uuid}/inventories`), before, 'bad input changed nothing');
      const one = await ok('PUT', `/resource_providers/${rp.uuid}/inventories/VCPU`, { resource_provider_generation: 1, total: 16, allocation_ratio: 2 });
      assert.deepEqual([one.total, one.allocation_ratio, one.resource_provider_generation], [16, 2, 2]);
      assert.equal((await ok('GET', `/resource_providers/${rp.uuid}/inventories/MEMORY_MB`)).reserved, 512);
      await fails(pl('GET', `/resource_providers/${rp.uuid}/inventories/PCI_DEVICE`), 404, /No inventory of class PCI_DEVICE/);
      await ok('DELETE', `/resource_providers/${rp.uuid}/inventories/DISK_GB`);
      assert.deepEqual(Object.keys((await ok('GET', `/resource_providers/${rp.uuid}/inventories`)).inventories), ['MEMORY_MB', 'VCPU']);
      const created = await pl('POST', `/resource_providers/${rp.uuid}/inventories`, { resource_class: 'DISK_GB', total: 10 });
      assert.equal(created.statusCode, 201, created.body);
      await fails(pl('DELETE', `/resource_providers/${rp.uuid}/inventories`, undefined, '1.4'), 404, /could not be found/);
      await ok('DELETE', `/resource_providers/${rp.uuid}/inventories`);
      assert.deepEqual((await ok('GET', `/resource_providers/${rp.uuid}/inventories`)).inventories, {});
    });

    test('resource classes: standard listed, CUSTOM_* created idempotently and deleted; standard and in-use ones refused', async () => {
      const names = (await ok('GET', '/resource_classes')).resource_classes.map((r: { name: string }) => r.name);
      assert.deepEqual(names.slice(0, 3), ['VCPU', 'MEMORY_MB', 'DISK_GB']);
      assert.equal((await pl('PUT', '/resource_classes/CUSTOM_BAREMETAL_SMALL')).statusCode, 201);
      assert.equal((await pl('PUT', '/resource_classes/CUSTOM_BAREMETAL_SMALL')).statusCode, 204);
      assert.equal((await pl('POST', '/resource_classes', { name: 'CUSTOM_GOLD' })).statusCode, 201);
      await fails(pl('POST', '/resource_classes', { name: 'CUSTOM_GOLD' }), 409, 'placement.duplicate_name');
      await fails(pl('POST', '/resource_classes', { name: 'GOLD' }), 400, /name/);
      await fails(pl('PUT', '/resource_classes/lower'), 400, /CUSTOM_/);
      assert.equal((await ok('GET', '/resource_classes/CUSTOM_GOLD')).name, 'CUSTOM_GOLD');
      await fails(pl('DELETE', '/resource_classes/VCPU'), 400, /standard/);
      const rp = await newProvider('bm-1', { CUSTOM_BAREMETAL_SMALL: { total: 1 } });
      await fails(pl('DELETE', '/resource_classes/CUSTOM_BAREMETAL_SMALL'), 409, /in use/);
      await ok('DELETE', `/resource_providers/${rp.uuid}`);
      await ok('DELETE', '/resource_classes/CUSTOM_BAREMETAL_SMALL');
      await ok('DELETE', '/resource_classes/CUSTOM_GOLD');
      await fails(pl('GET', '/resource_classes/CUSTOM_GOLD'), 404, /No such resource class/);
    });

    test('traits: standard and custom, filters, provider traits with generation', async () => {
      const all = (await ok('GET', '/traits')).traits as string[];
      assert.ok(all.includes('COMPUTE_VOLUME_ATTACH') && all.includes('HW_CPU_X86_AVX2'));
      assert.equal((await pl('PUT', '/traits/CUSTOM_FAST_DISK')).statusCode, 201);
      assert.equal((await pl('PUT', '/traits/CUSTOM_FAST_DISK')).statusCode, 204);
      await fails(pl('PUT', '/traits/FAST_DISK'), 400, /CUSTOM_/);
      assert.equal((await pl('GET', '/traits/CUSTOM_FAST_DISK')).statusCode, 204);
      assert.deepEqual((await ok('GET', '/traits?name=startswith:CUSTOM_')).traits, ['CUSTOM_FAST_DISK']);
      assert.deepEqual((await ok('GET', '/traits?name=in:CUSTOM_FAST_DISK,HW_CPU_X86_SSE2,NOPE')).traits, ['CUSTOM_FAST_DISK', 'HW_CPU_X86_SSE2']);
      const rp = await newProvider('host-traits');
      const set = await ok('PUT', `/resource_providers/${rp.uuid}/traits`, { traits: ['CUSTOM_FAST_DISK', 'HW_CPU_X86_AVX2'], resource_provider_generation: 0 });
      assert.deepEqual(set, { traits: ['CUSTOM_FAST_DISK', 'HW_CPU_X86_AVX2'], resource_provider_generation: 1 });
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/traits`, { traits: [], resource_provider_generation: 0 }), 409, 'placement.concurrent_update');
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/traits`, { traits: ['CUSTOM_NOPE'], resource_provider_generation: 1 }), 400, /No such trait/);
      assert.deepEqual((await ok('GET', `/resource_providers/${rp.uuid}/traits`)).traits, ['CUSTOM_FAST_DISK', 'HW_CPU_X86_AVX2'], 'refused writes changed nothing');
      assert.deepEqual((await ok('GET', '/traits?associated=true')).traits, ['CUSTOM_FAST_DISK', 'HW_CPU_X86_AVX2']);
      assert.deepEqual((await ok('GET', '/resource_providers?required=CUSTOM_FAST_DISK')).resource_providers.map((r: { name: string }) => r.name), ['host-traits']);
      assert.ok(!(await ok('GET', '/resource_providers?required=!CUSTOM_FAST_DISK')).resource_providers.some((r: { name: string }) => r.name === 'host-traits'));
      await fails(pl('DELETE', '/traits/CUSTOM_FAST_DISK'), 409, /in use/);
      await fails(pl('DELETE', '/traits/HW_CPU_X86_AVX2'), 400, /standard/);
      await ok('DELETE', `/resource_providers/${rp.uuid}/traits`);
      await ok('DELETE', '/traits/CUSTOM_FAST_DISK');
      await fails(pl('GET', '/traits/CUSTOM_FAST_DISK'), 404, /No such trait/);
      await ok('DELETE', `/resource_providers/${rp.uuid}`);
    });

    test('aggregates: with generation from 1.19, the bare list before; member_of filters providers', async () => {
      const rp = await newProvider('host-agg');
      const [a1, a2] = [randomUUID(), randomUUID()];
      const set = await ok('PUT', `/resource_providers/${rp.uuid}/aggregates`, { aggregates: [a1, a2], resource_provider_generation: 0 });
      assert.deepEqual(set, { aggregates: [a1, a2].sort(), resource_provider_generation: 1 });
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/aggregates`, { aggregates: [], resource_provider_generation: 0 }), 409, 'placement.concurrent_update');
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/aggregates`, { aggregates: ['not-a-uuid'], resource_provider_generation: 1 }), 400, /uuid/);
      assert.deepEqual(await ok('GET', `/resource_providers/${rp.uuid}/aggregates`, undefined, '1.1'), { aggregates: [a1, a2].sort() });
      assert.deepEqual(await ok('PUT', `/resource_providers/${rp.uuid}/aggregates`, [a1], '1.18'), { aggregates: [a1] });
      assert.deepEqual((await ok('GET', `/resource_providers?member_of=in:${a1},${a2}`)).resource_providers.map((r: { name: string }) => r.name), ['host-agg']);
      assert.deepEqual((await ok('GET', `/resource_providers?member_of=${a2}`)).resource_providers, []);
      await ok('DELETE', `/resource_providers/${rp.uuid}`);
    });

    test('allocations: PUT/GET/DELETE with consumer generations, usages, inventory in use, capacity and constraints', async () => {
      const rp = await newProvider('host-alloc', { VCPU: { total: 4, allocation_ratio: 2 }, MEMORY_MB: { total: 2048, step_size: 256 }, DISK_GB: { total: 20, max_unit: 10 } });
      const c1 = randomUUID();
      assert.equal((await pl('PUT', `/allocations/${c1}`, alloc(rp.uuid, { VCPU: 2, MEMORY_MB: 512 }))).statusCode, 204);
      const got = await ok('GET', `/allocations/${c1}`);
      assert.deepEqual(got, { allocations: { [rp.uuid]: { generation: 2, resources: { MEMORY_MB: 512, VCPU: 2 } } }, project_id: 'p1', user_id: 'u1', consumer_generation: 1, consumer_type: 'INSTANCE' });
      assert.equal((await ok('GET', `/allocations/${c1}`, undefined, '1.12')).consumer_generation, undefined);
      await fails(pl('PUT', `/allocations/${c1}`, alloc(rp.uuid, { VCPU: 1 })), 409, 'placement.concurrent_update');
      await fails(pl('PUT', `/allocations/${c1}`, alloc(rp.uuid, { VCPU: 1 }, { consumer_generation: 7 })), 409, 'placement.concurrent_update');
      await ok('PUT', `/allocations/${c1}`, alloc(rp.uuid, { VCPU: 3, MEMORY_MB: 512 }, { consumer_generation: 1 }));
      assert.deepEqual(await ok('GET', `/resource_providers/${rp.uuid}/usages`), { resource_provider_generation: 3, usages: { DISK_GB: 0, MEMORY_MB: 512, VCPU: 3 } });
      const usageBefore = await ok('GET', `/resource_providers/${rp.uuid}/usages`);
      const c2 = randomUUID();
      // VCPU capacity is (4 - 0) * 2 = 8: 3 used, 6 more is over.
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { VCPU: 6 })), 409, /exceed the capacity/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { MEMORY_MB: 100 })), 400, /violate inventory constraints/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { DISK_GB: 11 })), 400, /violate inventory constraints/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { PCI_DEVICE: 1 })), 409, /Inventory for 'PCI_DEVICE'/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { CUSTOM_NOPE: 1 })), 400, /Unknown resource class/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(randomUUID(), { VCPU: 1 })), 400, /does not exist/);
      await fails(pl('PUT', `/allocations/${c2}`, alloc(rp.uuid, { VCPU: 0 })), 400, /./);
      await fails(pl('PUT', `/allocations/not-a-uuid`, alloc(rp.uuid, { VCPU: 1 })), 400, /Malformed consumer_uuid/);
      await fails(pl('PUT', `/allocations/${c2}`, { allocations: { [rp.uuid]: { resources: { VCPU: 1 } } }, project_id: 'p1', user_id: 'u1' }), 400, /consumer_generation/);
      assert.deepEqual(await ok('GET', `/resource_providers/${rp.uuid}/usages`), usageBefore, 'refused claims changed nothing');
      assert.deepEqual(await ok('GET', `/allocations/${c2}`), { allocations: {} });
      // Bulk POST: both or neither.
      const c3 = randomUUID();
      await fails(pl('POST', '/allocations', { [c2]: alloc(rp.uuid, { VCPU: 1 }), [c3]: alloc(rp.uuid, { VCPU: 5 }) }), 409, /exceed the capacity/);
      assert.deepEqual(await ok('GET', `/allocations/${c2}`), { allocations: {} });
      await ok('POST', '/allocations', { [c2]: alloc(rp.uuid, { VCPU: 1 }, { project_id: 'p2' }), [c3]: alloc(rp.uuid, { DISK_GB: 10 }, { project_id: 'p2', user_id: 'u9', consumer_type: 'MIGRATION' }) });
      const byRp = await ok('GET', `/resource_providers/${rp.uuid}/allocations`);
      assert.deepEqual(byRp.allocations[c3], { resources: { DISK_GB: 10 } });
      assert.equal(Object.keys(byRp.allocations).length, 3);
      assert.deepEqual(await ok('GET', '/usages?project_id=p2', undefined, '1.9'), { usages: { DISK_GB: 10, VCPU: 1 } });
      assert.deepEqual(await ok('GET', '/usages?project_id=p2&user_id=u9', undefined, '1.29'), { usages: { DISK_GB: 10 } });
      assert.deepEqual(await ok('GET', '/usages?project_id=p2'), {
        usages: { INSTANCE: { VCPU: 1, consumer_count: 1 }, MIGRATION: { DISK_GB: 10, consumer_count: 1 } },
      });
      assert.deepEqual(await ok('GET', '/usages?project_id=p2&consumer_type=all'), { usages: { all: { DISK_GB: 10, VCPU: 1, consumer_count: 2 } } });
      assert.deepEqual(await ok('GET', '/usages?project_id=p2&consumer_type=MIGRATION'), { usages: { MIGRATION: { DISK_GB: 10, consumer_count: 1 } } });
      await fails(pl('GET', '/usages'), 400, /project_id/);
      // Inventory that allocations use cannot go away, nor can the provider.
      await fails(pl('DELETE', `/resource_providers/${rp.uuid}/inventories/VCPU`), 409, 'placement.inventory.inuse');
      const gen = (await ok('GET', `/resource_providers/${rp.uuid}/inventories`)).resource_provider_generation;
      await fails(pl('PUT', `/resource_providers/${rp.uuid}/inventories`, { resource_provider_generation: gen, inventories: { VCPU: { total: 4 } } }), 409, 'placement.inventory.inuse');
      await fails(pl('DELETE', `/resource_providers/${rp.uuid}`), 409, 'placement.resource_provider.inuse');
      // The pre-1.12 list form and empty allocations (1.28+) that remove a consumer.
      const c4 = randomUUID();
      assert.equal((await pl('PUT', `/allocations/${c4}`, { allocations: [{ resource_provider: { uuid: rp.uuid }, resources: { VCPU: 1 } }], project_id: 'p3', user_id: 'u3' }, '1.10')).statusCode, 204);
      await ok('PUT', `/allocations/${c4}`, { allocations: {}, project_id: 'p3', user_id: 'u3', consumer_generation: 1, consumer_type: 'INSTANCE' });
      assert.deepEqual(await ok('GET', `/allocations/${c4}`), { allocations: {} });
      for (const c of [c1, c2, c3]) await ok('DELETE', `/allocations/${c}`);
      await fails(pl('DELETE', `/allocations/${c1}`), 404, /No allocations for consumer/);
      assert.deepEqual((await ok('GET', `/resource_providers/${rp.uuid}/usages`)).usages, { DISK_GB: 0, MEMORY_MB: 0, VCPU: 0 });
      await ok('DELETE', `/resource_providers/${rp.uuid}`);
    });

    test('allocation candidates filter by capacity and traits, in the shape of the microversion', async () => {
      const big = await newProvider('cand-big', { VCPU: { total: 8 }, MEMORY_MB: { total: 8192 }, DISK_GB: { total: 100 } });
      const small = await newProvider('cand-small', { VCPU: { total: 2 }, MEMORY_MB: { total: 1024 }, DISK_GB: { total: 10 } });
      await ok('PUT', `/resource_providers/${small.uuid}/traits`, { traits: ['HW_CPU_X86_AVX2'], resource_provider_generation: 1 });
      const res = await ok('GET', '/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:1', undefined, '1.29');
      assert.deepEqual(res.allocation_requests.map((r: any) => Object.keys(r.allocations)[0]), [big.uuid, small.uuid], 'most free memory first');
      assert.deepEqual(res.allocation_requests[0], { allocations: { [big.uuid]: { resources: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } } });
      assert.deepEqual(res.provider_summaries[small.uuid], {
        resources: { DISK_GB: { capacity: 10, used: 0 }, MEMORY_MB: { capacity: 1024, used: 0 }, VCPU: { capacity: 2, used: 0 } },
        traits: ['HW_CPU_X86_AVX2'], parent_provider_uuid: null, root_provider_uuid: small.uuid,
      });
      assert.deepEqual(Object.keys((await ok('GET', '/allocation_candidates?resources=VCPU:4')).provider_summaries), [big.uuid]);
      assert.deepEqual(Object.keys((await ok('GET', '/allocation_candidates?resources=VCPU:1&required=HW_CPU_X86_AVX2')).provider_summaries), [small.uuid]);
      assert.deepEqual(Object.keys((await ok('GET', '/allocation_candidates?resources=VCPU:1&required=!HW_CPU_X86_AVX2')).provider_summaries), [big.uuid]);
      assert.equal((await ok('GET', '/allocation_candidates?resources=VCPU:1&limit=1')).allocation_requests.length, 1);
      assert.deepEqual((await ok('GET', '/allocation_candidates?resources=VCPU:1&limit=1', undefined, '1.34')).allocation_requests[0].mappings, { '': [big.uuid] });
      assert.deepEqual((await ok('GET', '/allocation_candidates?resources=VCPU:1', undefined, '1.10')).allocation_requests[0].allocations, [{ resource_provider: { uuid: big.uuid }, resources: { VCPU: 1 } }]);
      assert.deepEqual((await ok('GET', '/resource_providers?resources=VCPU:3')).resource_providers.map((r: { name: string }) => r.name), ['cand-big']);
      await ok('PUT', `/allocations/${randomUUID()}`, alloc(small.uuid, { VCPU: 2 }));
      assert.deepEqual(Object.keys((await ok('GET', '/allocation_candidates?resources=VCPU:1')).provider_summaries), [big.uuid], 'a full provider is no candidate');
      await fails(pl('GET', '/allocation_candidates?resources=VCPU:x'), 400, 'placement.query.bad_value');
      await fails(pl('GET', '/allocation_candidates'), 400, /resources/);
      await fails(pl('GET', '/allocation_candidates?resources=CUSTOM_NOPE:1'), 400, /Unknown resource class/);
      await fails(pl('GET', '/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE'), 400, /No such trait/);
      const viaFn = await allocationCandidates(k.kumo.db, { resources: { VCPU: 6 } });
      assert.deepEqual(viaFn.map((c) => c.name), ['cand-big']);
    });

    test('exported functions: ensureComputeProvider is idempotent, refuses to shrink below usage; claim and release', async () => {
      const spec = { name: 'compute-1', inventories: { VCPU: { total: 4 }, MEMORY_MB: { total: 4096 }, DISK_GB: { total: 40 } }, traits: ['COMPUTE_NODE', 'CUSTOM_KUMO'] };
      const rp = await ensureComputeProvider(deps, spec);
      const again = await ensureComputeProvider(deps, spec);
      assert.equal(again.uuid, rp.uuid);
      assert.deepEqual((await ok('GET', `/resource_providers/${rp.uuid}/traits`)).traits, ['COMPUTE_NODE', 'CUSTOM_KUMO']);
      const server = randomUUID();
      await claimAllocation(deps, { consumerId: server, projectId: 'p', userId: 'u', providerId: rp.uuid, resources: { VCPU: 3, MEMORY_MB: 1024 } });
      await assert.rejects(ensureComputeProvider(deps, { ...spec, inventories: { ...spec.inventories, VCPU: { total: 2 } } }), (err: KumoError) => err.status === 409 && /below the 3 already allocated/.test(err.message));
      assert.equal((await ok('GET', `/resource_providers/${rp.uuid}/inventories/VCPU`)).total, 4, 'the refused update changed nothing');
      await ensureComputeProvider(deps, { ...spec, inventories: { ...spec.inventories, VCPU: { total: 8 } } });
      assert.equal((await usagesOfProvider(k.kumo.db, rp.uuid)).usages.VCPU, 3);
      await assert.rejects(claimAllocation(deps, { consumerId: randomUUID(), projectId: 'p', userId: 'u', providerId: rp.uuid, resources: { MEMORY_MB: 4000 } }), (err: KumoError) => err.status === 409 && /exceed the capacity/.test(err.message));
      assert.equal(await releaseAllocations(deps, server), true);
      assert.equal(await releaseAllocations(deps, server), false);
      assert.equal((await usagesOfProvider(k.kumo.db, rp.uuid)).usages.VCPU, 0);
    });

    test('concurrent claims for one small provider never overcommit it: exported claims and HTTP PUTs', async () => {
      const rp = await ensureComputeProvider(deps, { name: 'tiny', inventories: { VCPU: { total: 5 }, MEMORY_MB: { total: 5000 } } });
      const claims = Array.from({ length: 12 }, () => claimAllocation(deps, { consumerId: randomUUID(), projectId: 'p', userId: 'u', providerId: rp.uuid, resources: { VCPU: 1, MEMORY_MB: 1000 } }));
      const results = await Promise.allSettled(claims);
      const won = results.filter((r) => r.status === 'fulfilled').length;
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as KumoError).status, 409, String(r.reason));
      const usage = (await usagesOfProvider(k.kumo.db, rp.uuid)).usages;
      assert.ok(usage.VCPU <= 5 && usage.MEMORY_MB <= 5000, JSON.stringify(usage));
      assert.equal(usage.VCPU, won, 'every success is counted, no more');
      assert.equal(won, 5, 'retries on a moved generation fill the provider exactly');

      const http = await ensureComputeProvider(deps, { name: 'tiny-http', inventories: { VCPU: { total: 3 } } });
      const puts = await Promise.all(Array.from({ length: 10 }, () => pl('PUT', `/allocations/${randomUUID()}`, alloc(http.uuid, { VCPU: 1 }))));
      const codes = puts.map((r) => r.statusCode);
      assert.ok(codes.every((c) => c === 204 || c === 409), codes.join(','));
      const httpUsage = await ok('GET', `/resource_providers/${http.uuid}/usages`);
      assert.equal(httpUsage.usages.VCPU, codes.filter((c) => c === 204).length);
      assert.equal(httpUsage.usages.VCPU, 3);
    });
  });
}
