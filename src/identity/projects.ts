import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import type { ProjectTable } from './schema.js';
import { fromBool, isoTime, parseJsonObject, splitExtra, toBool, writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { DEFAULT_DOMAIN_ID, findDomain } from './domains.js';
import { addRevocation } from './revocation.js';

const KNOWN = ['id', 'name', 'description', 'enabled', 'domain_id', 'parent_id', 'is_domain', 'options', 'tags', 'links'];
const TAG_PATTERN = /^[^,/]{1,255}$/;
const MAX_TAGS = 80;

export interface ProjectInput {
  name: string;
  description?: string;
  enabled?: boolean;
  domain_id?: string | null;
  parent_id?: string | null;
  is_domain?: boolean;
  options?: Record<string, unknown>;
  tags?: string[];
  [extra: string]: unknown;
}

export interface ProjectWithTags extends ProjectTable {
  tags: string[];
}

export function renderProject(row: ProjectWithTags, base: string) {
  return {
    ...parseJsonObject(row.extra),
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    description: row.description,
    enabled: toBool(row.enabled),
    parent_id: row.parent_id ?? row.domain_id,
    is_domain: false,
    tags: row.tags,
    options: parseJsonObject(row.options),
    links: { self: `${base}/projects/${row.id}` },
  };
}

async function withTags(db: Db, rows: ProjectTable[]): Promise<ProjectWithTags[]> {
  if (rows.length === 0) return [];
  const tags = await db.selectFrom('identity_project_tag').selectAll().where('project_id', 'in', rows.map((r) => r.id)).execute();
  const byProject = new Map<string, string[]>();
  for (const t of tags) byProject.set(t.project_id, [...(byProject.get(t.project_id) ?? []), t.name]);
  return rows.map((r) => ({ ...r, tags: (byProject.get(r.id) ?? []).sort() }));
}

export async function findProject(db: Db, id: string): Promise<ProjectTable | undefined> {
  return db.selectFrom('identity_project').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getProject(db: Db, id: string): Promise<ProjectWithTags> {
  const row = await findProject(db, id);
  if (!row) throw notFound(`Could not find project: ${id}.`);
  return (await withTags(db, [row]))[0];
}

export async function findProjectByName(db: Db, domainId: string, name: string): Promise<ProjectTable | undefined> {
  return db.selectFrom('identity_project').selectAll().where('domain_id', '=', domainId).where('name', '=', name).executeTakeFirst();
}

export interface ProjectFilters {
  name?: string;
  domain_id?: string;
  parent_id?: string;
  enabled?: boolean;
  ids?: string[];
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
}

export async function listProjects(db: Db, f: ProjectFilters): Promise<ProjectWithTags[]> {
  let q = db.selectFrom('identity_project').selectAll();
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domain_id !== undefined) q = q.where('domain_id', '=', f.domain_id);
  if (f.parent_id !== undefined) {
    const parent = f.parent_id;
    q = q.where((eb) => eb.or([eb('parent_id', '=', parent), eb.and([eb('parent_id', 'is', null), eb('domain_id', '=', parent)])]));
  }
  if (f.enabled !== undefined) q = q.where('enabled', '=', fromBool(f.enabled));
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', f.ids);
  }
  let rows = await withTags(db, await q.orderBy('name').execute());
  if (f.tags) rows = rows.filter((r) => f.tags!.every((t) => r.tags.includes(t)));
  if (f.tagsAny) rows = rows.filter((r) => f.tagsAny!.some((t) => r.tags.includes(t)));
  if (f.notTags) rows = rows.filter((r) => !f.notTags!.every((t) => r.tags.includes(t)));
  if (f.notTagsAny) rows = rows.filter((r) => !f.notTagsAny!.some((t) => r.tags.includes(t)));
  return rows;
}

export function validateTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) throw badRequest("Invalid input for field 'tags': must be a list of strings.");
  if (tags.length > MAX_TAGS) throw badRequest(`Invalid input for field 'tags': at most ${MAX_TAGS} tags are allowed.`);
  for (const t of tags) {
    if (typeof t !== 'string' || !TAG_PATTERN.test(t)) throw badRequest(`Invalid input for field 'tags': '${String(t)}' is not a valid tag.`);
  }
  return [...new Set(tags as string[])];
}

const duplicate = (name: string, domainId: string) =>
  conflict(`Conflict occurred attempting to store project - Duplicate entry found with name ${name} at domain ID ${domainId}.`);

export async function createProject(deps: IdentityDeps, input: ProjectInput): Promise<ProjectWithTags> {
  if (input.is_domain === true) throw badRequest('Projects acting as domains are not supported; create a domain instead.');
  const tags = input.tags === undefined ? [] : validateTags(input.tags);
  return writeTransaction(deps, async (trx) => {
    let domainId = input.domain_id ?? undefined;
    let parentId: string | null = null;
    if (input.parent_id) {
      const parent = await findProject(trx, input.parent_id);
      if (!parent) {
        if (await findDomain(trx, input.parent_id)) {
          domainId ??= input.parent_id;
          if (domainId !== input.parent_id) throw badRequest('The parent domain and domain_id differ.');
        } else throw notFound(`Could not find project: ${input.parent_id}.`);
      } else {
        if (domainId && domainId !== parent.domain_id) throw badRequest('Cannot create project, the parent project is in another domain.');
        domainId = parent.domain_id;
        parentId = parent.id;
      }
    }
    domainId ??= DEFAULT_DOMAIN_ID;
    const domain = await findDomain(trx, domainId);
    if (!domain) throw notFound(`Could not find domain: ${domainId}.`);
    if (await findProjectByName(trx, domainId, input.name)) throw duplicate(input.name, domainId);
    const row: ProjectTable = {
      id: typeof input.id === 'string' && input.id ? input.id : deps.newId(),
      name: input.name,
      domain_id: domainId,
      parent_id: parentId,
      description: input.description ?? '',
      enabled: fromBool(input.enabled),
      extra: JSON.stringify(splitExtra(input, KNOWN)),
      options: JSON.stringify(input.options ?? {}),
      created_at: isoTime(deps.now()),
    };
    try {
      await trx.insertInto('identity_project').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicate(input.name, domainId);
      throw err;
    }
    if (tags.length) await trx.insertInto('identity_project_tag').values(tags.map((name) => ({ project_id: row.id, name }))).execute();
    return { ...row, tags: tags.sort() };
  });
}

