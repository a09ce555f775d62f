import type { FastifyInstance } from 'fastify';
import { enforce } from '../policy.js';
import { listProjects, renderProject } from '../projects.js';
import { listRoleAssignments } from '../roles.js';
import {
  addUserToGroup, changePassword, createGroup, createUser, deleteGroup, deleteUser, getGroup, getUser, groupIdsOfUser, isUserInGroup,
  listGroups, listUsers, removeUserFromGroup, renderGroup, renderUser, updateGroup, updateUser, userIdsInGroup,
} from '../users.js';
import type { GroupInput, UserInput } from '../users.js';
import { notFound } from '../../errors.js';
import { bool, caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { GroupCreate, GroupUpdate, PasswordChange, UserCreate, UserUpdate } from './schemas.js';

export function registerUserRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  app.get('/v3/users', async (request) => {
    const q = queryOf(request);
    enforce('identity:list_users', caller(env, request), { domainId: str(q, 'domain_id') });
    const rows = await listUsers(deps.db, { name: str(q, 'name'), domain_id: str(q, 'domain_id'), enabled: bool(q, 'enabled') });
    return listBody(env, request, 'users', rows.map((r) => renderUser(r, base)));
  });
  app.post('/v3/users', { schema: { body: UserCreate } }, async (request, reply) => {
    enforce('identity:manage_user', caller(env, request));
    const row = await createUser(deps, member<UserInput>(request.body, 'user'));
    return reply.status(201).send({ user: renderUser(row, base) });
  });
  app.get('/v3/users/:user_id', async (request) => {
    const { user_id } = request.params as { user_id: string };
    const c = caller(env, request);
    const row = await getUser(deps.db, user_id);
    enforce('identity:get_user', c, { userId: row.id, domainId: row.domain_id });
    return { user: renderUser(row, base) };
  });
  app.patch('/v3/users/:user_id', { schema: { body: UserUpdate } }, async (request) => {
    const { user_id } = request.params as { user_id: string };
    enforce('identity:manage_user', caller(env, request));
    return { user: renderUser(await updateUser(deps, user_id, member(request.body, 'user')), base) };
  });
  app.delete('/v3/users/:user_id', async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    enforce('identity:manage_user', caller(env, request));
    await deleteUser(deps, user_id);
    return reply.status(204).send();
  });
  // Self-service: the original password is the credential, so no token is needed (an expired
  // password must still be changeable).
  app.post('/v3/users/:user_id/password', { schema: { body: PasswordChange }, config: { public: true } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    const body = member<{ password: string; original_password: string }>(request.body, 'user');
    await changePassword(deps, user_id, body.original_password, body.password);
    return reply.status(204).send();
  });
  app.get('/v3/users/:user_id/projects', async (request) => {
    const { user_id } = request.params as { user_id: string };
    const c = caller(env, request);
    await getUser(deps.db, user_id);
    enforce('identity:list_user_projects', c, { userId: user_id });
    const q = queryOf(request);
    const rows = await listRoleAssignments(deps.db, { userId: user_id, effective: true });
    const ids = [...new Set(rows.filter((r) => r.target.type === 'project').map((r) => r.target.id))];
    const projects = await listProjects(deps.db, { ids, name: str(q, 'name'), enabled: bool(q, 'enabled'), domain_id: str(q, 'domain_id') });
    return listBody(env, request, 'projects', projects.map((p) => renderProject(p, base)));
  });
  app.get('/v3/users/:user_id/groups', async (request) => {
    const { user_id } = request.params as { user_id: string };
    const c = caller(env, request);
    await getUser(deps.db, user_id);
    enforce('identity:list_groups_for_user', c, { userId: user_id });
    const groups = await listGroups(deps.db, { ids: await groupIdsOfUser(deps.db, user_id) });
    return listBody(env, request, 'groups', groups.map((g) => renderGroup(g, base)));
  });

  // Groups
  app.get('/v3/groups', async (request) => {
    const q = queryOf(request);
    enforce('identity:list_groups', caller(env, request), { domainId: str(q, 'domain_id') });
    const rows = await listGroups(deps.db, { name: str(q, 'name'), domain_id: str(q, 'domain_id') });
    return listBody(env, request, 'groups', rows.map((r) => renderGroup(r, base)));
  });
  app.post('/v3/groups', { schema: { body: GroupCreate } }, async (request, reply) => {
    enforce('identity:manage_group', caller(env, request));
    const row = await createGroup(deps, member<GroupInput>(request.body, 'group'));
    return reply.status(201).send({ group: renderGroup(row, base) });
  });
  app.get('/v3/groups/:group_id', async (request) => {
    const { group_id } = request.params as { group_id: string };
    enforce('identity:get_group', caller(env, request));
    return { group: renderGroup(await getGroup(deps.db, group_id), base) };
  });
  app.patch('/v3/groups/:group_id', { schema: { body: GroupUpdate } }, async (request) => {
    const { group_id } = request.params as { group_id: string };
    enforce('identity:manage_group', caller(env, request));
    return { group: renderGroup(await updateGroup(deps, group_id, member(request.body, 'group')), base) };
  });
  app.delete('/v3/groups/:group_id', async (request, reply) => {
    const { group_id } = request.params as { group_id: string };
    enforce('identity:manage_group', caller(env, request));
    await deleteGroup(deps, group_id);
    return reply.status(204).send();
  });
  app.get('/v3/groups/:group_id/users', async (request) => {
    const { group_id } = request.params as { group_id: string };
    enforce('identity:get_group', caller(env, request));
    await getGroup(deps.db, group_id);
    const q = queryOf(request);
    const users = await listUsers(deps.db, { ids: await userIdsInGroup(deps.db, group_id), name: str(q, 'name'), enabled: bool(q, 'enabled') });
    return listBody(env, request, 'users', users.map((u) => renderUser(u, base)));
  });
  app.put('/v3/groups/:group_id/users/:user_id', async (request, reply) => {
    const { group_id, user_id } = request.params as { group_id: string; user_id: string };
    enforce('identity:manage_group', caller(env, request));
    await addUserToGroup(deps, group_id, user_id);
    return reply.status(204).send();
  });
  for (const method of ['GET', 'HEAD'] as const) {
    app.route({ method, url: '/v3/groups/:group_id/users/:user_id', handler: async (request, reply) => {
      const { group_id, user_id } = request.params as { group_id: string; user_id: string };
      enforce('identity:get_group', caller(env, request));
      if (!(await isUserInGroup(deps.db, group_id, user_id))) throw notFound(`User ${user_id} is not a member of group ${group_id}.`);
      return reply.status(204).send();
    } });
  }
  app.delete('/v3/groups/:group_id/users/:user_id', async (request, reply) => {
    const { group_id, user_id } = request.params as { group_id: string; user_id: string };
    enforce('identity:manage_group', caller(env, request));
    await removeUserFromGroup(deps, group_id, user_id);
    return reply.status(204).send();
  });
}
