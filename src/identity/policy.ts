/**
 * Keystone's default policy (Zed, with `enforce_new_defaults = false` as Keystone ships it):
 * the admin role is allowed everything; other users may read and manage what is theirs.
 * A rule is a predicate over the caller's token and the target.
 * @module
 */
import { forbidden } from '../errors.js';
import type { ValidatedToken } from './tokens.js';

export interface PolicyTarget {
  userId?: string;
  projectId?: string;
  domainId?: string;
  /** For trusts: the trustor and trustee. */
  trustorId?: string;
  trusteeId?: string;
}

export type Rule = (c: ValidatedToken, t: PolicyTarget) => boolean;

const hasRole = (c: ValidatedToken, name: string) => c.roles.some((r) => r.name === name);
export const isAdmin: Rule = (c) => hasRole(c, 'admin');
const isService: Rule = (c) => hasRole(c, 'service');
const owner: Rule = (c, t) => t.userId !== undefined && c.user.id === t.userId;
const any = (...rules: Rule[]): Rule => (c, t) => rules.some((r) => r(c, t));
const domainReader: Rule = (c, t) => !!c.domain && t.domainId === c.domain.id && hasRole(c, 'reader');
const projectMember: Rule = (c, t) => !!c.project && t.projectId === c.project.id;
const anyone: Rule = () => true;

/** Operation names follow Keystone's policy names. */
export const RULES = {
  'identity:get_domain': any(isAdmin, (c, t) => (!!c.domain && c.domain.id === t.domainId) || (!!c.project && c.project.domain_id === t.domainId)),
  'identity:list_domains': isAdmin,
  'identity:manage_domain': isAdmin,
  'identity:get_project': any(isAdmin, projectMember, domainReader),
  'identity:list_projects': any(isAdmin, domainReader),
  'identity:list_user_projects': any(isAdmin, owner),
  'identity:manage_project': isAdmin,
  'identity:get_project_tags': any(isAdmin, projectMember, domainReader),
  'identity:manage_project_tags': any(isAdmin, (c, t) => projectMember(c, t) && isAdmin(c, t)),
  'identity:get_user': any(isAdmin, owner),
  'identity:list_users': any(isAdmin, domainReader),
  'identity:manage_user': isAdmin,
  'identity:get_group': isAdmin,
  'identity:list_groups': any(isAdmin, domainReader),
  'identity:list_groups_for_user': any(isAdmin, owner),
  'identity:manage_group': isAdmin,
  'identity:get_role': isAdmin,
  'identity:list_roles': isAdmin,
  'identity:manage_role': isAdmin,
  'identity:manage_grants': isAdmin,
  'identity:list_role_assignments': any(isAdmin, domainReader),
  'identity:get_region': anyone,
  'identity:manage_region': isAdmin,
  'identity:get_service': isAdmin,
  'identity:manage_service': isAdmin,
  'identity:get_endpoint': isAdmin,
  'identity:manage_endpoint': isAdmin,
  'identity:get_policy': isAdmin,
  'identity:manage_policy': isAdmin,
  'identity:get_credential': any(isAdmin, owner),
  'identity:manage_credential': any(isAdmin, owner),
  'identity:get_application_credential': any(isAdmin, owner),
  'identity:create_application_credential': owner,
  'identity:delete_application_credential': any(isAdmin, owner),
  'identity:get_access_rule': any(isAdmin, owner),
  'identity:delete_access_rule': any(isAdmin, owner),
  'identity:validate_token': any(isAdmin, isService, owner),
  'identity:revoke_token': any(isAdmin, owner),
  'identity:get_trust': any(isAdmin, (c, t) => c.user.id === t.trustorId || c.user.id === t.trusteeId),
  'identity:list_trusts': isAdmin,
  'identity:list_trusts_for_trustor': any(isAdmin, (c, t) => c.user.id === t.trustorId),
  'identity:list_trusts_for_trustee': any(isAdmin, (c, t) => c.user.id === t.trusteeId),
  'identity:delete_trust': any(isAdmin, (c, t) => c.user.id === t.trustorId),
} satisfies Record<string, Rule>;

export type PolicyAction = keyof typeof RULES;

export function allowed(action: PolicyAction, caller: ValidatedToken, target: PolicyTarget = {}): boolean {
  return RULES[action](caller, target);
}

export function enforce(action: PolicyAction, caller: ValidatedToken, target: PolicyTarget = {}): void {
  if (!allowed(action, caller, target)) throw forbidden(`You are not authorized to perform the requested action: ${action}.`);
}
