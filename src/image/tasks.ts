/**
 * Image import tasks (v2.12 `GET /v2/images/{id}/tasks`): each `import` call leaves a task that
 * says how it went and which request made it. Imports finish within their request here, so a task
 * is written once, already `success` or `failure`; like Glance's, it expires 48 hours later.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { glanceTime } from './context.js';
import type { Caller, ImageDeps } from './context.js';
import { getImage } from './images.js';

const TASK_TTL_MS = 48 * 3600 * 1000;

export interface ImportOutcome {
  readonly requestId: string;
  /** The import request body as the client sent it (method, stores, ...). */
  readonly importReq: unknown;
  readonly store: string;
  /** Why it failed; undefined when it succeeded. */
  readonly error?: string;
}

export async function recordImportTask(deps: ImageDeps, caller: Caller, imageId: string, outcome: ImportOutcome): Promise<void> {
  const now = deps.now();
  await deps.db.insertInto('image_task').values({
    id: randomUUID(), image_id: imageId, type: 'api_image_import', status: outcome.error ? 'failure' : 'success',
    owner: caller.projectId, user_id: caller.userId, request_id: outcome.requestId,
    input: JSON.stringify({ image_id: imageId, import_req: outcome.importReq, backend: [outcome.store] }),
    result: outcome.error ? null : JSON.stringify({ image_id: imageId }), message: outcome.error ?? '',
    created_at: glanceTime(now), updated_at: glanceTime(now), expires_at: glanceTime(now + TASK_TTL_MS),
  }).execute();
}

/** The image's import tasks, newest first, to whoever may see the image (404 otherwise). */
export async function listImageTasks(deps: ImageDeps, caller: Caller, imageId: string): Promise<Record<string, unknown>[]> {
  await getImage(deps, caller, imageId);
  const rows = await deps.db.selectFrom('image_task').selectAll().where('image_id', '=', imageId).orderBy('created_at', 'desc').orderBy('id').execute();
  const live = rows.filter((r) => !r.expires_at || Date.parse(r.expires_at) > deps.now());
  return live.map((r) => ({
    id: r.id, type: r.type, status: r.status, owner: r.owner, user_id: r.user_id, request_id: r.request_id, image_id: r.image_id,
    input: JSON.parse(r.input), result: r.result === null ? null : JSON.parse(r.result), message: r.message,
    created_at: r.created_at, updated_at: r.updated_at, expires_at: r.expires_at, deleted: false, deleted_at: null,
  }));
}
