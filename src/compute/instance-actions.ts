/**
 * Nova's instance actions (os-instance-actions): one record per API action on a server, with the
 * events the compute controller adds as it carries the action out, so `server event list` shows
 * what happened and why it failed.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { Caller, ComputeDeps } from './context.js';
import { novaError } from './context.js';

export async function recordAction(deps: ComputeDeps, caller: Caller, instanceId: string, action: string): Promise<string> {
  const id = randomUUID();
  await deps.db.insertInto('compute_instance_action').values({
    id, instance_id: instanceId, request_id: caller.requestId, action, project_id: caller.projectId, user_id: caller.userId,
    start_time: new Date(deps.now()).toISOString(), finish_time: null, message: null,
  }).execute();
  return id;
}

/** The newest unfinished action of a server (what the controller is carrying out). */
async function openAction(db: Db, instanceId: string, action?: string) {
  let q = db.selectFrom('compute_instance_action').selectAll().where('instance_id', '=', instanceId).where('finish_time', 'is', null);
  if (action) q = q.where('action', '=', action);
  return q.orderBy('start_time', 'desc').executeTakeFirst();
}

/** Ends the server's open action (or the one named) with one event: `Success`, or `Error` and why. */
export async function finishAction(db: Db, now: number, instanceId: string, event: string, host: string | null, error?: string, action?: string): Promise<void> {
  const open = await openAction(db, instanceId, action);
  if (!open) return;
  const at = new Date(now).toISOString();
  await db.insertInto('compute_instance_action_event').values({
    action_id: open.id, event, start_time: open.start_time, finish_time: at, result: error ? 'Error' : 'Success', host, details: error ?? null,
  }).execute();
  await db.updateTable('compute_instance_action').set({ finish_time: at, message: error ? 'Error' : null }).where('id', '=', open.id).execute();
}

export async function listActions(deps: ComputeDeps, instanceId: string) {
  return deps.db.selectFrom('compute_instance_action').selectAll().where('instance_id', '=', instanceId).orderBy('start_time', 'desc').execute();
}

/**
 * From 2.21 a deleted server's actions stay readable, as Nova reads deleted instances there: by
 * admins and the project that created the server (the project of its first action).
 */
export async function deletedServerActionsVisible(deps: ComputeDeps, caller: Caller, instanceId: string): Promise<boolean> {
  const first = await deps.db.selectFrom('compute_instance_action').select('project_id').where('instance_id', '=', instanceId).orderBy('start_time').executeTakeFirst();
  return !!first && (caller.isAdmin || first.project_id === caller.projectId);
}

export async function getAction(deps: ComputeDeps, caller: Caller, instanceId: string, requestId: string) {
  const action = await deps.db.selectFrom('compute_instance_action').selectAll().where('instance_id', '=', instanceId).where('request_id', '=', requestId).executeTakeFirst();
  if (!action) throw novaError('ERR_NOT_FOUND', `Action for request_id ${requestId} on instance ${instanceId} not found`);
  const events = await deps.db.selectFrom('compute_instance_action_event').selectAll().where('action_id', '=', action.id).orderBy('start_time').execute();
  return { action, events: events.map((e) => ({ ...e, details: caller.isAdmin ? e.details : null })) };
}
