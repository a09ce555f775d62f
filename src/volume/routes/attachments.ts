/** The Cinder attachments API (3.27+): create, show, list, update with a connector, complete (3.44), delete. */
import type { FastifyInstance } from 'fastify';
import { cinderError } from '../context.js';
import { minorOf, requireMinor } from '../microversion.js';
import { completeAttachment, connectAttachment, connectionInfo, deleteAttachment, reserveVolume, visibleAttachment } from '../attachments.js';
import { cinderTime } from '../context.js';
import type { AttachmentRow, VolumeRow } from '../volumes.js';
import { visibleVolume } from '../volumes.js';
import { bodyObject, caller, param, query, route } from './common.js';
import type { VolumeRouteEnv } from './common.js';

export function registerAttachmentRoutes(app: FastifyInstance, env: VolumeRouteEnv): void {
  const { deps } = env;
  const render = async (a: AttachmentRow, volume: VolumeRow, detail = true) => {
    const base = { id: a.id, status: a.status, instance: a.instance_id, volume_id: a.volume_id };
    if (!detail) return base;
    return {
      ...base, attached_at: a.attached_at ? cinderTime(a.attached_at) : null, detached_at: null, attach_mode: a.mode,
      connection_info: a.connector ? await connectionInfo(deps, volume, a.mode, a.id) : {},
    };
  };
  route(app, 'POST', '/attachments', async (request) => {
    requireMinor(request, 27);
    const c = caller(request);
    const body = bodyObject(request.body, 'attachment');
    const volumeId = body.volume_uuid;
    if (typeof volumeId !== 'string') throw cinderError('ERR_VALIDATION', "Invalid input for field/attribute attachment. 'volume_uuid' is a required property");
    const instanceId = typeof body.instance_uuid === 'string' ? body.instance_uuid : null;
    if (!instanceId) throw cinderError('ERR_VALIDATION', 'Invalid input received: instance_uuid is required to create an attachment.');
    const mode = body.mode === undefined || body.mode === null ? 'rw' : body.mode;
    if (mode !== 'rw' && mode !== 'ro') throw cinderError('ERR_VALIDATION', "Invalid input received: Invalid attachment mode; 'rw' or 'ro' only.");
    if (minorOf(request) < 54 && body.mode !== undefined) throw cinderError('ERR_VALIDATION', 'Invalid input received: mode is allowed from microversion 3.54.');
    const connector = body.connector && typeof body.connector === 'object' ? body.connector : undefined;
    const view = await reserveVolume(deps, c, volumeId, { instanceId, mode, connector, mountpoint: (connector as Record<string, unknown> | undefined)?.mountpoint as string | undefined ?? null });
    const { attachment, volume } = await visibleAttachment(deps, c, view.id);
    return { attachment: await render(attachment, volume) };
  });
  for (const detail of [false, true]) {
    route(app, 'GET', detail ? '/attachments/detail' : '/attachments', async (request) => {
      requireMinor(request, 27);
      const c = caller(request);
      const q = query(request);
      const last = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);
      const all = c.isAdmin && ['1', 'true', 'True'].includes(last(q.all_tenants) ?? '');
      let sel = deps.db.selectFrom('volume_attachment').innerJoin('volume_volume', 'volume_volume.id', 'volume_attachment.volume_id').selectAll('volume_attachment');
      if (!all) sel = sel.where('volume_volume.project_id', '=', c.projectId);
      const volumeId = last(q.volume_id);
      if (volumeId) sel = sel.where('volume_attachment.volume_id', '=', volumeId);
      const instanceId = last(q.instance_id);
      if (instanceId) sel = sel.where('volume_attachment.instance_id', '=', instanceId);
      const status = last(q.status);
      if (status) sel = sel.where('volume_attachment.status', '=', status);
      const rows = await sel.orderBy('volume_attachment.created_at', 'desc').execute();
      const volumes = new Map((rows.length ? await deps.db.selectFrom('volume_volume').selectAll().where('id', 'in', rows.map((r) => r.volume_id)).execute() : []).map((v) => [v.id, v]));
      return { attachments: await Promise.all(rows.map((r) => render(r, volumes.get(r.volume_id)!, detail))) };
    });
  }
  route(app, 'GET', '/attachments/:id', async (request) => {
    requireMinor(request, 27);
    const { attachment, volume } = await visibleAttachment(deps, caller(request), param(request, 'id'));
    return { attachment: await render(attachment, volume) };
  });
  route(app, 'PUT', '/attachments/:id', async (request) => {
    requireMinor(request, 27);
    const c = caller(request);
    const body = bodyObject(request.body, 'attachment');
    const a = await connectAttachment(deps, c, param(request, 'id'), body.connector);
    const volume = await visibleVolume(deps.db, c, a.volume_id);
    return { attachment: await render(a, volume) };
  });
  route(app, 'POST', '/attachments/:id/action', async (request, reply) => {
    requireMinor(request, 44);
    const c = caller(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (!('os-complete' in body)) throw cinderError('ERR_VALIDATION', `There is no such action: ${Object.keys(body)[0] ?? 'None'}`);
    const { attachment } = await visibleAttachment(deps, c, param(request, 'id'));
    await completeAttachment(deps, attachment.id, { hostName: null, mountpoint: null });
    return reply.status(204).send();
  });
  route(app, 'DELETE', '/attachments/:id', async (request) => {
    requireMinor(request, 27);
    const c = caller(request);
    const { attachment, volume } = await visibleAttachment(deps, c, param(request, 'id'));
    await deleteAttachment(deps, attachment.id);
    const rest = await deps.db.selectFrom('volume_attachment').selectAll().where('volume_id', '=', volume.id).execute();
    return { attachments: await Promise.all(rest.map((r) => render(r, volume, false))) };
  });
}
