/** Volume types (admin writes), the default type, extra specs and private-type access. */
import type { FastifyInstance } from 'fastify';
import { cinderError } from '../context.js';
import {
  changeTypeAccess, createVolumeType, defaultVolumeType, deleteExtraSpec, deleteVolumeType, getVolumeType, listVolumeTypes, renderVolumeType, setExtraSpecs,
  specsOf, typeAccessList, updateVolumeType,
} from '../volume-types.js';
import { bodyObject, caller, param, query, route } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerVolumeTypeRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  const last = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);
  route(app, 'GET', '/types', async (request) => {
    const c = caller(request);
    return { volume_types: (await listVolumeTypes(deps, c, last(query(request).is_public))).map((t) => renderVolumeType(t, c.isAdmin)) };
  });
  route(app, 'GET', '/types/default', async (request) => ({ volume_type: renderVolumeType(await defaultVolumeType(deps), caller(request).isAdmin) }));
  route(app, 'GET', '/types/:id', async (request) => {
    const c = caller(request);
    return { volume_type: renderVolumeType(await getVolumeType(deps, c, param(request, 'id')), c.isAdmin) };
  });
  route(app, 'POST', '/types', async (request) => {
    const c = caller(request);
    return { volume_type: renderVolumeType(await createVolumeType(deps, c, bodyObject(request.body, 'volume_type')), true, 'create') };
  });
  route(app, 'PUT', '/types/:id', async (request) => {
    const c = caller(request);
    return { volume_type: renderVolumeType(await updateVolumeType(deps, c, param(request, 'id'), bodyObject(request.body, 'volume_type')), true, 'update') };
  });
  route(app, 'DELETE', '/types/:id', async (request, reply) => {
    await deleteVolumeType(deps, caller(request), param(request, 'id'));
    return reply.status(202).send();
  });
  route(app, 'GET', '/types/:id/extra_specs', async (request) => {
    const c = caller(request);
    return { extra_specs: c.isAdmin ? specsOf(await getVolumeType(deps, c, param(request, 'id'))) : {} };
  });
  route(app, 'POST', '/types/:id/extra_specs', async (request) => ({
    extra_specs: await setExtraSpecs(deps, caller(request), param(request, 'id'), bodyObject(request.body, 'extra_specs'), false),
  }));
  route(app, 'GET', '/types/:id/extra_specs/:key', async (request) => {
    const c = caller(request);
    const specs = specsOf(await getVolumeType(deps, c, param(request, 'id')));
    const key = param(request, 'key');
    if (!(key in specs)) throw cinderError('ERR_NOT_FOUND', `Volume Type ${param(request, 'id')} has no extra specs with key ${key}.`);
    return { [key]: specs[key] };
  });
  route(app, 'PUT', '/types/:id/extra_specs/:key', async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const key = param(request, 'key');
    if (Object.keys(body).length !== 1 || !(key in body)) throw cinderError('ERR_VALIDATION', 'Invalid input received: Request body and URI mismatch');
    return setExtraSpecs(deps, caller(request), param(request, 'id'), body, false);
  });
  route(app, 'DELETE', '/types/:id/extra_specs/:key', async (request, reply) => {
    await deleteExtraSpec(deps, caller(request), param(request, 'id'), param(request, 'key'));
    return reply.status(202).send();
  });
  route(app, 'GET', '/types/:id/os-volume-type-access', async (request) => {
    const id = param(request, 'id');
    return { volume_type_access: (await typeAccessList(deps, caller(request), id)).map((p) => ({ volume_type_id: id, project_id: p })) };
  });
  route(app, 'POST', '/types/:id/action', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const add = 'addProjectAccess' in body;
    if (!add && !('removeProjectAccess' in body)) throw cinderError('ERR_VALIDATION', `There is no such action: ${Object.keys(body)[0] ?? 'None'}`);
    await changeTypeAccess(deps, caller(request), param(request, 'id'), (add ? body.addProjectAccess : body.removeProjectAccess)?.project, add);
    return reply.status(202).send();
  });
}
