/**
 * Domain-specific configuration (/v3/domains/{id}/config): the identity-driver options Keystone
 * lets operators set per domain, stored and served as Keystone does. Kumo has only the SQL
 * identity driver; a domain configured for another driver keeps using SQL (see README).
 * @module
 */
import { badRequest, forbidden, notFound } from '../errors.js';
import type { Db } from '../store/database.js';
import { writeTransaction } from './context.js';
import type { IdentityDeps } from './context.js';
import { getDomain } from './domains.js';

type Value = string | number | boolean | null;
export type DomainConfig = Record<string, Record<string, Value>>;

const LDAP_OPTIONS = [
  'url', 'user', 'password', 'suffix', 'query_scope', 'page_size', 'alias_dereferencing', 'debug_level', 'chase_referrals',
  'user_tree_dn', 'user_filter', 'user_objectclass', 'user_id_attribute', 'user_name_attribute', 'user_description_attribute',
  'user_mail_attribute', 'user_pass_attribute', 'user_enabled_attribute', 'user_enabled_invert', 'user_enabled_mask',
  'user_enabled_default', 'user_attribute_ignore', 'user_default_project_id_attribute', 'user_enabled_emulation',
  'user_enabled_emulation_dn', 'user_enabled_emulation_use_group_config', 'user_additional_attribute_mapping',
  'group_tree_dn', 'group_filter', 'group_objectclass', 'group_id_attribute', 'group_name_attribute', 'group_member_attribute',
  'group_members_are_ids', 'group_desc_attribute', 'group_attribute_ignore', 'group_additional_attribute_mapping', 'group_ad_nesting',
  'tls_cacertfile', 'tls_cacertdir', 'use_tls', 'tls_req_cert', 'connection_timeout', 'use_pool', 'pool_size', 'pool_retry_max',
  'pool_retry_delay', 'pool_connection_timeout', 'pool_connection_lifetime', 'use_auth_pool', 'auth_pool_size',
  'auth_pool_connection_lifetime', 'randomize_urls',
] as const;

/** The options Keystone allows per domain, with the defaults `GET /v3/domains/config/default` shows. */
export const DOMAIN_CONFIG_DEFAULTS: DomainConfig = {
  identity: { driver: 'sql', list_limit: null },
  ldap: Object.fromEntries(LDAP_OPTIONS.filter((o) => o !== 'password').map((o) => [o, LDAP_DEFAULTS(o)])),
};

function LDAP_DEFAULTS(option: string): Value {
  const defaults: Record<string, Value> = {
    url: 'ldap://localhost', suffix: 'cn=example,cn=com', query_scope: 'one', page_size: 0, alias_dereferencing: 'default',
    chase_referrals: null, user: null, user_objectclass: 'inetOrgPerson', user_id_attribute: 'cn', user_name_attribute: 'sn',
    user_mail_attribute: 'mail', user_pass_attribute: 'userPassword', user_enabled_attribute: 'enabled', group_objectclass: 'groupOfNames',
    group_id_attribute: 'cn', group_name_attribute: 'ou', group_member_attribute: 'member', use_tls: false, tls_req_cert: 'demand',
  };
  return option in defaults ? defaults[option] : null;
}

const SENSITIVE = new Set(['ldap.password']);

function optionsOf(group: string): readonly string[] {
  const allowed = group === 'identity' ? ['driver', 'list_limit'] : group === 'ldap' ? LDAP_OPTIONS : undefined;
  if (!allowed) throw forbidden(`Group ${group} is not supported for domain specific configurations.`);
  return allowed;
}

function checkOption(group: string, option: string): void {
  if (!optionsOf(group).includes(option)) throw forbidden(`Option ${option} in group ${group} is not supported for domain specific configurations.`);
}

function validate(config: unknown): DomainConfig {
  if (!config || typeof config !== 'object' || Array.isArray(config) || Object.keys(config).length === 0) {
    throw badRequest("Invalid input for field 'config': a non-empty object of groups is required.");
  }
  for (const [group, options] of Object.entries(config)) {
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw badRequest(`Invalid input for field 'config/${group}': must be an object of options.`);
    for (const [option, value] of Object.entries(options)) {
      checkOption(group, option);
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) throw badRequest(`Invalid input for field 'config/${group}/${option}': must be a scalar.`);
    }
  }
  return config as DomainConfig;
}