export async function updateProject(deps: IdentityDeps, id: string, patch: Partial<ProjectInput>): Promise<ProjectWithTags> {
  const tags = patch.tags === undefined ? undefined : validateTags(patch.tags);
  return writeTransaction(deps, async (trx) => {
    const row = await getProject(trx, id);
    if (patch.domain_id !== undefined && patch.domain_id !== row.domain_id) throw badRequest('Update of `domain_id` is not allowed.');
    if (patch.parent_id !== undefined && patch.parent_id !== (row.parent_id ?? row.domain_id)) throw forbidden('Update of `parent_id` is not allowed.');
    if (patch.is_domain !== undefined && patch.is_domain !== false) throw badRequest('Update of `is_domain` is not allowed.');
    const next: ProjectTable = {
      id: row.id,
      domain_id: row.domain_id,
      parent_id: row.parent_id,
      created_at: row.created_at,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      enabled: patch.enabled === undefined ? row.enabled : fromBool(patch.enabled),
      options: patch.options ? JSON.stringify({ ...parseJsonObject(row.options), ...patch.options }) : row.options,
      extra: JSON.stringify({ ...parseJsonObject(row.extra), ...splitExtra(patch, KNOWN) }),
    };
    if (next.name !== row.name) {
      const other = await findProjectByName(trx, row.domain_id, next.name);
      if (other && other.id !== id) throw duplicate(next.name, row.domain_id);
    }
    await trx.updateTable('identity_project').set(next).where('id', '=', id).execute();
    if (tags) await replaceTags(trx, id, tags);
    if (row.enabled === 1 && next.enabled === 0) await addRevocation(trx, deps.now(), { project_id: id });
    return { ...next, tags: tags ? tags.sort() : row.tags };
  });
}

export async function replaceTags(trx: Db, projectId: string, tags: string[]): Promise<void> {
  await trx.deleteFrom('identity_project_tag').where('project_id', '=', projectId).execute();
  if (tags.length) await trx.insertInto('identity_project_tag').values(tags.map((name) => ({ project_id: projectId, name }))).execute();
}

export async function setProjectTags(deps: IdentityDeps, projectId: string, tags: unknown): Promise<string[]> {
  const valid = validateTags(tags);
  await writeTransaction(deps, async (trx) => {
    await getProject(trx, projectId);
    await replaceTags(trx, projectId, valid);
  });
  return valid.sort();
}

export async function addProjectTag(deps: IdentityDeps, projectId: string, tag: string): Promise<void> {
  validateTags([tag]);
  await writeTransaction(deps, async (trx) => {
    const project = await getProject(trx, projectId);
    if (project.tags.includes(tag)) return;
    if (project.tags.length >= MAX_TAGS) throw badRequest(`A project can have at most ${MAX_TAGS} tags.`);
    await trx.insertInto('identity_project_tag').values({ project_id: projectId, name: tag }).execute();
  });
}

export async function removeProjectTag(deps: IdentityDeps, projectId: string, tag: string | undefined): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    const project = await getProject(trx, projectId);
    if (tag === undefined) return replaceTags(trx, projectId, []);
    if (!project.tags.includes(tag)) throw notFound(`Tag ${tag} not found for project ${projectId}.`);
    await trx.deleteFrom('identity_project_tag').where('project_id', '=', projectId).where('name', '=', tag).execute();
  });
}

export async function deleteProject(deps: IdentityDeps, id: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await getProject(trx, id);
    const child = await trx.selectFrom('identity_project').select('id').where('parent_id', '=', id).executeTakeFirst();
    if (child) {
      throw forbidden(`Cannot delete the project ${id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`);
    }
    await trx.deleteFrom('identity_assignment').where('target_type', '=', 'project').where('target_id', '=', id).execute();
    await trx.deleteFrom('identity_project_tag').where('project_id', '=', id).execute();
    await trx.deleteFrom('identity_project_endpoint').where('project_id', '=', id).execute();
    await trx.deleteFrom('identity_project_endpoint_group').where('project_id', '=', id).execute();
    await trx.deleteFrom('identity_project').where('id', '=', id).execute();
    await addRevocation(trx, deps.now(), { project_id: id });
  });
}

/** The project's ancestors, nearest first (not including the domain). */
export async function projectAncestors(db: Db, project: ProjectTable): Promise<ProjectTable[]> {
  const out: ProjectTable[] = [];
  let parentId = project.parent_id;
  while (parentId) {
    const parent = await findProject(db, parentId);
    if (!parent || out.some((p) => p.id === parent.id)) break;
    out.push(parent);
    parentId = parent.parent_id;
  }
  return out;
}

/** Every project below `id`, breadth first. */
export async function projectSubtree(db: Db, id: string): Promise<ProjectTable[]> {
  const out: ProjectTable[] = [];
  let frontier = [id];
  while (frontier.length) {
    const children = await db.selectFrom('identity_project').selectAll().where('parent_id', 'in', frontier).execute();
    out.push(...children);
    frontier = children.map((c) => c.id);
  }
  return out;
}
