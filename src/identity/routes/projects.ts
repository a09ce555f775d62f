import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../errors.js';
import { createDomain, deleteDomain, findDomain, listDomains, renderDomain, updateDomain } from '../domains.js';
import type { DomainTable } from '../schema.js';
import { enforce } from '../policy.js';
import {
  addProjectTag, createProject, deleteProject, findProject, getProject, listProjects, projectAncestors, projectSubtree, removeProjectTag,
  renderProject, setProjectTags, updateProject,
} from '../projects.js';
import type { ProjectInput } from '../projects.js';
import { bool, caller, csv, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { ProjectCreate, ProjectTags, ProjectUpdate } from './schemas.js';

/** Keystone stores domains as projects with is_domain=true, so /v3/projects/{domain_id} reaches them. */
export function renderDomainAsProject(d: DomainTable, base: string) {
  const { tags, options, id, name, description, enabled, ...extra } = renderDomain(d, base);
  return { ...extra, id, name, description, enabled, domain_id: null, parent_id: null, is_domain: true, tags, options, links: { self: `${base}/projects/${id}` } };
}

export function registerProjectRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  const projectActingAsDomain = async (id: string) => ((await findProject(deps.db, id)) ? undefined : findDomain(deps.db, id));
  app.get('/v3/projects', async (request) => {
    const q = queryOf(request);
    enforce('identity:list_projects', caller(env, request), { domainId: str(q, 'domain_id') });
    if (str(q, 'is_domain') !== undefined && bool(q, 'is_domain')) {
      const domains = await listDomains(deps.db, { name: str(q, 'name'), enabled: bool(q, 'enabled') });
      return listBody(env, request, 'projects', domains.map((d) => renderDomainAsProject(d, base)));
    }
    const rows = await listProjects(deps.db, {
      name: str(q, 'name'), domain_id: str(q, 'domain_id'), parent_id: str(q, 'parent_id'), enabled: bool(q, 'enabled'),
      tags: csv(q, 'tags'), tagsAny: csv(q, 'tags-any'), notTags: csv(q, 'not-tags'), notTagsAny: csv(q, 'not-tags-any'),
    });
    return listBody(env, request, 'projects', rows.map((r) => renderProject(r, base)));
  });
  app.post('/v3/projects', { schema: { body: ProjectCreate } }, async (request, reply) => {
    enforce('identity:manage_project', caller(env, request));
    const input = member<ProjectInput>(request.body, 'project');
    if (input.is_domain === true) {
      if (input.parent_id || input.domain_id) throw badRequest('A project acting as a domain cannot have a parent or a domain.');
      const { is_domain: _isDomain, domain_id: _domainId, parent_id: _parentId, tags: _tags, ...domainInput } = input;
      const domain = await createDomain(deps, { ...domainInput, description: input.description ?? '' });
      return reply.status(201).send({ project: renderDomainAsProject(domain, base) });
    }
    const row = await createProject(deps, input);
    return reply.status(201).send({ project: renderProject(row, base) });
  });
  app.get('/v3/projects/:project_id', async (request) => {
    const { project_id } = request.params as { project_id: string };
    const c = caller(env, request);
    const domain = await projectActingAsDomain(project_id);
    if (domain) {
      enforce('identity:get_domain', c, { domainId: domain.id });
      return { project: renderDomainAsProject(domain, base) };
    }
    const row = await getProject(deps.db, project_id);
    enforce('identity:get_project', c, { projectId: row.id, domainId: row.domain_id });
    const q = queryOf(request);
    const body: Record<string, unknown> = renderProject(row, base);
    if (q.parents_as_ids !== undefined && q.parents_as_list !== undefined) throw badRequest('Cannot use parents_as_list and parents_as_ids query params at the same time.');
    if (q.subtree_as_ids !== undefined && q.subtree_as_list !== undefined) throw badRequest('Cannot use subtree_as_list and subtree_as_ids query params at the same time.');
    if (q.parents_as_list !== undefined || q.parents_as_ids !== undefined) {
      const parents = await projectAncestors(deps.db, row);
      if (q.parents_as_list !== undefined) body.parents = parents.map((p) => ({ project: renderProject({ ...p, tags: [] }, base) }));
      else body.parents = parents.reduceRight<Record<string, unknown> | null>((acc, p) => ({ [p.id]: acc }), null);
    }
    if (q.subtree_as_list !== undefined || q.subtree_as_ids !== undefined) {
      const subtree = await projectSubtree(deps.db, row.id);
      if (q.subtree_as_list !== undefined) body.subtree = subtree.map((p) => ({ project: renderProject({ ...p, tags: [] }, base) }));
      else {
        const build = (id: string): Record<string, unknown> | null => {
          const kids = subtree.filter((p) => p.parent_id === id);
          return kids.length ? Object.fromEntries(kids.map((k) => [k.id, build(k.id)])) : null;
        };
        body.subtree = build(row.id);
      }
    }
    return { project: body };
  });
  app.patch('/v3/projects/:project_id', { schema: { body: ProjectUpdate } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    enforce('identity:manage_project', caller(env, request));
    const patch = member<Partial<ProjectInput>>(request.body, 'project');
    if (await projectActingAsDomain(project_id)) {
      const { is_domain: _isDomain, domain_id: _domainId, parent_id: _parentId, tags: _tags, ...domainPatch } = patch;
      return { project: renderDomainAsProject(await updateDomain(deps, project_id, domainPatch), base) };
    }
    return { project: renderProject(await updateProject(deps, project_id, patch), base) };
  });
  app.delete('/v3/projects/:project_id', async (request, reply) => {
    const { project_id } = request.params as { project_id: string };
    enforce('identity:manage_project', caller(env, request));
    if (await projectActingAsDomain(project_id)) await deleteDomain(deps, project_id);
    else await deleteProject(deps, project_id);
    return reply.status(204).send();
  });

  // Tags
  app.get('/v3/projects/:project_id/tags', async (request) => {
    const { project_id } = request.params as { project_id: string };
    const c = caller(env, request);
    const row = await getProject(deps.db, project_id);
    enforce('identity:get_project_tags', c, { projectId: row.id, domainId: row.domain_id });
    return { tags: row.tags };
  });
  app.put('/v3/projects/:project_id/tags', { schema: { body: ProjectTags } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    enforce('identity:manage_project_tags', caller(env, request), { projectId: project_id });
    return { tags: await setProjectTags(deps, project_id, (request.body as { tags: unknown }).tags) };
  });
  app.delete('/v3/projects/:project_id/tags', async (request, reply) => {
    const { project_id } = request.params as { project_id: string };
    enforce('identity:manage_project_tags', caller(env, request), { projectId: project_id });
    await removeProjectTag(deps, project_id, undefined);
    return reply.status(204).send();
  });
  for (const method of ['GET', 'HEAD'] as const) {
    app.route({ method, url: '/v3/projects/:project_id/tags/:tag', handler: async (request, reply) => {
      const { project_id, tag } = request.params as { project_id: string; tag: string };
      const c = caller(env, request);
      const row = await getProject(deps.db, project_id);
      enforce('identity:get_project_tags', c, { projectId: row.id, domainId: row.domain_id });
      if (!row.tags.includes(tag)) return reply.status(404).send({ error: { code: 404, title: 'Not Found', message: `Tag ${tag} not found for project ${project_id}.` } });
      return reply.status(204).send();
    } });
  }
  app.put('/v3/projects/:project_id/tags/:tag', async (request, reply) => {
    const { project_id, tag } = request.params as { project_id: string; tag: string };
    enforce('identity:manage_project_tags', caller(env, request), { projectId: project_id });
    await addProjectTag(deps, project_id, tag);
    reply.header('Location', `${base}/projects/${project_id}/tags/${encodeURIComponent(tag)}`);
    return reply.status(201).send();
  });
  app.delete('/v3/projects/:project_id/tags/:tag', async (request, reply) => {
    const { project_id, tag } = request.params as { project_id: string; tag: string };
    enforce('identity:manage_project_tags', caller(env, request), { projectId: project_id });
    await removeProjectTag(deps, project_id, tag);
    return reply.status(204).send();
  });
}
