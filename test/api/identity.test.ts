import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../support/db.js';
import { startTestKumo } from '../support/kumo.js';
import type { TestKumo } from '../support/kumo.js';

const V3 = '/identity/v3';

for (const dialect of DIALECTS) {
  describe(`identity API (${dialect})`, () => {
    let k: TestKumo;
    let admin: string;
    before(async () => {
      k = await startTestKumo(dialect);
      admin = await k.adminToken();
    });
    after(() => k.close());

    const json = (body: string) => JSON.parse(body) as Record<string, any>;
    const create = async (kind: string, body: Record<string, unknown>) => {
      const res = await k.request('POST', `${V3}/${kind}s`, { token: admin, body: { [kind]: body } });
      assert.equal(res.statusCode, 201, res.body);
      return json(res.body)[kind];
    };
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const c of ['projects', 'users', 'groups', 'roles', 'domains', 'role_assignments']) {
        out[c] = json((await k.request('GET', `${V3}/${c}`, { token: admin })).body)[c];
      }
      return out;
    };

    test('version documents carry self links with the path prefix', async () => {
      const root = await k.request('GET', '/identity');
      assert.equal(root.statusCode, 300);
      assert.equal(json(root.body).versions.values[0].links[0].href, `${k.config.publicUrl}/identity/v3/`);
      const v3 = await k.request('GET', `${V3}`);
      assert.equal(v3.statusCode, 200);
      assert.equal(json(v3.body).version.id, 'v3.14');
    });

    test('password authentication issues a scoped token with catalog and roles', async () => {
      const res = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: k.kumo.adminPassword, domain: { name: 'Default' } } } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } } },
      });
      assert.equal(res.statusCode, 201);
      assert.ok(res.headers['x-subject-token']);
      const t = json(res.body).token;
      assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.deepEqual(t.roles.map((r: { name: string }) => r.name).sort(), ['admin', 'member', 'reader']);
      assert.equal(t.project.name, 'admin');
      assert.ok(t.catalog.some((s: { type: string }) => s.type === 'identity'));
      const nocat = await k.request('POST', `${V3}/auth/tokens?nocatalog`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: k.kumo.adminPassword, domain: { id: 'default' } } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } },
      });
      assert.equal(nocat.statusCode, 201);
      assert.equal(json(nocat.body).token.catalog, undefined);
    });

    test('wrong password, unknown user and missing token are 401 with WWW-Authenticate', async () => {
      const bad = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: 'nope', domain: { id: 'default' } } } } } },
      });
      assert.equal(bad.statusCode, 401);
      assert.equal(json(bad.body).error.code, 401);
      assert.match(String(bad.headers['www-authenticate']), /^Keystone uri=".*\/identity"$/, 'every 401 says where to authenticate');
      const anon = await k.request('GET', `${V3}/projects`);
      assert.equal(anon.statusCode, 401);
      assert.match(String(anon.headers['www-authenticate']), /^Keystone uri="/);
      const garbage = await k.request('GET', `${V3}/projects`, { token: 'gAAAAAgarbage' });
      assert.equal(garbage.statusCode, 401);
    });

    test('validate, HEAD and revoke a token; a revoked token is refused at once', async () => {
      const t = await k.login('admin', k.kumo.adminPassword);
      const v = await k.request('GET', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': t } });
      assert.equal(v.statusCode, 200);
      assert.equal(v.headers['x-subject-token'], t);
      assert.equal((await k.request('HEAD', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': t } })).statusCode, 200);
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 200);
      assert.equal((await k.request('DELETE', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': t } })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': t } })).statusCode, 404);
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 401);
    });

    test('token method rescoping keeps the expiry and chains the audit ids', async () => {
      const unscoped = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: k.kumo.adminPassword, domain: { id: 'default' } } } } } },
      });
      const t1 = String(unscoped.headers['x-subject-token']);
      const first = json(unscoped.body).token;
      const res = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['token'], token: { id: t1 } }, scope: { domain: { id: 'default' } } } },
      });
      assert.equal(res.statusCode, 201, res.body);
      const second = json(res.body).token;
      assert.equal(second.expires_at, first.expires_at);
      assert.equal(second.audit_ids[1], first.audit_ids[0]);
      assert.equal(second.domain.id, 'default');
    });

    test('an expired token is refused', async () => {
      const t = await k.login('admin', k.kumo.adminPassword);
      k.advance(3601 * 1000);
      try {
        assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 401);
      } finally {
        k.advance(-3601 * 1000);
      }
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 200);
    });

    test('key rotation keeps live tokens valid until their key leaves the repository', async () => {
      const t = await k.login('admin', k.kumo.adminPassword);
      k.kumo.identity.keys.rotate();
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 200);
      const fresh = await k.login('admin', k.kumo.adminPassword);
      assert.equal((await k.request('GET', `${V3}/projects`, { token: fresh })).statusCode, 200);
      // With 3 active keys (staged, primary, one secondary) the key that signed `t` goes now.
      k.kumo.identity.keys.rotate();
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 401);
      assert.equal((await k.request('GET', `${V3}/projects`, { token: fresh })).statusCode, 200);
      admin = fresh;
    });

    test('bad input: malformed JSON, wrong types, missing fields, unknown ids, duplicates — and nothing changes', async () => {
      const before = await snapshot();
      const malformed = await k.request('POST', `${V3}/projects`, { token: admin, rawBody: '{"project": {' });
      assert.equal(malformed.statusCode, 400);
      assert.equal(json(malformed.body).error.title, 'Bad Request');
      const wrongType = await k.request('POST', `${V3}/projects`, { token: admin, body: { project: { name: 'x', enabled: 'yes' } } });
      assert.equal(wrongType.statusCode, 400);
      assert.match(json(wrongType.body).error.message, /enabled/);
      const missing = await k.request('POST', `${V3}/users`, { token: admin, body: { user: { password: 'x' } } });
      assert.equal(missing.statusCode, 400);
      assert.match(json(missing.body).error.message, /name/);
      const unknownDomain = await k.request('POST', `${V3}/projects`, { token: admin, body: { project: { name: 'p', domain_id: 'nope' } } });
      assert.equal(unknownDomain.statusCode, 404);
      assert.equal((await k.request('GET', `${V3}/projects/nope`, { token: admin })).statusCode, 404);
      assert.equal((await k.request('DELETE', `${V3}/users/nope`, { token: admin })).statusCode, 404);
      const dup = await k.request('POST', `${V3}/projects`, { token: admin, body: { project: { name: 'admin' } } });
      assert.equal(dup.statusCode, 409);
      assert.match(json(dup.body).error.message, /Duplicate entry/);
      assert.equal((await k.request('PUT', `${V3}/projects/nope/users/nope/roles/nope`, { token: admin })).statusCode, 404);
      assert.deepEqual(await snapshot(), before);
    });

    test('CRUD: domain, project tree, user, group membership, role and implied role', async () => {
      const domain = await create('domain', { name: 'd1', description: 'test' });
      assert.equal(domain.enabled, true);
      const parent = await create('project', { name: 'parent', domain_id: domain.id });
      const child = await create('project', { name: 'child', parent_id: parent.id, tags: ['a', 'b'] });
      assert.equal(child.domain_id, domain.id);
      assert.equal(child.parent_id, parent.id);
      assert.deepEqual(child.tags, ['a', 'b']);
      const listed = json((await k.request('GET', `${V3}/projects?tags=a`, { token: admin })).body).projects;
      assert.deepEqual(listed.map((p: { id: string }) => p.id), [child.id]);
      const withParents = json((await k.request('GET', `${V3}/projects/${child.id}?parents_as_ids`, { token: admin })).body).project;
      assert.deepEqual(withParents.parents, { [parent.id]: null });
      assert.equal((await k.request('DELETE', `${V3}/projects/${parent.id}`, { token: admin })).statusCode, 403);
      const patched = await k.request('PATCH', `${V3}/projects/${child.id}`, { token: admin, body: { project: { description: 'new', color: 'blue' } } });
      assert.equal(json(patched.body).project.description, 'new');
      assert.equal(json(patched.body).project.color, 'blue');

      const user = await create('user', { name: 'u1', domain_id: domain.id, password: 'pw', email: 'u1@example.com' });
      assert.equal(user.email, 'u1@example.com');
      assert.equal(user.password, undefined);
      const group = await create('group', { name: 'g1', domain_id: domain.id });
      assert.equal((await k.request('PUT', `${V3}/groups/${group.id}/users/${user.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('HEAD', `${V3}/groups/${group.id}/users/${user.id}`, { token: admin })).statusCode, 204);
      const members = json((await k.request('GET', `${V3}/groups/${group.id}/users`, { token: admin })).body).users;
      assert.deepEqual(members.map((u: { id: string }) => u.id), [user.id]);

      const role = await create('role', { name: 'observer' });
      const implied = await create('role', { name: 'observer-lite' });
      const inf = await k.request('PUT', `${V3}/roles/${role.id}/implies/${implied.id}`, { token: admin });
      assert.equal(inf.statusCode, 201);
      const cycle = await k.request('PUT', `${V3}/roles/${implied.id}/implies/${role.id}`, { token: admin });
      assert.equal(cycle.statusCode, 403);

      // A group role inherited from the domain reaches the child project, with the implied role.
      assert.equal((await k.request('PUT', `${V3}/OS-INHERIT/domains/${domain.id}/groups/${group.id}/roles/${role.id}/inherited_to_projects`, { token: admin })).statusCode, 204);
      const eff = json((await k.request('GET', `${V3}/role_assignments?effective&include_names&user.id=${user.id}`, { token: admin })).body).role_assignments;
      const pairs = eff.map((a: any) => `${a.scope.project?.name}:${a.role.name}`).sort();
      assert.deepEqual(pairs, ['child:observer', 'child:observer-lite', 'parent:observer', 'parent:observer-lite']);
      assert.ok(eff.every((a: any) => a.user.name === 'u1' && a.links.membership));

      const token = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: 'pw' } } }, scope: { project: { id: child.id } } } },
      });
      assert.equal(token.statusCode, 201, token.body);
      assert.deepEqual(json(token.body).token.roles.map((r: { name: string }) => r.name), ['observer', 'observer-lite']);

      assert.equal((await k.request('DELETE', `${V3}/domains/${domain.id}`, { token: admin })).statusCode, 403);
      await k.request('PATCH', `${V3}/domains/${domain.id}`, { token: admin, body: { domain: { enabled: false } } });
      assert.equal((await k.request('DELETE', `${V3}/domains/${domain.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/users/${user.id}`, { token: admin })).statusCode, 404);
    });

    test('isolation: a member of project A can neither see nor change project B', async () => {
      const a = await create('project', { name: 'iso-a' });
      const b = await create('project', { name: 'iso-b' });
      const user = await create('user', { name: 'iso-user', password: 'pw', default_project_id: a.id });
      const member = json((await k.request('GET', `${V3}/roles?name=member`, { token: admin })).body).roles[0];
      await k.request('PUT', `${V3}/projects/${a.id}/users/${user.id}/roles/${member.id}`, { token: admin });
      const t = await k.login('iso-user', 'pw', 'iso-a');
      assert.equal((await k.request('GET', `${V3}/projects/${a.id}`, { token: t })).statusCode, 200);
      assert.equal((await k.request('GET', `${V3}/projects/${b.id}`, { token: t })).statusCode, 403);
      assert.equal((await k.request('PATCH', `${V3}/projects/${b.id}`, { token: t, body: { project: { name: 'x' } } })).statusCode, 403);
      assert.equal((await k.request('GET', `${V3}/projects`, { token: t })).statusCode, 403);
      assert.equal((await k.request('POST', `${V3}/users`, { token: t, body: { user: { name: 'evil' } } })).statusCode, 403);
      assert.equal((await k.request('GET', `${V3}/users/${user.id}`, { token: t })).statusCode, 200);
      const mine = json((await k.request('GET', `${V3}/users/${user.id}/projects`, { token: t })).body).projects;
      assert.deepEqual(mine.map((p: { id: string }) => p.id), [a.id]);
      const scopeB = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['token'], token: { id: t } }, scope: { project: { id: b.id } } } },
      });
      assert.equal(scopeB.statusCode, 401);
      assert.equal(json((await k.request('GET', `${V3}/projects/${b.id}`, { token: admin })).body).project.name, 'iso-b');
    });

    test('revocation: password change, user disable, project disable and role removal void tokens at once', async () => {
      const p = await create('project', { name: 'rev-p' });
      const user = await create('user', { name: 'rev-user', password: 'pw1' });
      const member = json((await k.request('GET', `${V3}/roles?name=member`, { token: admin })).body).roles[0];
      const grant = `${V3}/projects/${p.id}/users/${user.id}/roles/${member.id}`;
      await k.request('PUT', grant, { token: admin });
      const ok = (t: string) => k.request('GET', `${V3}/users/${user.id}`, { token: t }).then((r) => r.statusCode);

      let t = await k.login('rev-user', 'pw1', 'rev-p');
      assert.equal(await ok(t), 200);
      const change = await k.request('POST', `${V3}/users/${user.id}/password`, { body: { user: { original_password: 'pw1', password: 'pw2' } } });
      assert.equal(change.statusCode, 204);
      assert.equal(await ok(t), 401);
      const wrongOriginal = await k.request('POST', `${V3}/users/${user.id}/password`, { body: { user: { original_password: 'bad', password: 'pw3' } } });
      assert.equal(wrongOriginal.statusCode, 401);

      t = await k.login('rev-user', 'pw2', 'rev-p');
      await k.request('PATCH', `${V3}/projects/${p.id}`, { token: admin, body: { project: { enabled: false } } });
      assert.equal(await ok(t), 401);
      await k.request('PATCH', `${V3}/projects/${p.id}`, { token: admin, body: { project: { enabled: true } } });

      t = await k.login('rev-user', 'pw2', 'rev-p');
      await k.request('DELETE', grant, { token: admin });
      assert.equal(await ok(t), 401);
      await k.request('PUT', grant, { token: admin });

      t = await k.login('rev-user', 'pw2', 'rev-p');
      await k.request('PATCH', `${V3}/users/${user.id}`, { token: admin, body: { user: { enabled: false } } });
      assert.equal(await ok(t), 401);
    });

    test('application credentials: restricted roles, authentication, and deletion revokes', async () => {
      const user = await create('user', { name: 'ac-user', password: 'pw' });
      const project = await create('project', { name: 'ac-p' });
      const roles = json((await k.request('GET', `${V3}/roles`, { token: admin })).body).roles as { id: string; name: string }[];
      const member = roles.find((r) => r.name === 'member')!;
      await k.request('PUT', `${V3}/projects/${project.id}/users/${user.id}/roles/${member.id}`, { token: admin });
      const t = await k.login('ac-user', 'pw', 'ac-p');
      const res = await k.request('POST', `${V3}/users/${user.id}/application_credentials`, {
        token: t, body: { application_credential: { name: 'ci', roles: [{ name: 'reader' }] } },
      });
      assert.equal(res.statusCode, 201, res.body);
      const ac = json(res.body).application_credential;
      assert.ok(ac.secret);
      assert.deepEqual(ac.roles.map((r: { name: string }) => r.name), ['reader']);
      const tooMuch = await k.request('POST', `${V3}/users/${user.id}/application_credentials`, {
        token: t, body: { application_credential: { name: 'ci2', roles: [{ name: 'admin' }] } },
      });
      assert.equal(tooMuch.statusCode, 400);
      const auth = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['application_credential'], application_credential: { id: ac.id, secret: ac.secret } } } },
      });
      assert.equal(auth.statusCode, 201, auth.body);
      const body = json(auth.body).token;
      assert.equal(body.project.id, project.id);
      assert.deepEqual(body.roles.map((r: { name: string }) => r.name), ['reader']);
      assert.equal(body.application_credential.restricted, true);
      const acToken = String(auth.headers['x-subject-token']);
      const byName = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['application_credential'], application_credential: { name: 'ci', user: { name: 'ac-user', domain: { id: 'default' } }, secret: 'wrong' } } } },
      });
      assert.equal(byName.statusCode, 401);
      assert.equal((await k.request('DELETE', `${V3}/users/${user.id}/application_credentials/${ac.id}`, { token: t })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/users/${user.id}`, { token: acToken })).statusCode, 401);
    });

    test('trusts: the trustee acts for the trustor with the delegated roles only', async () => {
      const project = await create('project', { name: 'trust-p' });
      const trustor = await create('user', { name: 'trustor', password: 'pw' });
      const trustee = await create('user', { name: 'trustee', password: 'pw' });
      const roles = json((await k.request('GET', `${V3}/roles`, { token: admin })).body).roles as { id: string; name: string }[];
      const member = roles.find((r) => r.name === 'member')!;
      await k.request('PUT', `${V3}/projects/${project.id}/users/${trustor.id}/roles/${member.id}`, { token: admin });
      const t = await k.login('trustor', 'pw', 'trust-p');
      const res = await k.request('POST', `${V3}/OS-TRUST/trusts`, {
        token: t,
        body: { trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id, project_id: project.id, impersonation: true, roles: [{ name: 'reader' }], remaining_uses: 1 } },
      });
      assert.equal(res.statusCode, 201, res.body);
      const trust = json(res.body).trust;
      const notMine = await k.request('POST', `${V3}/OS-TRUST/trusts`, {
        token: t, body: { trust: { trustor_user_id: trustee.id, trustee_user_id: trustor.id, project_id: project.id, impersonation: false } },
      });
      assert.equal(notMine.statusCode, 403);
      const trusteeToken = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { id: trustee.id, password: 'pw' } } } } },
      });
      const tt = String(trusteeToken.headers['x-subject-token']);
      const scoped = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['token'], token: { id: tt } }, scope: { 'OS-TRUST:trust': { id: trust.id } } } },
      });
      assert.equal(scoped.statusCode, 201, scoped.body);
      const body = json(scoped.body).token;
      assert.equal(body.user.id, trustor.id);
      assert.equal(body['OS-TRUST:trust'].id, trust.id);
      assert.deepEqual(body.roles.map((r: { name: string }) => r.name), ['reader']);
      const again = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['token'], token: { id: tt } }, scope: { 'OS-TRUST:trust': { id: trust.id } } } },
      });
      assert.equal(again.statusCode, 401, 'remaining_uses is exhausted');
      // Redelegation: a trust that allows it lets the trustee pass on a subset of its roles.
      const redelegable = await k.request('POST', `${V3}/OS-TRUST/trusts`, {
        token: t,
        body: { trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id, project_id: project.id, impersonation: false, roles: [{ name: 'member' }], allow_redelegation: true } },
      });
      assert.equal(redelegable.statusCode, 201, redelegable.body);
      const parent = json(redelegable.body).trust;
      const viaParent = await k.request('POST', `${V3}/auth/tokens`, {
        body: { auth: { identity: { methods: ['password'], password: { user: { id: trustee.id, password: 'pw' } } }, scope: { 'OS-TRUST:trust': { id: parent.id } } } },
      });
      assert.equal(viaParent.statusCode, 201, viaParent.body);
      const redelegated = await k.request('POST', `${V3}/OS-TRUST/trusts`, {
        token: String(viaParent.headers['x-subject-token']),
        body: { trust: { trustor_user_id: trustee.id, trustee_user_id: trustor.id, project_id: project.id, impersonation: false, roles: [{ name: 'member' }] } },
      });
      assert.equal(redelegated.statusCode, 201, redelegated.body);
      assert.equal(json(redelegated.body).trust.redelegated_trust_id, parent.id);
      const widened = await k.request('POST', `${V3}/OS-TRUST/trusts`, {
        token: String(viaParent.headers['x-subject-token']),
        body: { trust: { trustor_user_id: trustee.id, trustee_user_id: trustor.id, project_id: project.id, impersonation: false, roles: [{ name: 'admin' }] } },
      });
      assert.equal(widened.statusCode, 403);
      assert.equal((await k.request('DELETE', `${V3}/OS-TRUST/trusts/${parent.id}`, { token: t })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/OS-TRUST/trusts/${json(redelegated.body).trust.id}`, { token: admin })).statusCode, 404, 'deleting a trust voids its redelegations');

      assert.equal((await k.request('DELETE', `${V3}/OS-TRUST/trusts/${trust.id}`, { token: t })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/auth/tokens`, { token: admin, headers: { 'x-subject-token': String(scoped.headers['x-subject-token']) } })).statusCode, 404);
    });

    test('regions, services, endpoints and EC2 credentials', async () => {
      const region = await create('region', { id: 'RegionTwo', description: 'second' });
      assert.equal(region.id, 'RegionTwo');
      const dupRegion = await k.request('POST', `${V3}/regions`, { token: admin, body: { region: { id: 'RegionTwo' } } });
      assert.equal(dupRegion.statusCode, 409);
      const service = await create('service', { type: 'compute', name: 'nova' });
      const ep = await create('endpoint', { service_id: service.id, interface: 'public', url: 'http://example.invalid/compute', region_id: 'RegionTwo' });
      assert.equal(ep.region, 'RegionTwo');
      const badIface = await k.request('POST', `${V3}/endpoints`, { token: admin, body: { endpoint: { service_id: service.id, interface: 'sideways', url: 'http://x/' } } });
      assert.equal(badIface.statusCode, 400);
      const t = await k.login('admin', k.kumo.adminPassword);
      const cat = json((await k.request('GET', `${V3}/auth/catalog`, { token: t })).body).catalog;
      assert.ok(cat.some((s: { type: string }) => s.type === 'compute'));
      const users = json((await k.request('GET', `${V3}/users?name=admin`, { token: admin })).body).users;
      const projects = json((await k.request('GET', `${V3}/projects?name=admin`, { token: admin })).body).projects;
      const cred = await create('credential', { user_id: users[0].id, project_id: projects[0].id, type: 'ec2', blob: JSON.stringify({ access: 'AK1', secret: 'SK1' }) });
      assert.equal(cred.id.length, 64);
      assert.equal((await k.request('DELETE', `${V3}/endpoints/${ep.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('DELETE', `${V3}/services/${service.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('DELETE', `${V3}/regions/RegionTwo`, { token: admin })).statusCode, 204);
    });

    test('EC2 credentials: a user mints, lists, shows and deletes their own keys', async () => {
      const project = await create('project', { name: 'ec2-p' });
      const user = await create('user', { name: 'ec2-user', password: 'pw' });
      const roles = json((await k.request('GET', `${V3}/roles?name=member`, { token: admin })).body).roles;
      await k.request('PUT', `${V3}/projects/${project.id}/users/${user.id}/roles/${roles[0].id}`, { token: admin });
      const t = await k.login('ec2-user', 'pw', 'ec2-p');
      const base = `${V3}/users/${user.id}/credentials/OS-EC2`;
      const res = await k.request('POST', base, { token: t, body: { tenant_id: project.id } });
      assert.equal(res.statusCode, 201, res.body);
      const cred = json(res.body).credential;
      assert.match(cred.access, /^[0-9a-f]{32}$/);
      assert.equal(cred.tenant_id, project.id);
      assert.deepEqual(json((await k.request('GET', base, { token: t })).body).credentials.map((c: { access: string }) => c.access), [cred.access]);
      assert.equal(json((await k.request('GET', `${base}/${cred.access}`, { token: t })).body).credential.secret, cred.secret);
      const other = await k.request('GET', `${V3}/users/${json((await k.request('GET', `${V3}/users?name=admin`, { token: admin })).body).users[0].id}/credentials/OS-EC2`, { token: t });
      assert.equal(other.statusCode, 403);
      assert.equal((await k.request('DELETE', `${base}/${cred.access}`, { token: t })).statusCode, 204);
      assert.equal((await k.request('GET', `${base}/${cred.access}`, { token: t })).statusCode, 404);
    });

    test('OS-EP-FILTER: an endpoint group associated with a project narrows its catalog', async () => {
      const svc = await create('service', { type: 'object-store', name: 'swift' });
      const ep = await create('endpoint', { service_id: svc.id, interface: 'public', url: 'http://127.0.0.1:9/object', region: 'RegionEp' });
      assert.equal(json((await k.request('GET', `${V3}/regions/RegionEp`, { token: admin })).body).region.id, 'RegionEp', 'legacy region field creates the region');
      const res = await k.request('POST', `${V3}/OS-EP-FILTER/endpoint_groups`, { token: admin, body: { endpoint_group: { name: 'obj', filters: { service_id: svc.id } } } });
      assert.equal(res.statusCode, 201, res.body);
      const group = json(res.body).endpoint_group;
      assert.equal((await k.request('HEAD', `${V3}/OS-EP-FILTER/endpoint_groups/${group.id}`, { token: admin })).statusCode, 200);
      const bad = await k.request('POST', `${V3}/OS-EP-FILTER/endpoint_groups`, { token: admin, body: { endpoint_group: { name: 'x', filters: { colour: 'red' } } } });
      assert.equal(bad.statusCode, 400);
      const project = json((await k.request('GET', `${V3}/projects?name=admin`, { token: admin })).body).projects[0];
      assert.equal((await k.request('PUT', `${V3}/OS-EP-FILTER/endpoint_groups/${group.id}/projects/${project.id}`, { token: admin })).statusCode, 204);
      const t = await k.login('admin', k.kumo.adminPassword);
      const catalog = json((await k.request('GET', `${V3}/auth/catalog`, { token: t })).body).catalog;
      assert.deepEqual(catalog.flatMap((s: { endpoints: { id: string }[] }) => s.endpoints.map((e) => e.id)), [ep.id]);
      assert.equal((await k.request('DELETE', `${V3}/OS-EP-FILTER/endpoint_groups/${group.id}`, { token: admin })).statusCode, 204);
      const after = json((await k.request('GET', `${V3}/auth/catalog`, { token: t })).body).catalog;
      assert.ok(after.some((s: { type: string }) => s.type === 'identity'));
      await k.request('DELETE', `${V3}/endpoints/${ep.id}`, { token: admin });
      await k.request('DELETE', `${V3}/services/${svc.id}`, { token: admin });
    });

    test('domain configuration and projects acting as domains', async () => {
      const res = await k.request('POST', `${V3}/projects`, { token: admin, body: { project: { name: 'as-domain', is_domain: true, domain_id: null } } });
      assert.equal(res.statusCode, 201, res.body);
      const p = json(res.body).project;
      assert.equal(p.is_domain, true);
      assert.equal(json((await k.request('GET', `${V3}/domains/${p.id}`, { token: admin })).body).domain.name, 'as-domain');
      const listed = json((await k.request('GET', `${V3}/projects?is_domain=true`, { token: admin })).body).projects;
      assert.ok(listed.some((x: { id: string }) => x.id === p.id));
      const cfg = { identity: { driver: 'ldap' }, ldap: { url: 'ldap://example.invalid', password: 'secret' } };
      const put = await k.request('PUT', `${V3}/domains/${p.id}/config`, { token: admin, body: { config: cfg } });
      assert.equal(put.statusCode, 201, put.body);
      assert.deepEqual(json(put.body).config, { identity: { driver: 'ldap' }, ldap: { url: 'ldap://example.invalid' } }, 'passwords are never returned');
      assert.deepEqual(json((await k.request('GET', `${V3}/domains/${p.id}/config/identity/driver`, { token: admin })).body).config, { driver: 'ldap' });
      const badOpt = await k.request('PATCH', `${V3}/domains/${p.id}/config`, { token: admin, body: { config: { identity: { colour: 'red' } } } });
      assert.equal(badOpt.statusCode, 403);
      const patched = await k.request('PATCH', `${V3}/domains/${p.id}/config/identity`, { token: admin, body: { config: { identity: { list_limit: 5 } } } });
      assert.equal(json(patched.body).config.identity.list_limit, 5);
      assert.ok('list_limit' in json((await k.request('GET', `${V3}/domains/config/identity/default`, { token: admin })).body).config.identity);
      assert.equal((await k.request('DELETE', `${V3}/domains/${p.id}/config`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/domains/${p.id}/config`, { token: admin })).statusCode, 404);
      await k.request('PATCH', `${V3}/projects/${p.id}`, { token: admin, body: { project: { enabled: false } } });
      assert.equal((await k.request('DELETE', `${V3}/projects/${p.id}`, { token: admin })).statusCode, 204);
      assert.equal((await k.request('GET', `${V3}/domains/${p.id}`, { token: admin })).statusCode, 404);
    });
  });
}
