import type { FastifyInstance } from 'fastify';
import { badInput } from '../context.js';
import { TAGGED, changeTags, readTags, tagNotFound } from '../tags.js';
import type { TaggedCollection } from '../tags.js';
import { caller } from './common.js';
import type { NetworkRouteEnv } from './common.js';

export function registerTagRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  for (const collection of Object.keys(TAGGED) as TaggedCollection[]) {
    const base = `/v2.0/${collection}/:id/tags`;
    type P = { id: string; tag: string };
    app.get(base, async (request) => ({ tags: await readTags(deps.db, caller(env, request), collection, (request.params as P).id) }));
    app.put(base, async (request) => {
      const tags = (request.body as { tags?: unknown } | undefined)?.tags;
      if (!Array.isArray(tags)) throw badInput("'tags' must be a list of strings.");
      return { tags: await changeTags(deps, caller(env, request), collection, (request.params as P).id, () => tags as string[]) };
    });
    app.delete(base, async (request, reply) => {
      await changeTags(deps, caller(env, request), collection, (request.params as P).id, () => []);
      return reply.status(204).send();
    });
    app.get(`${base}/:tag`, async (request, reply) => {
      const { id, tag } = request.params as P;
      if (!(await readTags(deps.db, caller(env, request), collection, id)).includes(tag)) throw tagNotFound(tag, id);
      return reply.status(204).send();
    });
    app.put(`${base}/:tag`, async (request, reply) => {
      const { id, tag } = request.params as P;
      await changeTags(deps, caller(env, request), collection, id, (tags) => [...tags, tag]);
      return reply.status(201).send();
    });
    app.delete(`${base}/:tag`, async (request, reply) => {
      const { id, tag } = request.params as P;
      await changeTags(deps, caller(env, request), collection, id, (tags) => {
        if (!tags.includes(tag)) throw tagNotFound(tag, id);
        return tags.filter((t) => t !== tag);
      });
      return reply.status(204).send();
    });
  }
}
