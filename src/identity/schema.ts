/**
 * Identity's tables. Booleans are stored as 0/1 integers, timestamps as ISO-8601 text and
 * free-form attributes as JSON text, so that one schema serves SQLite and PostgreSQL.
 * @module
 */
import type { Generated } from 'kysely';

export interface DomainTable {
  id: string;
  name: string;
  description: string;
  enabled: number;
  /** JSON object: attributes Keystone accepts beyond its schema. */
  extra: string;
  /** JSON object of resource options. */
  options: string;
  created_at: string;
}

export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  /** Null for a top-level project (whose parent is its domain). */
  parent_id: string | null;
  description: string;
  enabled: number;
  extra: string;
  options: string;
  created_at: string;
}

export interface ProjectTagTable {
  project_id: string;
  name: string;
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  enabled: number;
  default_project_id: string | null;
  extra: string;
  options: string;
  /** scrypt hash in PHC-like form; null for users without a password. */
  password_hash: string | null;
  password_created_at: string | null;
  created_at: string;
}

export interface GroupTable {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  extra: string;
}

export interface UserGroupTable {
  user_id: string;
  group_id: string;
}

export interface RoleTable {
  id: string;
  name: string;
  /** '' for a global role: SQL unique constraints treat NULLs as distinct. */
  domain_id: string;
  description: string;
  options: string;
  extra: string;
}

export interface ImpliedRoleTable {
  prior_role_id: string;
  implied_role_id: string;
}

export interface AssignmentTable {
  actor_type: 'user' | 'group';
  actor_id: string;
  target_type: 'project' | 'domain' | 'system';
  /** A project or domain id, or `all` for the system target. */
  target_id: string;
  role_id: string;
  inherited: number;
}

export interface RegionTable {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: string;
}

export interface ServiceTable {
  id: string;
  type: string;
  enabled: number;
  extra: string;
}

export interface EndpointTable {
  id: string;
  service_id: string;
  interface: string;
  url: string;
  region_id: string | null;
  enabled: number;
  extra: string;
}

export interface ApplicationCredentialTable {
  id: string;
  name: string;
  user_id: string;
  project_id: string | null;
  secret_hash: string;
  description: string | null;
  expires_at: string | null;
  unrestricted: number;
  created_at: string;
}

export interface ApplicationCredentialRoleTable {
  application_credential_id: string;
  role_id: string;
}

export interface AccessRuleTable {
  id: string;
  user_id: string;
  service: string;
  path: string;
  method: string;
}

export interface ApplicationCredentialAccessRuleTable {
  application_credential_id: string;
  access_rule_id: string;
}

export interface TrustTable {
  id: string;
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string | null;
  impersonation: number;
  expires_at: string | null;
  remaining_uses: number | null;
  redelegated_trust_id: string | null;
  redelegation_count: number | null;
  deleted_at: string | null;
  extra: string;
  created_at: string;
}

export interface TrustRoleTable {
  trust_id: string;
  role_id: string;
}

export interface CredentialTable {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  extra: string;
  created_at: string;
}

export interface PolicyTable {
  id: string;
  type: string;
  blob: string;
  extra: string;
}

export interface RevocationTable {
  id: Generated<number>;
  user_id: string | null;
  project_id: string | null;
  domain_id: string | null;
  role_id: string | null;
  trust_id: string | null;
  audit_id: string | null;
  application_credential_id: string | null;
  /** Tokens issued at or before this instant (epoch ms) and matching every non-null field are revoked. */
  issued_before: number;
  revoked_at: number;
}

export interface EndpointGroupTable {
  id: string;
  name: string;
  description: string | null;
  /** JSON object: interface, service_id and/or region_id an endpoint must match. */
  filters: string;
}

export interface ProjectEndpointGroupTable {
  endpoint_group_id: string;
  project_id: string;
}

export interface ProjectEndpointTable {
  endpoint_id: string;
  project_id: string;
}

export interface DomainConfigTable {
  domain_id: string;
  group_name: string;
  option_name: string;
  value: string;
  /** Sensitive options (passwords) are stored but never returned. */
  sensitive: number;
}

export interface IdentityTables {
  identity_endpoint_group: EndpointGroupTable;
  identity_project_endpoint_group: ProjectEndpointGroupTable;
  identity_project_endpoint: ProjectEndpointTable;
  identity_domain_config: DomainConfigTable;
  identity_domain: DomainTable;
  identity_project: ProjectTable;
  identity_project_tag: ProjectTagTable;
  identity_user: UserTable;
  identity_group: GroupTable;
  identity_user_group: UserGroupTable;
  identity_role: RoleTable;
  identity_implied_role: ImpliedRoleTable;
  identity_assignment: AssignmentTable;
  identity_region: RegionTable;
  identity_service: ServiceTable;
  identity_endpoint: EndpointTable;
  identity_application_credential: ApplicationCredentialTable;
  identity_application_credential_role: ApplicationCredentialRoleTable;
  identity_access_rule: AccessRuleTable;
  identity_application_credential_access_rule: ApplicationCredentialAccessRuleTable;
  identity_trust: TrustTable;
  identity_trust_role: TrustRoleTable;
  identity_credential: CredentialTable;
  identity_policy: PolicyTable;
  identity_revocation: RevocationTable;
}
