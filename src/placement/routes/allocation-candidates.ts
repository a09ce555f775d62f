import type { FastifyInstance } from 'fastify';
import { canonicalUuid, isUuid } from '../context.js';
import { allocationCandidates } from '../candidates.js';
import { admit, atLeast, badQuery, parseLimit, parseMemberOf, parseRequired, parseResources, queryOf, repeated, single, since } from './common.js';
import type { PlacementRouteEnv } from './common.js';

/** GET /allocation_candidates (1.10+), shaped as the requested microversion has it. */
export function registerAllocationCandidateRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  app.get('/allocation_candidates', async (request) => {
    since(request, 10);
    admit(request, 'allocation_candidates:list');
    const q = queryOf(request);
    const minor = request.placementMinor;
    const unsupported = Object.keys(q).find((k) => /^(resources|required|member_of|in_tree)[A-Za-z0-9_-]+$/.test(k) || k === 'group_policy');
    if (unsupported) throw badQuery(`Invalid query string parameters: granular request groups ('${unsupported}') are not supported here.`);
    const resourcesText = single(q, 'resources');
    if (!resourcesText) throw badQuery(`Invalid query string parameters: 'resources' is a required property`);
    const traits = minor >= 17 ? parseRequired(repeated(q, 'required'), minor) : { required: [], forbidden: [], anyOf: [] };
    const members = minor >= 21 ? parseMemberOf(repeated(q, 'member_of'), minor) : { anyOf: [], none: [] };
    const inTree = minor >= 31 ? single(q, 'in_tree') : undefined;
    if (inTree !== undefined && !isUuid(inTree)) throw badQuery(`Invalid query string parameters: '${inTree}' is not a 'uuid'`);
    const candidates = await allocationCandidates(deps.db, {
      resources: parseResources(resourcesText), requiredTraits: traits.required, forbiddenTraits: traits.forbidden, anyTraits: traits.anyOf,
      memberOf: members.anyOf, notMemberOf: members.none, inTree: inTree === undefined ? undefined : canonicalUuid(inTree, 'in_tree'),
      limit: minor >= 16 ? parseLimit(single(q, 'limit')) : undefined,
    });
    const allocation_requests = candidates.map((c) => atLeast(request, 12)
      ? { allocations: { [c.providerUuid]: { resources: c.resources } }, ...(atLeast(request, 34) ? { mappings: { '': [c.providerUuid] } } : {}) }
      : { allocations: [{ resource_provider: { uuid: c.providerUuid }, resources: c.resources }] });
    const provider_summaries = Object.fromEntries(candidates.map((c) => {
      // Before 1.27 a summary lists only the requested classes.
      const resources = atLeast(request, 27) ? c.summary : Object.fromEntries(Object.keys(c.resources).map((rc) => [rc, c.summary[rc]]));
      return [c.providerUuid, {
        resources,
        ...(atLeast(request, 17) ? { traits: c.traits } : {}),
        ...(atLeast(request, 29) ? { parent_provider_uuid: c.parentProviderUuid, root_provider_uuid: c.rootProviderUuid } : {}),
      }];
    }));
    return { allocation_requests, provider_summaries };
  });
}
