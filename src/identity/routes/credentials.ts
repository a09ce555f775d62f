import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden } from '../../errors.js';
import { getUser } from '../users.js';
import {
  createEc2Credential, deleteEc2Credential, getEc2Credential, listEc2Credentials, renderEc2,
  createCredential, createPolicy, deleteCredential, deletePolicy, getCredential, getPolicy, listCredentials, listPolicies,
  renderCredential, renderPolicy, updateCredential, updatePolicy,
} from '../credentials.js';
import type { CredentialInput, PolicyInput } from '../credentials.js';
import { allowed, enforce } from '../policy.js';
import { caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { CredentialCreate, CredentialUpdate, Ec2Create, PolicyCreate, PolicyUpdate } from './schemas.js';

export function registerCredentialRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;

  // EC2-style credentials of a user. Keystone refuses tokens from trusts and application
  // credentials here, so that a delegated token cannot mint long-lived keys.
  const ec2Caller = (request: FastifyRequest, userId: string) => {
    const c = caller(env, request);
    enforce('identity:manage_credential', c, { userId });
    if (c.trust || c.applicationCredential) throw forbidden('EC2 credentials cannot be managed with a trust or application credential token.');
    return c;
  };
  app.post('/v3/users/:user_id/credentials/OS-EC2', { schema: { body: Ec2Create } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    ec2Caller(request, user_id);
    await getUser(deps.db, user_id);
    const cred = await createEc2Credential(deps, user_id, (request.body as { tenant_id: string }).tenant_id, null);
    return reply.status(201).send({ credential: renderEc2(cred, base) });
  });
  app.get('/v3/users/:user_id/credentials/OS-EC2', async (request) => {
    const { user_id } = request.params as { user_id: string };
    ec2Caller(request, user_id);
    await getUser(deps.db, user_id);
    return listBody(env, request, 'credentials', (await listEc2Credentials(deps.db, user_id)).map((c) => renderEc2(c, base)));
  });
  app.get('/v3/users/:user_id/credentials/OS-EC2/:access', async (request) => {
    const { user_id, access } = request.params as { user_id: string; access: string };
    ec2Caller(request, user_id);
    return { credential: renderEc2(await getEc2Credential(deps.db, user_id, access), base) };
  });
  app.delete('/v3/users/:user_id/credentials/OS-EC2/:access', async (request, reply) => {
    const { user_id, access } = request.params as { user_id: string; access: string };
    ec2Caller(request, user_id);
    await deleteEc2Credential(deps, user_id, access);
    return reply.status(204).send();
  });

  app.get('/v3/credentials', async (request) => {
    const c = caller(env, request);
    const q = queryOf(request);
    const rows = await listCredentials(deps.db, { user_id: str(q, 'user_id'), type: str(q, 'type') });
    // Non-admins see only their own credentials, as Keystone filters them.
    return listBody(env, request, 'credentials', rows.filter((r) => allowed('identity:get_credential', c, { userId: r.user_id })).map((r) => renderCredential(r, base)));
  });
  app.post('/v3/credentials', { schema: { body: CredentialCreate } }, async (request, reply) => {
    const input = member<CredentialInput>(request.body, 'credential');
    enforce('identity:manage_credential', caller(env, request), { userId: input.user_id });
    return reply.status(201).send({ credential: renderCredential(await createCredential(deps, input), base) });
  });
  app.get('/v3/credentials/:credential_id', async (request) => {
    const { credential_id } = request.params as { credential_id: string };
    const c = caller(env, request);
    const row = await getCredential(deps.db, credential_id);
    enforce('identity:get_credential', c, { userId: row.user_id });
    return { credential: renderCredential(row, base) };
  });
  app.patch('/v3/credentials/:credential_id', { schema: { body: CredentialUpdate } }, async (request) => {
    const { credential_id } = request.params as { credential_id: string };
    const c = caller(env, request);
    const row = await getCredential(deps.db, credential_id);
    enforce('identity:manage_credential', c, { userId: row.user_id });
    return { credential: renderCredential(await updateCredential(deps, credential_id, member(request.body, 'credential')), base) };
  });
  app.delete('/v3/credentials/:credential_id', async (request, reply) => {
    const { credential_id } = request.params as { credential_id: string };
    const c = caller(env, request);
    const row = await getCredential(deps.db, credential_id);
    enforce('identity:manage_credential', c, { userId: row.user_id });
    await deleteCredential(deps, credential_id);
    return reply.status(204).send();
  });

  app.get('/v3/policies', async (request) => {
    enforce('identity:get_policy', caller(env, request));
    const rows = await listPolicies(deps.db, { type: str(queryOf(request), 'type') });
    return listBody(env, request, 'policies', rows.map((r) => renderPolicy(r, base)));
  });
  app.post('/v3/policies', { schema: { body: PolicyCreate } }, async (request, reply) => {
    enforce('identity:manage_policy', caller(env, request));
    return reply.status(201).send({ policy: renderPolicy(await createPolicy(deps, member<PolicyInput>(request.body, 'policy')), base) });
  });
  app.get('/v3/policies/:policy_id', async (request) => {
    const { policy_id } = request.params as { policy_id: string };
    enforce('identity:get_policy', caller(env, request));
    return { policy: renderPolicy(await getPolicy(deps.db, policy_id), base) };
  });
  app.patch('/v3/policies/:policy_id', { schema: { body: PolicyUpdate } }, async (request) => {
    const { policy_id } = request.params as { policy_id: string };
    enforce('identity:manage_policy', caller(env, request));
    return { policy: renderPolicy(await updatePolicy(deps, policy_id, member(request.body, 'policy')), base) };
  });
  app.delete('/v3/policies/:policy_id', async (request, reply) => {
    const { policy_id } = request.params as { policy_id: string };
    enforce('identity:manage_policy', caller(env, request));
    await deletePolicy(deps, policy_id);
    return reply.status(204).send();
  });
}
