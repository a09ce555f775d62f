import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, notFound } from '../../errors.js';
import { enforce, isAdmin } from '../policy.js';
import { renderRole } from '../roles.js';
import { createTrust, deleteTrust, getTrust, listTrusts, renderTrust } from '../trusts.js';
import type { TrustInput } from '../trusts.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { TrustCreate } from './schemas.js';

export function registerTrustRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  app.post('/v3/OS-TRUST/trusts', { schema: { body: TrustCreate } }, async (request, reply) => {
    const c = caller(env, request);
    const input = member<TrustInput>(request.body, 'trust');
    // With a trust-scoped token the new trust is a redelegation of that trust (createTrust checks it may be).
    const row = await createTrust(deps, c.user.id, input, c.trust);
    return reply.status(201).send({ trust: renderTrust(row, base) });
  });
  app.get('/v3/OS-TRUST/trusts', async (request) => {
    const c = caller(env, request);
    const q = queryOf(request);
    const trustor = str(q, 'trustor_user_id');
    const trustee = str(q, 'trustee_user_id');
    if (trustor) enforce('identity:list_trusts_for_trustor', c, { trustorId: trustor });
    if (trustee) enforce('identity:list_trusts_for_trustee', c, { trusteeId: trustee });
    if (!trustor && !trustee) enforce('identity:list_trusts', c);
    const rows = await listTrusts(deps.db, { trustor_user_id: trustor, trustee_user_id: trustee }, deps.now());
    return listBody(env, request, 'trusts', rows.map((r) => renderTrust(r, base)));
  });
  const load = async (request: FastifyRequest) => {
    const { trust_id } = request.params as { trust_id: string };
    const c = caller(env, request);
    const trust = await getTrust(deps.db, trust_id, deps.now());
    enforce('identity:get_trust', c, { trustorId: trust.row.trustor_user_id, trusteeId: trust.row.trustee_user_id });
    return { c, trust };
  };
  app.get('/v3/OS-TRUST/trusts/:trust_id', async (request) => ({ trust: renderTrust((await load(request)).trust, base) }));
  app.delete('/v3/OS-TRUST/trusts/:trust_id', async (request, reply) => {
    const { c, trust } = await load(request);
    if (!isAdmin(c, {}) && c.user.id !== trust.row.trustor_user_id) throw forbidden();
    await deleteTrust(deps, trust.row.id);
    return reply.status(204).send();
  });
  app.get('/v3/OS-TRUST/trusts/:trust_id/roles', async (request) => {
    const { trust } = await load(request);
    return listBody(env, request, 'roles', trust.roles.map((r) => renderRole(r, base)));
  });
  const checkRole = async (request: FastifyRequest, reply: FastifyReply, withBody: boolean) => {
    const { trust } = await load(request);
    const { role_id } = request.params as { role_id: string };
    const role = trust.roles.find((r) => r.id === role_id);
    if (!role) throw notFound(`Could not find role: ${role_id}.`);
    return withBody ? { role: renderRole(role, base) } : reply.status(200).send();
  };
  app.get('/v3/OS-TRUST/trusts/:trust_id/roles/:role_id', (request, reply) => checkRole(request, reply, true));
  app.head('/v3/OS-TRUST/trusts/:trust_id/roles/:role_id', (request, reply) => checkRole(request, reply, false));
}
