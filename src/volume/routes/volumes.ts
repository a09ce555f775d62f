/** Cinder volumes: create, list (summary and detail), show, update, delete, metadata, summary, actions. */
import type { FastifyInstance } from 'fastify';
import { minorOf, requireMinor } from '../microversion.js';
import { volumeAction } from '../volume-actions.js';
import {
  attachmentsOf, createVolumeRow, deleteVolume, deleteVolumeMetadataKey, listVolumes, metadataOf, parseCreateBody, renderVolume, renderVolumeSummary,
  setVolumeMetadata, updateVolume, visibleVolume,
} from '../volumes.js';
import { cinderError, volumeNotFound } from '../context.js';
import { bodyObject, caller, nextLink, param, query, route, viewOf, withCount } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerVolumeRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  const truthy = (v: unknown) => typeof v === 'string' && ['1', 'true', 'yes', 't', 'on'].includes(v.toLowerCase());

  route(app, 'POST', '/volumes', async (request, reply) => {
    const ctx = await viewOf(env, request);
    const row = await createVolumeRow(deps, ctx.caller, parseCreateBody(bodyObject(request.body, 'volume')));
    return reply.status(202).send({ volume: renderVolume(ctx, row, [], false) });
  });
  for (const detail of [false, true]) {
    route(app, 'GET', detail ? '/volumes/detail' : '/volumes', async (request) => {
      // The app ignores trailing slashes, but to Cinder `volumes/` is a show with an empty id: 404.
      if (!detail && request.url.split('?')[0].endsWith('/')) throw volumeNotFound('');
      const ctx = await viewOf(env, request);
      const { rows, count, next } = await listVolumes(deps, ctx.caller, query(request));
      const attachments = detail ? await attachmentsOf(deps.db, rows.map((r) => r.id)) : new Map();
      return {
        volumes: rows.map((r) => (detail ? renderVolume(ctx, r, attachments.get(r.id) ?? []) : renderVolumeSummary(ctx, r))),
        ...(next ? { volumes_links: nextLink(env, request, detail ? 'volumes/detail' : 'volumes', next, ctx.caller.projectId) } : {}),
        ...(withCount(request) ? { count } : {}),
      };
    });
  }
  route(app, 'GET', '/volumes/summary', async (request) => {
    requireMinor(request, 12);
    const ctx = await viewOf(env, request);
    const { rows } = await listVolumes(deps, ctx.caller, { ...query(request), limit: undefined, marker: undefined });
    const summary: Record<string, unknown> = { total_count: rows.length, total_size: rows.reduce((n, r) => n + r.size, 0) };
    if (minorOf(request) >= 36) {
      const keys: Record<string, string[]> = {};
      for (const r of rows) for (const [k, v] of Object.entries(metadataOf(r))) if (!(keys[k] ??= []).includes(v)) keys[k].push(v);
      summary.metadata = keys;
    }
    return { 'volume-summary': summary };
  });
  route(app, 'GET', '/volumes/:id', async (request) => {
    const ctx = await viewOf(env, request);
    const row = await visibleVolume(deps.db, ctx.caller, param(request, 'id'));
    return { volume: renderVolume(ctx, row, (await attachmentsOf(deps.db, [row.id])).get(row.id) ?? []) };
  });
  route(app, 'PUT', '/volumes/:id', async (request) => {
    const ctx = await viewOf(env, request);
    const row = await updateVolume(deps, ctx.caller, param(request, 'id'), bodyObject(request.body, 'volume'));
    return { volume: renderVolume(ctx, row, (await attachmentsOf(deps.db, [row.id])).get(row.id) ?? [], false) };
  });
  route(app, 'DELETE', '/volumes/:id', async (request, reply) => {
    const q = query(request);
    const c = caller(request);
    if (truthy(q.force) && !c.isAdmin) throw cinderError('ERR_FORBIDDEN', "Policy doesn't allow volume:force_delete to be performed.");
    await deleteVolume(deps, c, param(request, 'id'), { cascade: truthy(q.cascade), force: truthy(q.force) });
    return reply.status(202).send();
  });
  route(app, 'POST', '/volumes/:id/action', async (request, reply) => {
    const c = caller(request);
    const result = await volumeAction(deps, c, minorOf(request), param(request, 'id'), request.body);
    if (!result) return reply.status(202).send();
    return result.body === undefined ? reply.status(result.status).send() : reply.status(result.status).send(result.body);
  });

  route(app, 'GET', '/volumes/:id/metadata', async (request) => ({ metadata: metadataOf(await visibleVolume(deps.db, caller(request), param(request, 'id'))) }));
  route(app, 'POST', '/volumes/:id/metadata', async (request) => ({ metadata: await setVolumeMetadata(deps, caller(request), param(request, 'id'), (request.body as Record<string, unknown> | undefined)?.metadata ?? null, false) }));
  route(app, 'PUT', '/volumes/:id/metadata', async (request) => ({ metadata: await setVolumeMetadata(deps, caller(request), param(request, 'id'), (request.body as Record<string, unknown> | undefined)?.metadata ?? null, true) }));
  route(app, 'GET', '/volumes/:id/metadata/:key', async (request) => {
    const m = metadataOf(await visibleVolume(deps.db, caller(request), param(request, 'id')));
    const key = param(request, 'key');
    if (!(key in m)) throw cinderError('ERR_NOT_FOUND', `Volume ${param(request, 'id')} has no metadata with key ${key}.`);
    return { meta: { [key]: m[key] } };
  });
  route(app, 'PUT', '/volumes/:id/metadata/:key', async (request) => {
    const meta = bodyObject(request.body, 'meta');
    const key = param(request, 'key');
    if (Object.keys(meta).length !== 1 || !(key in meta)) throw cinderError('ERR_VALIDATION', 'Invalid input received: Request body and URI mismatch');
    await setVolumeMetadata(deps, caller(request), param(request, 'id'), meta, false);
    return { meta };
  });
  route(app, 'DELETE', '/volumes/:id/metadata/:key', async (request, reply) => {
    await deleteVolumeMetadataKey(deps, caller(request), param(request, 'id'), param(request, 'key'));
    return reply.status(200).send();
  });
}
