import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { createResourceClass, deleteResourceClass, getResourceClass, listResourceClasses } from '../resource-classes.js';
import { admit, since } from './common.js';
import type { PlacementRouteEnv } from './common.js';

const CreateBody = Type.Object({ name: Type.String({ pattern: '^CUSTOM_[A-Z0-9_]+$', maxLength: 255 }) }, { additionalProperties: false });
const nameParam = (request: FastifyRequest) => (request.params as { name: string }).name;

export function registerResourceClassRoutes(app: FastifyInstance, env: PlacementRouteEnv): void {
  const { deps } = env;
  const render = (name: string) => ({ name, links: [{ rel: 'self', href: `${env.linkRoot}/resource_classes/${name}` }] });
  app.get('/resource_classes', async (request) => {
    since(request, 2);
    admit(request, 'resource_classes:list');
    return { resource_classes: (await listResourceClasses(deps.db)).map(render) };
  });
  app.post('/resource_classes', { schema: { body: CreateBody } }, async (request, reply) => {
    since(request, 2);
    admit(request, 'resource_classes:create');
    const { name } = request.body as { name: string };
    await createResourceClass(deps, name, false);
    return reply.status(201).header('Location', `${env.base}/resource_classes/${name}`).send();
  });
  app.get('/resource_classes/:name', async (request) => {
    since(request, 2);
    admit(request, 'resource_classes:show');
    return render(await getResourceClass(deps.db, nameParam(request)));
  });
  // From 1.7 PUT creates (201) or confirms (204) a custom class; before it, it renamed one, which Kumo does not offer.
  app.put('/resource_classes/:name', async (request, reply) => {
    since(request, 7);
    admit(request, 'resource_classes:update');
    const name = nameParam(request);
    const { created } = await createResourceClass(deps, name, true);
    reply.header('Location', `${env.base}/resource_classes/${name}`);
    return reply.status(created ? 201 : 204).send();
  });
  app.delete('/resource_classes/:name', async (request, reply) => {
    since(request, 2);
    admit(request, 'resource_classes:delete');
    await deleteResourceClass(deps, nameParam(request));
    return reply.status(204).send();
  });
}
