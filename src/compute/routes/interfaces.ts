/** Nova os-interface: a server's ports, attach and detach. */
import type { FastifyInstance } from 'fastify';
import { novaError } from '../context.js';
import { attachInterface, detachInterface, listInterfaces } from '../interfaces.js';
import { minorOf } from '../microversion.js';
import { bodyObject, caller, param } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerInterfaceRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  app.get('/v2.1/servers/:id/os-interface', async (request) => ({ interfaceAttachments: await listInterfaces(deps, caller(request), param(request, 'id'), minorOf(request)) }));
  app.get('/v2.1/servers/:id/os-interface/:portId', async (request) => {
    const found = (await listInterfaces(deps, caller(request), param(request, 'id'), minorOf(request))).find((a) => a.port_id === param(request, 'portId'));
    if (!found) throw novaError('ERR_NOT_FOUND', `Port ${param(request, 'portId')} is not attached`);
    return { interfaceAttachment: found };
  });
  app.post('/v2.1/servers/:id/os-interface', async (request) => ({
    interfaceAttachment: await attachInterface(deps, caller(request), param(request, 'id'), bodyObject(request.body, 'interfaceAttachment'), minorOf(request)),
  }));
  app.delete('/v2.1/servers/:id/os-interface/:portId', async (request, reply) => {
    await detachInterface(deps, caller(request), param(request, 'id'), param(request, 'portId'));
    return reply.status(202).send();
  });
}
