/** Nova os-keypairs. */
import type { FastifyInstance } from 'fastify';
import { novaTime } from '../context.js';
import { createKeypair, deleteKeypair, getKeypair, listKeypairs } from '../keypairs.js';
import type { KeypairRow } from '../keypairs.js';
import { minorOf } from '../microversion.js';
import { bodyObject, caller, lastValue, optionalInt, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

export function registerKeypairRoutes(app: FastifyInstance, env: ComputeRouteEnv): void {
  const { deps } = env;
  const typed = (minor: number, row: KeypairRow) => (minor >= 2 ? { type: row.type } : {});

  app.get('/v2.1/os-keypairs', async (request) => {
    const minor = minorOf(request);
    const q = query(request);
    const rows = await listKeypairs(deps, caller(request), {
      userId: minor >= 10 ? lastValue(q.user_id) : undefined,
      limit: minor >= 35 ? optionalInt('limit', q.limit) : undefined,
      marker: minor >= 35 ? lastValue(q.marker) : undefined,
    });
    return { keypairs: rows.map((r) => ({ keypair: { name: r.name, public_key: r.public_key, fingerprint: r.fingerprint, ...typed(minor, r) } })) };
  });
  app.post('/v2.1/os-keypairs', async (request, reply) => {
    const minor = minorOf(request);
    const row = await createKeypair(deps, caller(request), bodyObject(request.body, 'keypair'), minor);
    return reply.status(minor >= 2 ? 201 : 200).send({
      keypair: { name: row.name, public_key: row.public_key, fingerprint: row.fingerprint, user_id: row.user_id, ...typed(minor, row), ...(row.private_key ? { private_key: row.private_key } : {}) },
    });
  });
  app.get('/v2.1/os-keypairs/:name', async (request) => {
    const minor = minorOf(request);
    const row = await getKeypair(deps, caller(request), param(request, 'name'), minor >= 10 ? lastValue(query(request).user_id) : undefined);
    return {
      keypair: {
        name: row.name, public_key: row.public_key, fingerprint: row.fingerprint, user_id: row.user_id, ...typed(minor, row),
        created_at: novaTime(Date.parse(row.created_at)).replace('Z', '.000000'), updated_at: null, deleted: false, deleted_at: null, id: 0,
      },
    };
  });
  app.delete('/v2.1/os-keypairs/:name', async (request, reply) => {
    const minor = minorOf(request);
    await deleteKeypair(deps, caller(request), param(request, 'name'), minor >= 10 ? lastValue(query(request).user_id) : undefined);
    return reply.status(minor >= 2 ? 204 : 202).send();
  });
}
