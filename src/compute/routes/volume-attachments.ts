/**
 * Nova os-volume_attachments: a server's volumes, attach (`server add volume`), detach
 * (`server remove volume`) and, from 2.85, changing delete_on_termination. Swapping a volume
 * (Nova's PUT with another volumeId, an admin's migration tool) is refused.
 */
import type { FastifyInstance } from 'fastify';
import { invalid, novaError } from '../context.js';
import type { Caller, ComputeDeps } from '../context.js';
import { recordAction } from '../instance-actions.js';
import { minorOf } from '../microversion.js';
import { requestVolumeAttach, requestVolumeDetach, serverVolumes, updateDeleteOnTermination } from '../server-volumes.js';
import type { ServerVolumeRow } from '../server-volumes.js';
import { checkLock, checkState, getServer } from '../servers.js';
import { bodyObject, caller, param } from './common.js';
import type { ComputeRouteEnv } from './common.js';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** One attachment at the requested microversion: tag from 2.70, delete_on_termination from 2.79, attachment and BDM ids from 2.89 (where `id` goes). */
function attachmentOf(v: ServerVolumeRow, minor: number): Record<string, unknown> {
  return {
    ...(minor < 89 ? { id: v.volume_id } : {}),
    serverId: v.instance_id, volumeId: v.volume_id, device: v.device,
    ...(minor >= 70 ? { tag: v.tag } : {}),
    ...(minor >= 79 ? { delete_on_termination: v.delete_on_termination === 1 } : {}),
    ...(minor >= 89 ? { attachment_id: v.attachment_id, bdm_uuid: v.id } : {}),
  };
}

async function visible(deps: ComputeDeps, who: Caller, serverId: string): Promise<ServerVolumeRow[]> {
  await getServer(deps.db, who, serverId);
  return (await serverVolumes(deps, serverId)).filter((v) => v.state !== 'detaching');
}

export function registerVolumeAttachmentRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  app.get('/v2.1/servers/:id/os-volume_attachments', async (request) => {
    const minor = minorOf(request);
    const q = request.query as Record<string, string | undefined>;
    const all = await visible(deps, caller(request), param(request, 'id'));
    const offset = Math.max(0, Number(q.offset ?? 0) || 0);
    const page = q.limit !== undefined ? all.slice(offset, offset + Math.max(0, Number(q.limit) || 0)) : all.slice(offset);
    return { volumeAttachments: page.map((v) => attachmentOf(v, minor)) };
  });
  app.get('/v2.1/servers/:id/os-volume_attachments/:volumeId', async (request) => {
    const found = (await visible(deps, caller(request), param(request, 'id'))).find((v) => v.volume_id === param(request, 'volumeId'));
    if (!found) throw novaError('ERR_NOT_FOUND', `Volume ${param(request, 'volumeId')} is not attached to the server.`);
    return { volumeAttachment: attachmentOf(found, minorOf(request)) };
  });
  app.post('/v2.1/servers/:id/os-volume_attachments', async (request) => {
    const minor = minorOf(request);
    const who = caller(request);
    const input = bodyObject(request.body, 'volumeAttachment');
    const allowed = new Set(['volumeId', 'device', ...(minor >= 49 ? ['tag'] : []), ...(minor >= 79 ? ['delete_on_termination'] : [])]);
    const extra = Object.keys(input).filter((k) => !allowed.has(k));
    if (extra.length) throw invalid(`Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('${extra.join("', '")}' ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
    if (typeof input.volumeId !== 'string' || !UUID.test(input.volumeId)) throw invalid(`Invalid input for field/attribute volumeId. Value: ${String(input.volumeId)}. '${String(input.volumeId)}' is not a 'uuid'`);
    if (input.device !== undefined && input.device !== null && (typeof input.device !== 'string' || !/^(\/dev\/)?[a-z]+$/.test(input.device))) throw invalid(`The supplied device path (${String(input.device)}) is invalid.`);
    if (input.tag !== undefined && (typeof input.tag !== 'string' || input.tag.length > 60 || /[/,]/.test(input.tag))) throw invalid(`Invalid input for field/attribute tag. Value: ${String(input.tag)}.`);
    if (input.delete_on_termination !== undefined && typeof input.delete_on_termination !== 'boolean') throw invalid(`Invalid input for field/attribute delete_on_termination. Value: ${String(input.delete_on_termination)}. It is not of type 'boolean'`);
    const row = await getServer(deps.db, who, param(request, 'id'));
    checkLock(row, who);
    checkState(row, 'attach_volume', ['active', 'paused', 'stopped', 'soft-delete', 'shelved', 'shelved_offloaded', 'resized']);
    const attached = await requestVolumeAttach(deps, who, row, { volumeId: input.volumeId.toLowerCase(), tag: typeof input.tag === 'string' ? input.tag : null, deleteOnTermination: input.delete_on_termination === true });
    await recordAction(deps, who, row.uuid, 'attach_volume');
    return { volumeAttachment: attachmentOf(attached, minor) };
  });
  app.put('/v2.1/servers/:id/os-volume_attachments/:volumeId', async (request, reply) => {
    const minor = minorOf(request);
    const who = caller(request);
    const input = bodyObject(request.body, 'volumeAttachment');
    const row = await getServer(deps.db, who, param(request, 'id'));
    const current = (await visible(deps, who, row.uuid)).find((v) => v.volume_id === param(request, 'volumeId'));
    if (!current) throw novaError('ERR_NOT_FOUND', `Volume ${param(request, 'volumeId')} is not attached to the server.`);
    if (input.volumeId !== undefined && input.volumeId !== current.volume_id) throw invalid('Kumo does not swap volumes (the swap-volume API); detach the volume and attach the other.');
    if (minor < 85) throw invalid('Updating a volume attachment needs microversion 2.85.');
    if (input.delete_on_termination !== undefined) {
      if (typeof input.delete_on_termination !== 'boolean') throw invalid(`Invalid input for field/attribute delete_on_termination. Value: ${String(input.delete_on_termination)}. It is not of type 'boolean'`);
      checkLock(row, who);
      await updateDeleteOnTermination(deps, row.uuid, current.volume_id, input.delete_on_termination);
    }
    return reply.status(202).send();
  });
  app.delete('/v2.1/servers/:id/os-volume_attachments/:volumeId', async (request, reply) => {
    const who = caller(request);
    const row = await getServer(deps.db, who, param(request, 'id'));
    checkLock(row, who);
    checkState(row, 'detach_volume', ['active', 'paused', 'stopped', 'soft-delete', 'shelved', 'shelved_offloaded', 'resized']);
    await requestVolumeDetach(deps, row.uuid, param(request, 'volumeId'));
    await recordAction(deps, who, row.uuid, 'detach_volume');
    return reply.status(202).send();
  });
}
