import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderEndpoint } from '../catalog.js';
import {
  allowedEndpointIds, associateEndpointWithProject, associateGroupWithProject, checkEndpointProject, checkGroupProject, createEndpointGroup, deleteEndpointGroup,
  dissociateEndpointFromProject, dissociateGroupFromProject, endpointsInGroup, getEndpointGroup, groupsOfProject, listEndpointGroups,
  projectIdsOfEndpoint, projectIdsOfGroup, renderEndpointGroup, updateEndpointGroup,
} from '../endpoint-filter.js';
import type { EndpointGroupInput } from '../endpoint-filter.js';
import { enforce } from '../policy.js';
import { getProject, listProjects, renderProject } from '../projects.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { EndpointGroupCreate, EndpointGroupUpdate } from './schemas.js';

const EP = '/v3/OS-EP-FILTER';

export function registerEndpointFilterRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  const read = (request: FastifyRequest) => enforce('identity:get_endpoint', caller(env, request));
  const write = (request: FastifyRequest) => enforce('identity:manage_endpoint', caller(env, request));
  type P = { id: string; project_id: string; endpoint_id: string };

  app.get(`${EP}/endpoint_groups`, async (request) => {
    read(request);
    const rows = await listEndpointGroups(deps.db, { name: str(queryOf(request), 'name') });
    return listBody(env, request, 'endpoint_groups', rows.map((r) => renderEndpointGroup(r, base)));
  });
  app.post(`${EP}/endpoint_groups`, { schema: { body: EndpointGroupCreate } }, async (request, reply) => {
    write(request);
    const row = await createEndpointGroup(deps, member<EndpointGroupInput>(request.body, 'endpoint_group'));
    return reply.status(201).send({ endpoint_group: renderEndpointGroup(row, base) });
  });
  app.get(`${EP}/endpoint_groups/:id`, async (request) => {
    read(request);
    return { endpoint_group: renderEndpointGroup(await getEndpointGroup(deps.db, (request.params as P).id), base) };
  });
  app.head(`${EP}/endpoint_groups/:id`, async (request, reply) => {
    read(request);
    await getEndpointGroup(deps.db, (request.params as P).id);
    return reply.status(200).send();
  });
  app.patch(`${EP}/endpoint_groups/:id`, { schema: { body: EndpointGroupUpdate } }, async (request) => {
    write(request);
    return { endpoint_group: renderEndpointGroup(await updateEndpointGroup(deps, (request.params as P).id, member(request.body, 'endpoint_group')), base) };
  });
  app.delete(`${EP}/endpoint_groups/:id`, async (request, reply) => {
    write(request);
    await deleteEndpointGroup(deps, (request.params as P).id);
    return reply.status(204).send();
  });
  app.get(`${EP}/endpoint_groups/:id/endpoints`, async (request) => {
    read(request);
    return listBody(env, request, 'endpoints', (await endpointsInGroup(deps.db, (request.params as P).id)).map((e) => renderEndpoint(e, base)));
  });
  app.get(`${EP}/endpoint_groups/:id/projects`, async (request) => {
    read(request);
    const ids = await projectIdsOfGroup(deps.db, (request.params as P).id);
    return listBody(env, request, 'projects', (await listProjects(deps.db, { ids })).map((p) => renderProject(p, base)));
  });
  app.put(`${EP}/endpoint_groups/:id/projects/:project_id`, async (request, reply) => {
    write(request);
    const p = request.params as P;
    await associateGroupWithProject(deps, p.id, p.project_id);
    return reply.status(204).send();
  });
  const checkGroup = (withBody: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    read(request);
    const p = request.params as P;
    await checkGroupProject(deps.db, p.id, p.project_id);
    return withBody ? { project: renderProject(await getProject(deps.db, p.project_id), base) } : reply.status(200).send();
  };
  app.get(`${EP}/endpoint_groups/:id/projects/:project_id`, checkGroup(true));
  app.head(`${EP}/endpoint_groups/:id/projects/:project_id`, checkGroup(false));
  app.delete(`${EP}/endpoint_groups/:id/projects/:project_id`, async (request, reply) => {
    write(request);
    const p = request.params as P;
    await dissociateGroupFromProject(deps, p.id, p.project_id);
    return reply.status(204).send();
  });
  app.get(`${EP}/projects/:project_id/endpoint_groups`, async (request) => {
    read(request);
    const rows = await groupsOfProject(deps.db, (request.params as P).project_id);
    return listBody(env, request, 'endpoint_groups', rows.map((r) => renderEndpointGroup(r, base)));
  });

  app.put(`${EP}/projects/:project_id/endpoints/:endpoint_id`, async (request, reply) => {
    write(request);
    const p = request.params as P;
    await associateEndpointWithProject(deps, p.project_id, p.endpoint_id);
    return reply.status(204).send();
  });
  const checkEndpoint = async (request: FastifyRequest, reply: FastifyReply) => {
    read(request);
    const p = request.params as P;
    await checkEndpointProject(deps.db, p.project_id, p.endpoint_id);
    return reply.status(204).send();
  };
  app.get(`${EP}/projects/:project_id/endpoints/:endpoint_id`, checkEndpoint);
  app.head(`${EP}/projects/:project_id/endpoints/:endpoint_id`, checkEndpoint);
  app.delete(`${EP}/projects/:project_id/endpoints/:endpoint_id`, async (request, reply) => {
    write(request);
    const p = request.params as P;
    await dissociateEndpointFromProject(deps, p.project_id, p.endpoint_id);
    return reply.status(204).send();
  });
  app.get(`${EP}/projects/:project_id/endpoints`, async (request) => {
    read(request);
    const projectId = (request.params as P).project_id;
    await getProject(deps.db, projectId);
    const allowed = await allowedEndpointIds(deps.db, projectId);
    const rows = allowed?.size ? await deps.db.selectFrom('identity_endpoint').selectAll().where('id', 'in', [...allowed]).execute() : [];
    return listBody(env, request, 'endpoints', rows.map((e) => renderEndpoint(e, base)));
  });
  app.get(`${EP}/endpoints/:endpoint_id/projects`, async (request) => {
    read(request);
    const ids = await projectIdsOfEndpoint(deps.db, (request.params as P).endpoint_id);
    return listBody(env, request, 'projects', (await listProjects(deps.db, { ids })).map((p) => renderProject(p, base)));
  });
}
