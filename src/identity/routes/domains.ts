import type { FastifyInstance } from 'fastify';
import { createDomain, deleteDomain, getDomain, listDomains, renderDomain, updateDomain } from '../domains.js';
import type { DomainInput } from '../domains.js';
import { deleteDomainConfig, putDomainConfig, showDefaultConfig, showDomainConfig, updateDomainConfig } from '../domain-config.js';
import { enforce } from '../policy.js';
import { bool, caller, listBody, member, queryOf, str } from './common.js';
import type { RouteEnv } from './common.js';
import { DomainCreate, DomainUpdate } from './schemas.js';

export function registerDomainRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps, base } = env;
  app.get('/v3/domains', async (request) => {
    enforce('identity:list_domains', caller(env, request));
    const q = queryOf(request);
    const rows = await listDomains(deps.db, { name: str(q, 'name'), enabled: bool(q, 'enabled') });
    return listBody(env, request, 'domains', rows.map((r) => renderDomain(r, base)));
  });
  app.post('/v3/domains', { schema: { body: DomainCreate } }, async (request, reply) => {
    enforce('identity:manage_domain', caller(env, request));
    const row = await createDomain(deps, member<DomainInput>(request.body, 'domain'));
    return reply.status(201).send({ domain: renderDomain(row, base) });
  });
  app.get('/v3/domains/:domain_id', async (request) => {
    const { domain_id } = request.params as { domain_id: string };
    const c = caller(env, request);
    const row = await getDomain(deps.db, domain_id);
    enforce('identity:get_domain', c, { domainId: row.id });
    return { domain: renderDomain(row, base) };
  });
  app.patch('/v3/domains/:domain_id', { schema: { body: DomainUpdate } }, async (request) => {
    const { domain_id } = request.params as { domain_id: string };
    enforce('identity:manage_domain', caller(env, request));
    return { domain: renderDomain(await updateDomain(deps, domain_id, member(request.body, 'domain')), base) };
  });
  app.delete('/v3/domains/:domain_id', async (request, reply) => {
    const { domain_id } = request.params as { domain_id: string };
    enforce('identity:manage_domain', caller(env, request));
    await deleteDomain(deps, domain_id);
    return reply.status(204).send();
  });
}

export function registerDomainConfigRoutes(app: FastifyInstance, env: RouteEnv): void {
  const { deps } = env;
  type P = { domain_id: string; group?: string; option?: string };
  for (const suffix of ['', '/:group', '/:group/:option']) {
    app.get(`/v3/domains/config${suffix}/default`, async (request) => {
      enforce('identity:manage_domain', caller(env, request));
      const p = request.params as P;
      return { config: showDefaultConfig(p.group, p.option) };
    });
    app.get(`/v3/domains/:domain_id/config${suffix}`, async (request) => {
      enforce('identity:manage_domain', caller(env, request));
      const p = request.params as P;
      return { config: await showDomainConfig(deps.db, p.domain_id, p.group, p.option) };
    });
    app.patch(`/v3/domains/:domain_id/config${suffix}`, async (request) => {
      enforce('identity:manage_domain', caller(env, request));
      const p = request.params as P;
      return { config: await updateDomainConfig(deps, p.domain_id, (request.body as { config?: unknown } | undefined)?.config, p.group, p.option) };
    });
    app.delete(`/v3/domains/:domain_id/config${suffix}`, async (request, reply) => {
      enforce('identity:manage_domain', caller(env, request));
      const p = request.params as P;
      await deleteDomainConfig(deps, p.domain_id, p.group, p.option);
      return reply.status(204).send();
    });
  }
  app.put('/v3/domains/:domain_id/config', async (request, reply) => {
    enforce('identity:manage_domain', caller(env, request));
    const { domain_id } = request.params as P;
    const { config, created } = await putDomainConfig(deps, domain_id, (request.body as { config?: unknown } | undefined)?.config);
    return reply.status(created ? 201 : 200).send({ config });
  });
}