async function load(db: Db, domainId: string, reveal = false): Promise<DomainConfig> {
  const rows = await db.selectFrom('identity_domain_config').selectAll().where('domain_id', '=', domainId).execute();
  const out: DomainConfig = {};
  for (const r of rows) {
    if (r.sensitive === 1 && !reveal) continue;
    (out[r.group_name] ??= {})[r.option_name] = JSON.parse(r.value) as Value;
  }
  return out;
}

async function store(trx: Db, domainId: string, config: DomainConfig): Promise<void> {
  for (const [group, options] of Object.entries(config)) {
    for (const [option, value] of Object.entries(options)) {
      await trx.deleteFrom('identity_domain_config').where('domain_id', '=', domainId).where('group_name', '=', group).where('option_name', '=', option).execute();
      await trx.insertInto('identity_domain_config').values({
        domain_id: domainId, group_name: group, option_name: option, value: JSON.stringify(value), sensitive: SENSITIVE.has(`${group}.${option}`) ? 1 : 0,
      }).execute();
    }
  }
}

/** Creates or replaces a domain's whole configuration; `created` tells 201 from 200. */
export async function putDomainConfig(deps: IdentityDeps, domainId: string, config: unknown): Promise<{ config: DomainConfig; created: boolean }> {
  const valid = validate(config);
  return writeTransaction(deps, async (trx) => {
    await getDomain(trx, domainId);
    const existed = !!(await trx.selectFrom('identity_domain_config').select('domain_id').where('domain_id', '=', domainId).executeTakeFirst());
    await trx.deleteFrom('identity_domain_config').where('domain_id', '=', domainId).execute();
    await store(trx, domainId, valid);
    return { config: await load(trx, domainId), created: !existed };
  });
}

/** GET of the whole config, a group or one option; 404 when nothing is set there. */
export async function showDomainConfig(db: Db, domainId: string, group?: string, option?: string): Promise<Record<string, unknown>> {
  await getDomain(db, domainId);
  if (group && option) checkOption(group, option);
  else if (group) optionsOf(group);
  const config = await load(db, domainId);
  if (!group) {
    if (Object.keys(config).length === 0) throw notFound(`Could not find domain config: ${domainId}.`);
    return config;
  }
  if (!config[group]) throw notFound(`Could not find domain config group ${group} for domain ${domainId}.`);
  if (!option) return { [group]: config[group] };
  if (!(option in config[group])) throw notFound(`Could not find domain config option ${group}.${option} for domain ${domainId}.`);
  return { [option]: config[group][option] };
}

/** PATCH: merges into the existing config; the body's groups must match the URL's group. */
export async function updateDomainConfig(deps: IdentityDeps, domainId: string, patch: unknown, group?: string, option?: string): Promise<DomainConfig> {
  let asConfig: unknown = patch;
  if (group && option) asConfig = { [group]: patch };
  const valid = validate(asConfig);
  if (group && Object.keys(valid).some((g) => g !== group)) throw badRequest(`The request body may only change group ${group}.`);
  if (option && Object.keys(valid[group!]).some((o) => o !== option)) throw badRequest(`The request body may only change option ${option}.`);
  return writeTransaction(deps, async (trx) => {
    await getDomain(trx, domainId);
    const current = await load(trx, domainId, true);
    if (Object.keys(current).length === 0) throw notFound(`Could not find domain config: ${domainId}.`);
    if (group && !current[group]) throw notFound(`Could not find domain config group ${group} for domain ${domainId}.`);
    if (option && !(option in current[group!])) throw notFound(`Could not find domain config option ${group}.${option} for domain ${domainId}.`);
    await store(trx, domainId, valid);
    return load(trx, domainId);
  });
}

export async function deleteDomainConfig(deps: IdentityDeps, domainId: string, group?: string, option?: string): Promise<void> {
  await writeTransaction(deps, async (trx) => {
    await showDomainConfig(trx, domainId, group, option);
    let q = trx.deleteFrom('identity_domain_config').where('domain_id', '=', domainId);
    if (group) q = q.where('group_name', '=', group);
    if (option) q = q.where('option_name', '=', option);
    await q.execute();
  });
}

export function showDefaultConfig(group?: string, option?: string): Record<string, unknown> {
  if (!group) return DOMAIN_CONFIG_DEFAULTS;
  const g = DOMAIN_CONFIG_DEFAULTS[group];
  if (!g) throw forbidden(`Group ${group} is not supported for domain specific configurations.`);
  if (!option) return { [group]: g };
  if (!(option in g)) throw forbidden(`Option ${option} in group ${group} is not supported for domain specific configurations.`);
  return { [option]: g[option] };
}
