/** Image members (Glance v2 api-ref "Sharing"). */
import type { FastifyInstance } from 'fastify';
import { addMember, getMember, listMembers, removeMember, updateMember } from '../members.js';
import { caller, imageIdOf, renderMember } from './common.js';
import type { ImageRouteEnv } from './common.js';

const memberOf = (params: unknown) => (params as { member: string }).member;

export function registerMemberRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const { deps } = env;
  app.get('/v2/images/:id/members', async (request) => ({
    members: (await listMembers(deps, caller(request), imageIdOf(request))).map(renderMember), schema: '/v2/schemas/members',
  }));
  app.post('/v2/images/:id/members', async (request) => renderMember(await addMember(deps, caller(request), imageIdOf(request), request.body)));
  app.get('/v2/images/:id/members/:member', async (request) => renderMember(await getMember(deps, caller(request), imageIdOf(request), memberOf(request.params))));
  app.put('/v2/images/:id/members/:member', async (request) =>
    renderMember(await updateMember(deps, caller(request), imageIdOf(request), memberOf(request.params), request.body)));
  app.delete('/v2/images/:id/members/:member', async (request, reply) => {
    await removeMember(deps, caller(request), imageIdOf(request), memberOf(request.params));
    return reply.status(204).send();
  });
}
