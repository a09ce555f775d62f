/** Nova os-server-groups. */
import type { FastifyInstance } from 'fastify';
import { minorOf } from '../microversion.js';
import { createServerGroup, deleteServerGroup, getServerGroup, groupMembers, listServerGroups } from '../server-groups.js';
import type { ServerGroupRow } from '../server-groups.js';
import { bodyObject, caller, lastValue, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerServerGroupRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const render = (minor: number, row: ServerGroupRow, members: string[]) => ({
    id: row.uuid, name: row.name, members,
    ...(minor >= 64 ? { policy: row.policy, rules: JSON.parse(row.rules) as Record<string, unknown> } : { policies: [row.policy], metadata: {} }),
    ...(minor >= 13 ? { project_id: row.project_id, user_id: row.user_id } : {}),
  });
  app.get('/v2.1/os-server-groups', async (request) => {
    const q = query(request);
    const all = ['1', 'true', 't', 'yes'].includes(String(lastValue(q.all_projects) ?? '').toLowerCase());
    const rows = await listServerGroups(deps.db, caller(request), all);
    const members = await groupMembers(deps.db, rows.map((r) => r.uuid));
    return { server_groups: rows.map((r) => render(minorOf(request), r, members.get(r.uuid) ?? [])) };
  });
  app.post('/v2.1/os-server-groups', async (request) => {
    const row = await createServerGroup(deps, caller(request), bodyObject(request.body, 'server_group'), minorOf(request));
    return { server_group: render(minorOf(request), row, []) };
  });
  app.get('/v2.1/os-server-groups/:id', async (request) => {
    const row = await getServerGroup(deps.db, caller(request), param(request, 'id'));
    return { server_group: render(minorOf(request), row, (await groupMembers(deps.db, [row.uuid])).get(row.uuid) ?? []) };
  });
  app.delete('/v2.1/os-server-groups/:id', async (request, reply) => {
    await deleteServerGroup(deps, caller(request), param(request, 'id'));
    return reply.status(204).send();
  });
}
