import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { applyListQuery } from '../listing.js';
import {
  createGroup, createRule, deleteGroup, deleteRule, getGroup, getRule, listGroups, listRules, renderGroup, renderRule, rulesOf, updateGroup,
} from '../security-groups.js';
import type { RuleInput, SecurityGroupInput } from '../security-groups.js';
import { caller, project, queryOf, resourceBody, selfUrl } from './common.js';
import type { NetworkRouteEnv } from './common.js';

const GROUP_ATTRS = ['name', 'description', 'stateful', 'tenant_id', 'project_id'] as const;
const RULE_ATTRS = [
  'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id',
  'remote_address_group_id', 'description', 'tenant_id', 'project_id',
] as const;
const NullableInt = Type.Optional(Type.Union([Type.Integer(), Type.Null()]));
const GroupBody = Type.Object({
  security_group: Type.Object({ name: Type.Optional(Type.String({ maxLength: 255 })), description: Type.Optional(Type.String({ maxLength: 255 })), stateful: Type.Optional(Type.Boolean()) }, { additionalProperties: true }),
}, { additionalProperties: true });
const RuleBody = Type.Object({
  security_group_rule: Type.Object({
    security_group_id: Type.Optional(Type.String()), direction: Type.Optional(Type.String()), ethertype: Type.Optional(Type.String()),
    protocol: Type.Optional(Type.Union([Type.String(), Type.Integer(), Type.Null()])), port_range_min: NullableInt, port_range_max: NullableInt,
    remote_ip_prefix: Type.Optional(Type.Union([Type.String(), Type.Null()])), remote_group_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    description: Type.Optional(Type.String({ maxLength: 255 })),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

export function registerSecurityGroupRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const { deps } = env;
  type P = { id: string };
  app.get('/v2.0/security-groups', async (request) => {
    const c = caller(env, request);
    const { groups, rules } = await listGroups(deps, c);
    const q = queryOf(request);
    // The CLI resolves `default` with ?name=default and no project filter; an admin sees every
    // project's default group and the CLI would give up ("More than one SecurityGroup exists"),
    // so that one lookup is answered with the caller's own project's group.
    const lookupOfDefault = c.isAdmin && q.name === 'default' && q.project_id === undefined && q.tenant_id === undefined;
    const candidates = lookupOfDefault ? groups.filter((g) => g.project_id === c.projectId) : groups;
    const { items, links } = applyListQuery(candidates.map((g) => renderGroup(g, rules)), q, selfUrl(env, request));
    return { security_groups: items, ...(links.length ? { security_groups_links: links } : {}) };
  });
  app.post('/v2.0/security-groups', { schema: { body: GroupBody } }, async (request, reply) => {
    const g = await createGroup(deps, caller(env, request), resourceBody<SecurityGroupInput>(request.body, 'security_group', GROUP_ATTRS));
    return reply.status(201).send({ security_group: renderGroup(g, await rulesOf(deps.db, [g.id])) });
  });
  app.get('/v2.0/security-groups/:id', async (request) => {
    const g = await getGroup(deps.db, caller(env, request), (request.params as P).id);
    return { security_group: project(renderGroup(g, await rulesOf(deps.db, [g.id])), queryOf(request)) };
  });
  app.put('/v2.0/security-groups/:id', { schema: { body: GroupBody } }, async (request) => {
    const g = await updateGroup(deps, caller(env, request), (request.params as P).id, resourceBody<SecurityGroupInput>(request.body, 'security_group', GROUP_ATTRS));
    return { security_group: renderGroup(g, await rulesOf(deps.db, [g.id])) };
  });
  app.delete('/v2.0/security-groups/:id', async (request, reply) => {
    await deleteGroup(deps, caller(env, request), (request.params as P).id);
    return reply.status(204).send();
  });

  app.get('/v2.0/security-group-rules', async (request) => {
    const { items, links } = applyListQuery((await listRules(deps.db, caller(env, request))).map(renderRule), queryOf(request), selfUrl(env, request));
    return { security_group_rules: items, ...(links.length ? { security_group_rules_links: links } : {}) };
  });
  app.post('/v2.0/security-group-rules', { schema: { body: RuleBody } }, async (request, reply) => {
    const r = await createRule(deps, caller(env, request), resourceBody<RuleInput>(request.body, 'security_group_rule', RULE_ATTRS));
    return reply.status(201).send({ security_group_rule: renderRule(r) });
  });
  app.get('/v2.0/security-group-rules/:id', async (request) => {
    const r = await getRule(deps.db, caller(env, request), (request.params as P).id);
    return { security_group_rule: project(renderRule(r), queryOf(request)) };
  });
  app.delete('/v2.0/security-group-rules/:id', async (request, reply) => {
    await deleteRule(deps, caller(env, request), (request.params as P).id);
    return reply.status(204).send();
  });
}
