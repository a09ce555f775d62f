import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { capsuleMembers, createCapsule, deleteCapsule, getCapsule, renderCapsule, visibleCapsules } from '../capsules.js';
import { boolParam, caller, identOf, nonNegativeInt, query } from './common.js';
import type { ContainerRouteEnv } from './common.js';
import { hostFor } from './containers.js';

const CreateBody = Type.Object({ template: Type.Unknown() }, { additionalProperties: true });

/** Zun's capsule API (`openstack capsule create --file/list/show/delete`). */
export function registerCapsuleRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;
  const load = (request: Parameters<typeof caller>[0]) => getCapsule(deps.db, caller(request), identOf(request), boolParam('all_projects', query(request).all_projects, false));

  app.post('/v1/capsules', { schema: { body: CreateBody } }, async (request, reply) => {
    const capsule = await createCapsule(deps, caller(request), (request.body as { template: unknown }).template, { host: hostFor(deps) });
    return reply.status(202).header('Location', `${env.base}/v1/capsules/${capsule.uuid}`).send(await renderCapsule(deps, capsule, env.base));
  });
  app.get('/v1/capsules', async (request) => {
    const q = query(request);
    let rows = await visibleCapsules(deps.db, caller(request), boolParam('all_projects', q.all_projects, false));
    if (q.marker) rows = rows.slice(rows.findIndex((r) => r.uuid === q.marker) + 1);
    const limit = nonNegativeInt('limit', q.limit, 0);
    const page = limit ? rows.slice(0, limit) : rows;
    const next = limit && rows.length > limit ? `${env.base}/v1/capsules?limit=${limit}&marker=${page[page.length - 1].uuid}` : null;
    const members = await capsuleMembers(deps.db, page.map((c) => c.uuid));
    return { capsules: await Promise.all(page.map((c) => renderCapsule(deps, c, env.base, members.get(c.uuid)))), next };
  });
  app.get('/v1/capsules/:ident', async (request) => renderCapsule(deps, await load(request), env.base));
  app.delete('/v1/capsules/:ident', async (request, reply) => {
    await deleteCapsule(deps, await load(request));
    return reply.status(204).send();
  });
}
