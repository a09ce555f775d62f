/** Nova servers: create, list, show, update, delete, actions, metadata, tags, ips, instance actions. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KumoError } from '../../errors.js';
import { novaError, novaTime } from '../context.js';
import { deletedServerActionsVisible, getAction, listActions } from '../instance-actions.js';
import { minorOf } from '../microversion.js';
import { deleteMetadataItem, deleteServer, mergeMetadata, replaceMetadata, serverAction, serverMetadata, updateServer } from '../server-actions.js';
import type { ActionHandler } from '../server-actions.js';
import { listServers, renderServer, renderServerAfterChange, renderServers, summaryOf } from '../server-view.js';
import type { ViewContext } from '../server-view.js';
import { checkTag, checkTagList, createServers, getServer, newAdminPass, portsOf } from '../servers.js';
import { serverAddressesOfMany } from '../../network/workload-ports.js';
import { bodyObject, caller, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerServerRoutes(app: FastifyInstance, env: ComputeRouteEnv, extraActions: Record<string, ActionHandler> = {}): void {
  const { deps } = env;
  const view = (request: FastifyRequest): ViewContext => ({ deps, caller: caller(request), minor: minorOf(request), base: env.base, imageBase: env.imageBase });

  app.post('/v2.1/servers', async (request, reply) => {
    const ctx = view(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const input = bodyObject(body, 'server');
    const hints = (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {}) as Record<string, unknown>;
    const { rows, adminPass, reservationId } = await createServers(deps, ctx.caller, input, ctx.minor, hints);
    if (input.return_reservation_id === true || input.return_reservation_id === 'True' || input.return_reservation_id === 'true') {
      return reply.status(202).send({ reservation_id: reservationId });
    }
    const first = rows[0];
    reply.header('Location', `${env.base}/v2.1/servers/${first.uuid}`);
    return reply.status(202).send({
      server: {
        id: first.uuid, links: summaryOf(ctx, first).links, 'OS-DCF:diskConfig': 'MANUAL',
        security_groups: JSON.parse(first.spec).security_groups.map((name: string) => ({ name })), adminPass,
      },
    });
  });

  app.get('/v2.1/servers', async (request) => {
    const ctx = view(request);
    const { rows, next } = await listServers(ctx, query(request));
    return { servers: rows.map((r) => summaryOf(ctx, r)), ...(next ? { servers_links: [{ rel: 'next', href: nextHref(request, next) }] } : {}) };
  });
  app.get('/v2.1/servers/detail', async (request) => {
    const ctx = view(request);
    const { rows, next } = await listServers(ctx, query(request));
    return { servers: await renderServers(ctx, rows), ...(next ? { servers_links: [{ rel: 'next', href: nextHref(request, next, true) }] } : {}) };
  });
  function nextHref(request: FastifyRequest, marker: string, detail = false): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query(request))) if (k !== 'marker') for (const x of Array.isArray(v) ? v : [v ?? '']) params.append(k, x);
    params.set('marker', marker);
    return `${env.base}/v2.1/servers${detail ? '/detail' : ''}?${params.toString()}`;
  }
  app.get('/v2.1/servers/:id', async (request) => {
    const ctx = view(request);
    return { server: await renderServer(ctx, await getServer(deps.db, ctx.caller, param(request, 'id'))) };
  });
  app.put('/v2.1/servers/:id', async (request) => {
    const ctx = view(request);
    const row = await updateServer(deps, ctx.caller, param(request, 'id'), bodyObject(request.body, 'server'), ctx.minor);
    return { server: await renderServerAfterChange(ctx, row) };
  });
  app.delete('/v2.1/servers/:id', async (request, reply) => {
    await deleteServer(deps, caller(request), param(request, 'id'));
    return reply.status(204).send();
  });
  app.post('/v2.1/servers/:id/action', async (request, reply: FastifyReply) => {
    const result = await serverAction(deps, caller(request), param(request, 'id'), request.body, minorOf(request), extraActions);
    if (result && typeof result === 'object' && 'status' in result && 'body' in result) {
      const r = result as { status: number; body: unknown; headers?: Record<string, string> };
      for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
      return reply.status(r.status).send(r.body);
    }
    const rebuild = (request.body as { rebuild?: { adminPass?: unknown } }).rebuild;
    if (rebuild) {
      // Nova answers a rebuild with the server and its admin password.
      const ctx = view(request);
      const server = await renderServerAfterChange(ctx, await getServer(deps.db, ctx.caller, param(request, 'id')), true);
      return reply.status(202).send({ server: { ...server, adminPass: newAdminPass(rebuild.adminPass) } });
    }
    return reply.status(202).send();
  });

  // ---- metadata ----
  const owned = async (request: FastifyRequest) => getServer(deps.db, caller(request), param(request, 'id'));
  app.get('/v2.1/servers/:id/metadata', async (request) => ({ metadata: await serverMetadata(deps, (await owned(request)).uuid) }));
  app.put('/v2.1/servers/:id/metadata', async (request) => {
    const row = await owned(request);
    return { metadata: await replaceMetadata(deps, row.uuid, (request.body as { metadata?: unknown } | undefined)?.metadata) };
  });
  app.post('/v2.1/servers/:id/metadata', async (request) => {
    const row = await owned(request);
    return { metadata: await mergeMetadata(deps, row.uuid, (request.body as { metadata?: unknown } | undefined)?.metadata) };
  });
  app.get('/v2.1/servers/:id/metadata/:key', async (request) => {
    const meta = await serverMetadata(deps, (await owned(request)).uuid);
    const key = param(request, 'key');
    if (!(key in meta)) throw novaError('ERR_NOT_FOUND', 'Metadata item was not found');
    return { meta: { [key]: meta[key] } };
  });
  app.put('/v2.1/servers/:id/metadata/:key', async (request) => {
    const row = await owned(request);
    const key = param(request, 'key');
    const meta = (request.body as { meta?: Record<string, unknown> } | undefined)?.meta;
    if (!meta || typeof meta !== 'object' || Object.keys(meta).length !== 1) throw novaError('ERR_VALIDATION', 'Request body and URI mismatch');
    if (!(key in meta)) throw novaError('ERR_VALIDATION', 'Request body and URI mismatch');
    await mergeMetadata(deps, row.uuid, meta);
    return { meta: { [key]: meta[key] } };
  });
  app.delete('/v2.1/servers/:id/metadata/:key', async (request, reply) => {
    await deleteMetadataItem(deps, (await owned(request)).uuid, param(request, 'key'));
    return reply.status(204).send();
  });

  // ---- tags (2.26) ----
  const tagsOf = async (id: string) => (await deps.db.selectFrom('compute_instance_tag').select('tag').where('instance_id', '=', id).orderBy('tag').execute()).map((t) => t.tag);
  const needTags = (request: FastifyRequest) => {
    if (minorOf(request) < 26) throw novaError('ERR_NOT_FOUND', 'The resource could not be found.');
  };
  app.get('/v2.1/servers/:id/tags', async (request) => {
    needTags(request);
    return { tags: await tagsOf((await owned(request)).uuid) };
  });
  app.put('/v2.1/servers/:id/tags', async (request) => {
    needTags(request);
    const row = await owned(request);
    const tags = checkTagList((request.body as { tags?: unknown } | undefined)?.tags);
    await deps.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('compute_instance_tag').where('instance_id', '=', row.uuid).execute();
      for (const tag of tags) await tx.insertInto('compute_instance_tag').values({ instance_id: row.uuid, tag }).execute();
    });
    return { tags: await tagsOf(row.uuid) };
  });
  app.delete('/v2.1/servers/:id/tags', async (request, reply) => {
    needTags(request);
    const row = await owned(request);
    await deps.db.deleteFrom('compute_instance_tag').where('instance_id', '=', row.uuid).execute();
    return reply.status(204).send();
  });
  app.get('/v2.1/servers/:id/tags/:tag', async (request, reply) => {
    needTags(request);
    const row = await owned(request);
    if (!(await tagsOf(row.uuid)).includes(param(request, 'tag'))) throw novaError('ERR_NOT_FOUND', `Tag ${param(request, 'tag')} could not be found.`);
    return reply.status(204).send();
  });
  app.put('/v2.1/servers/:id/tags/:tag', async (request, reply) => {
    needTags(request);
    const row = await owned(request);
    const tag = checkTag(param(request, 'tag'));
    const current = await tagsOf(row.uuid);
    if (current.includes(tag)) return reply.status(204).send();
    if (current.length >= 50) throw novaError('ERR_VALIDATION', `Instance ${row.uuid} has too many tags (at most 50).`);
    await deps.db.insertInto('compute_instance_tag').values({ instance_id: row.uuid, tag }).execute();
    reply.header('Location', `${env.base}/v2.1/servers/${row.uuid}/tags/${tag}`);
    return reply.status(201).send();
  });
  app.delete('/v2.1/servers/:id/tags/:tag', async (request, reply) => {
    needTags(request);
    const row = await owned(request);
    const res = await deps.db.deleteFrom('compute_instance_tag').where('instance_id', '=', row.uuid).where('tag', '=', param(request, 'tag')).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw novaError('ERR_NOT_FOUND', `Tag ${param(request, 'tag')} could not be found.`);
    return reply.status(204).send();
  });

  // ---- ips ----
  const ipsOf = async (request: FastifyRequest) => {
    const row = await owned(request);
    const [addresses] = await serverAddressesOfMany(deps.network, [portsOf(row).map((p) => p.id)]);
    return Object.fromEntries(Object.entries(addresses).map(([net, list]) => [net, list.map((a) => ({ version: a.version, addr: a.addr }))]));
  };
  app.get('/v2.1/servers/:id/ips', async (request) => ({ addresses: await ipsOf(request) }));
  app.get('/v2.1/servers/:id/ips/:network', async (request) => {
    const addresses = await ipsOf(request);
    const net = param(request, 'network');
    if (!(net in addresses)) throw novaError('ERR_NOT_FOUND', 'Instance is not a member of specified network');
    return { [net]: addresses[net] };
  });

  // ---- instance actions ----
  /** The server whose actions are asked for; from 2.21 also a deleted one. */
  const actionsOf = async (request: FastifyRequest): Promise<string> => {
    try {
      return (await owned(request)).uuid;
    } catch (err) {
      const id = param(request, 'id');
      if (err instanceof KumoError && err.status === 404 && minorOf(request) >= 21 && await deletedServerActionsVisible(deps, caller(request), id)) return id;
      throw err;
    }
  };
  app.get('/v2.1/servers/:id/os-instance-actions', async (request) => {
    const uuid = await actionsOf(request);
    const minor = minorOf(request);
    return {
      instanceActions: (await listActions(deps, uuid)).map((a) => ({
        action: a.action, instance_uuid: a.instance_id, message: a.message, project_id: a.project_id, request_id: a.request_id,
        start_time: novaTime(Date.parse(a.start_time)), user_id: a.user_id, ...(minor >= 58 ? { updated_at: novaTime(Date.parse(a.finish_time ?? a.start_time)) } : {}),
      })),
    };
  });
  app.get('/v2.1/servers/:id/os-instance-actions/:requestId', async (request) => {
    const c = caller(request);
    const { action, events } = await getAction(deps, c, await actionsOf(request), param(request, 'requestId'));
    const minor = minorOf(request);
    return {
      instanceAction: {
        action: action.action, instance_uuid: action.instance_id, message: action.message, project_id: action.project_id, request_id: action.request_id,
        start_time: novaTime(Date.parse(action.start_time)), user_id: action.user_id,
        ...(minor >= 58 ? { updated_at: novaTime(Date.parse(action.finish_time ?? action.start_time)) } : {}),
        events: events.map((e) => ({
          event: e.event, start_time: novaTime(Date.parse(e.start_time)), finish_time: e.finish_time ? novaTime(Date.parse(e.finish_time)) : null, result: e.result,
          ...(c.isAdmin ? { traceback: null } : {}), ...(minor >= 62 ? { hostId: '', ...(c.isAdmin ? { host: e.host } : {}) } : {}), ...(minor >= 84 ? { details: e.details } : {}),
        })),
      },
    };
  });
}
