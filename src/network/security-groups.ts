/**
 * Security groups and rules (the API; enforcement with nftables comes with the data plane).
 * Every project gets a `default` group on first use, with Neutron's default rules.
 * @module
 */
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import type { SecurityGroupRuleTable, SecurityGroupTable } from './schema.js';
import { badInput, fromJsonArray, markChanged, neutronError, neutronTime } from './context.js';
import { checkQuota } from './quotas.js';
import type { Caller, NetworkDeps } from './context.js';
import { formatCidr, parseCidr } from './ip.js';

export interface SecurityGroupInput { name?: string; description?: string; stateful?: boolean; tenant_id?: string; project_id?: string }
export interface RuleInput {
  security_group_id?: string;
  direction?: string;
  ethertype?: string;
  protocol?: string | number | null;
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_ip_prefix?: string | null;
  remote_group_id?: string | null;
  description?: string;
  tenant_id?: string;
  project_id?: string;
}

export const groupNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'SecurityGroupNotFound', `Security group ${id} does not exist`);
export const ruleNotFound = (id: string) => neutronError('ERR_NOT_FOUND', 'SecurityGroupRuleNotFound', `Security group rule ${id} does not exist`);

const PROTOCOL_NAMES = ['ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'];
const WITH_PORTS = ['tcp', 'udp', 'sctp', 'udplite', 'dccp', '6', '17', '132', '136', '33'];
const ICMP = ['icmp', 'icmpv6', 'ipv6-icmp', '1', '58'];

export function renderRule(r: SecurityGroupRuleTable) {
  return {
    id: r.id,
    tenant_id: r.project_id,
    project_id: r.project_id,
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    normalized_cidr: r.remote_ip_prefix,
    description: r.description,
    created_at: r.created_at,
    updated_at: r.updated_at,
    revision_number: r.revision_number,
  };
}

export function renderGroup(g: SecurityGroupTable, rules: SecurityGroupRuleTable[]) {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    tenant_id: g.project_id,
    project_id: g.project_id,
    stateful: g.stateful === 1,
    shared: false,
    security_group_rules: rules.filter((r) => r.security_group_id === g.id).map(renderRule),
    tags: fromJsonArray<string>(g.tags),
    created_at: g.created_at,
    updated_at: g.updated_at,
    revision_number: g.revision_number,
  };
}

function newRule(deps: NetworkDeps, groupId: string, projectId: string, fields: Partial<SecurityGroupRuleTable>): SecurityGroupRuleTable {
  const now = neutronTime(deps.now());
  return {
    id: deps.newId(), project_id: projectId, security_group_id: groupId, direction: 'ingress', ethertype: 'IPv4', protocol: null,
    port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, description: '',
    created_at: now, updated_at: now, revision_number: 0, ...fields,
  };
}

/** The project's `default` group, created (with egress-anywhere and ingress-from-members rules) if missing. */
export async function ensureDefaultGroup(deps: NetworkDeps, db: Db, projectId: string): Promise<SecurityGroupTable> {
  const existing = await db.selectFrom('network_security_group').selectAll().where('project_id', '=', projectId).where('name', '=', 'default').executeTakeFirst();
  if (existing) return existing;
  const now = neutronTime(deps.now());
  const group: SecurityGroupTable = { id: deps.newId(), project_id: projectId, name: 'default', description: 'Default security group', stateful: 1, tags: '[]', created_at: now, updated_at: now, revision_number: 1 };
  try {
    await deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('network_security_group').values(group).execute();
      const rules = ['IPv4', 'IPv6'].flatMap((ethertype) => [
        newRule(deps, group.id, projectId, { direction: 'egress', ethertype }),
        newRule(deps, group.id, projectId, { direction: 'ingress', ethertype, remote_group_id: group.id }),
      ]);
      await trx.insertInto('network_security_group_rule').values(rules).execute();
    });
    return group;
  } catch (err) {
    // Another request created it first.
    if (!isUniqueViolation(err)) throw err;
    return (await db.selectFrom('network_security_group').selectAll().where('project_id', '=', projectId).where('name', '=', 'default').executeTakeFirstOrThrow());
  }
}

export async function listGroups(deps: NetworkDeps, caller: Caller): Promise<{ groups: SecurityGroupTable[]; rules: SecurityGroupRuleTable[] }> {
  await ensureDefaultGroup(deps, deps.db, caller.projectId);
  let q = deps.db.selectFrom('network_security_group').selectAll();
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId);
  const groups = await q.execute();
  const rules = groups.length ? await deps.db.selectFrom('network_security_group_rule').selectAll().where('security_group_id', 'in', groups.map((g) => g.id)).execute() : [];
  return { groups, rules };
}

export async function getGroup(db: Db, caller: Caller, id: string): Promise<SecurityGroupTable> {
  const g = await db.selectFrom('network_security_group').selectAll().where('id', '=', id).executeTakeFirst();
  if (!g || (!caller.isAdmin && g.project_id !== caller.projectId)) throw groupNotFound(id);
  return g;
}

