/**
 * Interoperable image import (Glance v2 api-ref "Image import"): glance-direct only (stage,
 * then import), the discovery documents that say so, and the image's import tasks.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { IMPORT_METHODS, invalid } from '../context.js';
import { KumoError } from '../../errors.js';
import { importStagedData, stageImageData } from '../image-data.js';
import { listImageTasks, recordImportTask } from '../tasks.js';
import { LOCAL_STORE, bodyStream, caller, declaredLength, imageIdOf } from './common.js';
import type { ImageRouteEnv } from './common.js';

/** Glance's checks of an import body, in its order. */
function importMethod(body: unknown): string {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('Body expected in request.');
  if (!('method' in b)) throw invalid("Import request requires a 'method' field.");
  const method = b.method as Record<string, unknown> | null;
  if (!method || typeof method !== 'object' || !('name' in method)) throw invalid("Import request requires a 'name' field.");
  if (!IMPORT_METHODS.includes(method.name as string)) throw invalid(`Unknown import method name '${String(method.name)}'.`);
  if ('all_stores_must_succeed' in b && typeof b.all_stores_must_succeed !== 'boolean') throw invalid("'all_stores_must_succeed' must be boolean value only");
  if ('all_stores' in b && typeof b.all_stores !== 'boolean') throw invalid("'all_stores' must be boolean value only");
  if (Array.isArray(b.stores) && b.stores.some((s) => s !== LOCAL_STORE)) throw invalid(`Only the store '${LOCAL_STORE}' exists.`);
  return method.name as string;
}

export function registerImportRoutes(app: FastifyInstance, env: ImageRouteEnv): void {
  const { deps } = env;
  app.get('/v2/info/import', async () => ({ 'import-methods': { description: 'Import methods available.', type: 'array', value: IMPORT_METHODS } }));
  app.get('/v2/info/stores', async () => ({ stores: [{ id: LOCAL_STORE, description: 'The control plane\'s local filesystem', default: 'true' }] }));

  app.put('/v2/images/:id/stage', async (request, reply) => {
    await stageImageData(deps, caller(request), imageIdOf(request), bodyStream(request), declaredLength(request));
    return reply.status(204).send();
  });

  app.post('/v2/images/:id/import', async (request, reply) => {
    const c = caller(request);
    const id = imageIdOf(request);
    importMethod(request.body);
    const outcome = { requestId: String(request.id), importReq: request.body, store: LOCAL_STORE };
    try {
      await importStagedData(deps, c, id);
    } catch (err) {
      // Refusals (nothing staged, a missing image) are no task; a failed import is one.
      if (err instanceof KumoError && err.status < 500) throw err;
      await recordImportTask(deps, c, id, { ...outcome, error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
      throw err;
    }
    await recordImportTask(deps, c, id, outcome);
    return reply.status(202).send();
  });

  app.get('/v2/images/:id/tasks', async (request) => ({ tasks: await listImageTasks(deps, caller(request), imageIdOf(request)) }));
}
