/** Cinder snapshots: create, list (summary and detail), show, update, delete, metadata. */
import type { FastifyInstance } from 'fastify';
import { cinderError, isoNow } from '../context.js';
import { minorOf } from '../microversion.js';
import {
  createSnapshot, deleteSnapshot, deleteSnapshotMetadataKey, listSnapshots, renderSnapshot, setSnapshotMetadata, STATUS_RESET, updateSnapshot, visibleSnapshot,
} from '../snapshots.js';
import { metadataOf } from '../volumes.js';
import { bodyObject, caller, nextLink, param, query, route, withCount } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerSnapshotRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  const ctxOf = (request: Parameters<typeof caller>[0]) => ({ base: env.base, minor: minorOf(request), caller: caller(request) });
  route(app, 'POST', '/snapshots', async (request, reply) => {
    const ctx = ctxOf(request);
    const row = await createSnapshot(deps, ctx.caller, bodyObject(request.body, 'snapshot'), ctx.minor);
    return reply.status(202).send({ snapshot: renderSnapshot(row, ctx, false) });
  });
  for (const detail of [false, true]) {
    route(app, 'GET', detail ? '/snapshots/detail' : '/snapshots', async (request) => {
      const ctx = ctxOf(request);
      const { rows, count, next } = await listSnapshots(deps, ctx.caller, query(request));
      return {
        snapshots: rows.map((r) => renderSnapshot(r, ctx, detail)),
        ...(next ? { snapshots_links: nextLink(env, request, detail ? 'snapshots/detail' : 'snapshots', next, ctx.caller.projectId) } : {}),
        ...(withCount(request) ? { count } : {}),
      };
    });
  }
  route(app, 'GET', '/snapshots/:id', async (request) => {
    const ctx = ctxOf(request);
    return { snapshot: renderSnapshot(await visibleSnapshot(deps.db, ctx.caller, param(request, 'id')), ctx) };
  });
  route(app, 'PUT', '/snapshots/:id', async (request) => {
    const ctx = ctxOf(request);
    return { snapshot: renderSnapshot(await updateSnapshot(deps, ctx.caller, param(request, 'id'), bodyObject(request.body, 'snapshot')), ctx, false) };
  });
  route(app, 'DELETE', '/snapshots/:id', async (request, reply) => {
    await deleteSnapshot(deps, caller(request), param(request, 'id'));
    return reply.status(202).send();
  });
  route(app, 'POST', '/snapshots/:id/action', async (request, reply) => {
    const c = caller(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    if ('os-force_delete' in body) {
      if (!c.isAdmin) throw cinderError('ERR_FORBIDDEN', "Policy doesn't allow volume_extension:snapshot_admin_actions:force_delete to be performed.");
      await deleteSnapshot(deps, c, param(request, 'id'), true);
      return reply.status(202).send();
    }
    if ('os-reset_status' in body) {
      if (!c.isAdmin) throw cinderError('ERR_FORBIDDEN', "Policy doesn't allow volume_extension:snapshot_admin_actions:reset_status to be performed.");
      const status = (body['os-reset_status'] as Record<string, unknown> | null)?.status;
      if (typeof status !== 'string' || !['available', 'error', 'creating', 'deleting', 'error_deleting'].includes(status)) throw cinderError('ERR_VALIDATION', 'Invalid input received: Must specify a valid status');
      await visibleSnapshot(deps.db, c, param(request, 'id'));
      await deps.db.updateTable('volume_snapshot').set({ status, status_reason: STATUS_RESET, updated_at: isoNow(deps) }).where('id', '=', param(request, 'id')).execute();
      return reply.status(202).send();
    }
    throw cinderError('ERR_VALIDATION', `There is no such action: ${Object.keys(body)[0] ?? 'None'}`);
  });
  route(app, 'GET', '/snapshots/:id/metadata', async (request) => ({ metadata: metadataOf(await visibleSnapshot(deps.db, caller(request), param(request, 'id'))) }));
  route(app, 'POST', '/snapshots/:id/metadata', async (request) => ({ metadata: await setSnapshotMetadata(deps, caller(request), param(request, 'id'), (request.body as Record<string, unknown> | undefined)?.metadata ?? null, false) }));
  route(app, 'PUT', '/snapshots/:id/metadata', async (request) => ({ metadata: await setSnapshotMetadata(deps, caller(request), param(request, 'id'), (request.body as Record<string, unknown> | undefined)?.metadata ?? null, true) }));
  route(app, 'GET', '/snapshots/:id/metadata/:key', async (request) => {
    const m = metadataOf(await visibleSnapshot(deps.db, caller(request), param(request, 'id')));
    const key = param(request, 'key');
    if (!(key in m)) throw cinderError('ERR_NOT_FOUND', `Snapshot ${param(request, 'id')} has no metadata with key ${key}.`);
    return { meta: { [key]: m[key] } };
  });
  route(app, 'PUT', '/snapshots/:id/metadata/:key', async (request) => {
    const meta = bodyObject(request.body, 'meta');
    if (Object.keys(meta).length !== 1 || !(param(request, 'key') in meta)) throw cinderError('ERR_VALIDATION', 'Invalid input received: Request body and URI mismatch');
    await setSnapshotMetadata(deps, caller(request), param(request, 'id'), meta, false);
    return { meta };
  });
  route(app, 'DELETE', '/snapshots/:id/metadata/:key', async (request, reply) => {
    await deleteSnapshotMetadataKey(deps, caller(request), param(request, 'id'), param(request, 'key'));
    return reply.status(200).send();
  });
}