export async function rulesOf(db: Db, groupIds: string[]): Promise<SecurityGroupRuleTable[]> {
  return groupIds.length ? db.selectFrom('network_security_group_rule').selectAll().where('security_group_id', 'in', groupIds).execute() : [];
}

export async function createGroup(deps: NetworkDeps, caller: Caller, input: SecurityGroupInput): Promise<SecurityGroupTable> {
  const projectId = input.project_id ?? input.tenant_id ?? caller.projectId;
  if (!caller.isAdmin && projectId !== caller.projectId) throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', 'Only admins may create security groups for other projects.');
  if (input.name === 'default') throw neutronError('ERR_CONFLICT', 'SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  await ensureDefaultGroup(deps, deps.db, projectId);
  const now = neutronTime(deps.now());
  const group: SecurityGroupTable = {
    id: deps.newId(), project_id: projectId, name: input.name ?? '', description: input.description ?? '', stateful: input.stateful === false ? 0 : 1,
    tags: '[]', created_at: now, updated_at: now, revision_number: 1,
  };
  await deps.db.transaction().execute(async (trx) => {
    await checkQuota(deps, trx, projectId, 'security_group');
    await trx.insertInto('network_security_group').values(group).execute();
    // Neutron gives every new group egress-anywhere rules.
    await trx.insertInto('network_security_group_rule').values(['IPv4', 'IPv6'].map((ethertype) => newRule(deps, group.id, projectId, { direction: 'egress', ethertype }))).execute();
  });
  return group;
}

export async function updateGroup(deps: NetworkDeps, caller: Caller, id: string, patch: SecurityGroupInput): Promise<SecurityGroupTable> {
  return deps.db.transaction().execute(async (trx) => {
    const g = await getGroup(trx, caller, id);
    if (g.name === 'default' && patch.name !== undefined && patch.name !== 'default') throw neutronError('ERR_CONFLICT', 'SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
    if (patch.name === 'default' && g.name !== 'default') throw neutronError('ERR_CONFLICT', 'SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
    const next = { ...g, name: patch.name ?? g.name, description: patch.description ?? g.description, updated_at: neutronTime(deps.now()), revision_number: g.revision_number + 1 };
    await trx.updateTable('network_security_group').set(next).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteGroup(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const g = await getGroup(trx, caller, id);
    if (g.name === 'default' && !caller.isAdmin) throw neutronError('ERR_CONFLICT', 'SecurityGroupCannotRemoveDefault', 'Removing default security group not allowed.');
    const ports = await trx.selectFrom('network_port').select(['id', 'security_groups']).where('project_id', '=', g.project_id).execute();
    if (ports.some((p) => fromJsonArray<string>(p.security_groups).includes(id))) throw neutronError('ERR_CONFLICT', 'SecurityGroupInUse', `Security Group ${id} in use.`);
    await trx.deleteFrom('network_security_group_rule').where((eb) => eb.or([eb('security_group_id', '=', id), eb('remote_group_id', '=', id)])).execute();
    await trx.deleteFrom('network_security_group').where('id', '=', id).execute();
    await markChanged(trx);
  });
}

function normalizeProtocol(p: RuleInput['protocol']): string | null {
  if (p === null || p === undefined || p === 'any' || p === '') return null;
  const text = String(p).toLowerCase();
  if (PROTOCOL_NAMES.includes(text)) return text;
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) return String(Number(text));
  throw neutronError('ERR_VALIDATION', 'SecurityGroupRuleInvalidProtocol', `Security group rule protocol ${String(p)} not supported. Only protocol values ${PROTOCOL_NAMES.join(', ')} and integer representations [0 to 255] are supported.`);
}

export async function createRule(deps: NetworkDeps, caller: Caller, input: RuleInput): Promise<SecurityGroupRuleTable> {
  if (!input.security_group_id) throw badInput("'security_group_id' is required.");
  if (input.direction !== 'ingress' && input.direction !== 'egress') throw badInput(`direction must be ingress or egress, got '${String(input.direction)}'.`);
  const ethertype = input.ethertype ?? 'IPv4';
  if (ethertype !== 'IPv4' && ethertype !== 'IPv6') throw badInput(`ethertype must be IPv4 or IPv6, got '${ethertype}'.`);
  const protocol = normalizeProtocol(input.protocol);
  const min = input.port_range_min ?? null;
  const max = input.port_range_max ?? null;
  // Neutron's attribute check comes first, whatever the protocol.
  for (const port of [min, max]) {
    if (port !== null && (!Number.isInteger(port) || port < 0 || port > 65535)) throw neutronError('ERR_VALIDATION', 'InvalidInput', `Invalid input for operation: Invalid value for port ${port}.`);
  }
  if (protocol !== null && WITH_PORTS.includes(protocol)) {
    if (min === 0 || max === 0) throw neutronError('ERR_VALIDATION', 'SecurityGroupInvalidPortValue', 'Invalid value for port 0.');
    if ((min !== null || max !== null) && !(min !== null && max !== null && min <= max)) {
      throw neutronError('ERR_VALIDATION', 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
    }
  } else if (protocol !== null && ICMP.includes(protocol)) {
    for (const [value, field, attr] of [[min, 'type', 'port_range_min'], [max, 'code', 'port_range_max']] as const) {
      if (value !== null && value > 255) throw neutronError('ERR_VALIDATION', 'SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
    }
    if (min === null && max !== null) throw neutronError('ERR_VALIDATION', 'SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`);
  } else if (min !== null || max !== null) {
    throw neutronError('ERR_VALIDATION', protocol === null ? 'SecurityGroupProtocolRequiredWithPorts' : 'SecurityGroupInvalidProtocolForPort',
      protocol === null ? 'Must also specify protocol if port range is given.' : `Invalid protocol ${protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP, DCCP and ICMP protocols.`);
  }
  if (ethertype === 'IPv4' && protocol !== null && ['icmpv6', 'ipv6-icmp', '58'].includes(protocol)) throw badInput('ICMPv6 rules need ethertype IPv6.');
  let prefix: string | null = null;
  if (input.remote_ip_prefix != null) {
    const c = parseCidr(input.remote_ip_prefix.includes('/') ? input.remote_ip_prefix : `${input.remote_ip_prefix}/${input.remote_ip_prefix.includes(':') ? 128 : 32}`);
    if (!c) throw badInput(`'${input.remote_ip_prefix}' is not a valid CIDR for remote_ip_prefix.`);
    if ((c.version === 4 ? 'IPv4' : 'IPv6') !== ethertype) throw neutronError('ERR_VALIDATION', 'SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${ethertype} for CIDR ${input.remote_ip_prefix}.`);
    prefix = formatCidr(c);
  }
  if (prefix !== null && input.remote_group_id) throw neutronError('ERR_VALIDATION', 'SecurityGroupRemoteGroupAndRemoteIpPrefix', 'Only remote_ip_prefix or remote_group_id may be provided.');
  return deps.db.transaction().execute(async (trx) => {
    const group = await getGroup(trx, caller, input.security_group_id!);
    if (input.remote_group_id) await getGroup(trx, caller, input.remote_group_id);
    const rule = newRule(deps, group.id, group.project_id, {
      direction: input.direction, ethertype, protocol, port_range_min: min, port_range_max: max, remote_ip_prefix: prefix,
      remote_group_id: input.remote_group_id ?? null, description: input.description ?? '', revision_number: 1,
    });
    const existing = await rulesOf(trx, [group.id]);
    const same = existing.find((r) => r.direction === rule.direction && r.ethertype === rule.ethertype && r.protocol === rule.protocol &&
      r.port_range_min === rule.port_range_min && r.port_range_max === rule.port_range_max && (r.remote_ip_prefix ?? null) === rule.remote_ip_prefix && (r.remote_group_id ?? null) === rule.remote_group_id);
    if (same) throw neutronError('ERR_CONFLICT', 'SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${same.id}.`);
    await checkQuota(deps, trx, group.project_id, 'security_group_rule');
    await trx.insertInto('network_security_group_rule').values(rule).execute();
    await markChanged(trx);
    return rule;
  });
}

export async function getRule(db: Db, caller: Caller, id: string): Promise<SecurityGroupRuleTable> {
  const r = await db.selectFrom('network_security_group_rule').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r || (!caller.isAdmin && r.project_id !== caller.projectId)) throw ruleNotFound(id);
  return r;
}

export async function listRules(db: Db, caller: Caller): Promise<SecurityGroupRuleTable[]> {
  let q = db.selectFrom('network_security_group_rule').selectAll();
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId);
  return q.execute();
}

export async function deleteRule(deps: NetworkDeps, caller: Caller, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await getRule(trx, caller, id);
    await trx.deleteFrom('network_security_group_rule').where('id', '=', id).execute();
    await markChanged(trx);
  });
}

/** The groups a port gets: the ones asked for (which must be the caller's), or the project's default. */
export async function portSecurityGroups(deps: NetworkDeps, db: Db, caller: Caller, projectId: string, requested: string[] | undefined, portSecurity: boolean, deviceOwner: string): Promise<string[]> {
  if (requested !== undefined && requested.length > 0 && !portSecurity) {
    throw neutronError('ERR_VALIDATION', 'PortSecurityAndIPRequiredForSecurityGroups', 'Port security must be enabled and port must have an IP address in order to use security groups.');
  }
  if (requested !== undefined) {
    for (const id of requested) {
      const g = await getGroup(db, caller, id);
      if (g.project_id !== projectId) throw groupNotFound(id);
    }
    return [...new Set(requested)];
  }
  // Network-owned ports (router interfaces, DHCP) are not filtered.
  if (!portSecurity || deviceOwner.startsWith('network:')) return [];
  return [(await ensureDefaultGroup(deps, db, projectId)).id];
}
