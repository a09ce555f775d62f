import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { canonicalUuid, isUuid } from '../context.js';
import { createProvider, deleteProvider, getProvider, listProviders, updateProvider } from '../providers.js';
import type { ProviderRow } from '../providers.js';
import { assertResourceClassesExist } from '../resource-classes.js';
import { assertTraitsExist } from '../traits.js';
import { admit, atLeast, badQuery, parseMemberOf, parseRequired, parseResources, queryOf, repeated, single, uuidParam } from './common.js';
import type { PlacementRouteEnv } from './common.js';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const NullableUuid = Type.Union([Type.String(), Type.Null()]);
const CreateBody = Type.Object({ name: Name, uuid: Type.Optional(Type.String()), parent_provider_uuid: Type.Optional(NullableUuid) }, { additionalProperties: false });
const UpdateBody = Type.Object({ name: Name, parent_provider_uuid: Type.Optional(NullableUuid) }, { additionalProperties: false });

/** A provider as the requested microversion shows it: links by version, tree uuids from 1.14. */
export function renderProvider(env: PlacementRouteEnv, request: FastifyRequest, row: ProviderRow): Record<string, unknown> {
  const self = `${env.linkRoot}/resource_providers/${row.uuid}`;
  const links = [{ rel: 'self', href: self }, { rel: 'inventories', href: `${self}/inventories` }, { rel: 'usages', href: `${self}/usages` }];
  if (atLeast(request, 1)) links.push({ rel: 'aggregates', href: `${self}/aggregates` });
  if (atLeast(request, 6)) links.push({ rel: 'traits', href: `${self}/traits` });
  if (atLeast(request, 11)) links.push({ rel: 'allocations', href: `${self}/allocations` });
  return {
    uuid: row.uuid, name: row.name, generation: row.generation, links,
    ...(atLeast(request, 14) ? { parent_provider_uuid: row.parent_provider_uuid, root_provider_uuid: row.root_provider_uuid } : {}),
  };
}

/** The parent a body names: only from 1.14, and it must be a UUID. */
function parentOf(request: FastifyRequest, value: string | null | undefined): string | null | undefined {
  if (value === undefined || !atLeast(request, 14)) return undefined;
  return value === null ? null : canonicalUuid(value, 'parent_provider_uuid');
}

export function registerResourceProviderRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/resource_providers', async (request) => {
    admit(request, 'resource_providers:list');
    const q = queryOf(request);
    const minor = request.placementMinor;
    const uuid = single(q, 'uuid');
    if (uuid !== undefined && !isUuid(uuid)) throw badQuery(`Invalid query string parameters: '${uuid}' is not a 'uuid'`);
    const inTree = minor >= 14 ? single(q, 'in_tree') : undefined;
    if (inTree !== undefined && !isUuid(inTree)) throw badQuery(`Invalid query string parameters: '${inTree}' is not a 'uuid'`);
    const resourcesText = minor >= 4 ? single(q, 'resources') : undefined;
    const resources = resourcesText === undefined ? undefined : parseResources(resourcesText);
    if (resources) await assertResourceClassesExist(deps.db, Object.keys(resources));
    const members = minor >= 3 ? parseMemberOf(repeated(q, 'member_of'), minor) : { anyOf: [], none: [] };
    const traits = minor >= 18 ? parseRequired(repeated(q, 'required'), minor) : { required: [], forbidden: [], anyOf: [] };
    await assertTraitsExist(deps.db, [...traits.required, ...traits.forbidden, ...traits.anyOf.flat()]);
    const rows = await listProviders(deps.db, {
      name: single(q, 'name'), uuid: uuid === undefined ? undefined : canonicalUuid(uuid, 'uuid'), inTree: inTree === undefined ? undefined : canonicalUuid(inTree, 'in_tree'),
      resources, memberOf: members.anyOf, notMemberOf: members.none, requiredTraits: traits.required, forbiddenTraits: traits.forbidden, anyTraits: traits.anyOf,
    });
    return { resource_providers: rows.map((r) => renderProvider(env, request, r)) };
  });
  app.post('/resource_providers', { schema: { body: CreateBody } }, async (request, reply) => {
    admit(request, 'resource_providers:create');
    const body = request.body as { name: string; uuid?: string; parent_provider_uuid?: string | null };
    const row = await createProvider(deps, {
      name: body.name, uuid: body.uuid === undefined ? undefined : canonicalUuid(body.uuid, 'uuid'), parentProviderUuid: parentOf(request, body.parent_provider_uuid),
    });
    reply.header('Location', `${env.base}/resource_providers/${row.uuid}`);
    // Before 1.20 a create answered 201 with no body.
    if (!atLeast(request, 20)) return reply.status(201).send();
    return reply.status(200).send(renderProvider(env, request, row));
  });
  app.get('/resource_providers/:uuid', async (request) => {
    admit(request, 'resource_providers:show');
    return renderProvider(env, request, await getProvider(deps.db, uuidParam(request)));
  });
  app.put('/resource_providers/:uuid', { schema: { body: UpdateBody } }, async (request) => {
    admit(request, 'resource_providers:update');
    const body = request.body as { name: string; parent_provider_uuid?: string | null };
    const row = await updateProvider(deps, uuidParam(request), { name: body.name, parentProviderUuid: parentOf(request, body.parent_provider_uuid) }, atLeast(request, 37));
    return renderProvider(env, request, row);
  });
  app.delete('/resource_providers/:uuid', async (request, reply) => {
    admit(request, 'resource_providers:delete');
    await deleteProvider(deps, uuidParam(request));
    return reply.status(204).send();
  });
}
