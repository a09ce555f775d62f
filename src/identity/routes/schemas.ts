/** TypeBox request schemas for identity: they validate input and document the API. */
import { Type } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';

const Name = (max = 255) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 64 });
const Open = { additionalProperties: true } as const;

const wrap = (key: string, inner: TSchema) => Type.Object({ [key]: inner }, Open);

export const DomainCreate = wrap('domain', Type.Object({
  name: Name(64), description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
  options: Type.Optional(Type.Object({}, Open)), explicit_domain_id: Type.Optional(Id),
}, Open));
export const DomainUpdate = wrap('domain', Type.Object({
  name: Type.Optional(Name(64)), description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
  options: Type.Optional(Type.Object({}, Open)),
}, Open));

const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 80 });
export const ProjectCreate = wrap('project', Type.Object({
  name: Name(64), description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
  domain_id: Type.Optional(Nullable(Id)), parent_id: Type.Optional(Nullable(Id)), is_domain: Type.Optional(Type.Boolean()),
  options: Type.Optional(Type.Object({}, Open)), tags: Type.Optional(Tags),
}, Open));
export const ProjectUpdate = wrap('project', Type.Object({
  name: Type.Optional(Name(64)), description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
  domain_id: Type.Optional(Nullable(Id)), parent_id: Type.Optional(Nullable(Id)), is_domain: Type.Optional(Type.Boolean()),
  options: Type.Optional(Type.Object({}, Open)), tags: Type.Optional(Tags),
}, Open));
export const ProjectTags = Type.Object({ tags: Tags }, Open);

export const UserCreate = wrap('user', Type.Object({
  name: Name(255), domain_id: Type.Optional(Id), enabled: Type.Optional(Type.Boolean()),
  default_project_id: Type.Optional(Nullable(Id)), password: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
  options: Type.Optional(Type.Object({}, Open)), description: Type.Optional(Nullable(Type.String())), email: Type.Optional(Nullable(Type.String())),
}, Open));
export const UserUpdate = wrap('user', Type.Object({
  name: Type.Optional(Name(255)), domain_id: Type.Optional(Id), enabled: Type.Optional(Type.Boolean()),
  default_project_id: Type.Optional(Nullable(Id)), password: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
  options: Type.Optional(Type.Object({}, Open)),
}, Open));
export const PasswordChange = wrap('user', Type.Object({
  password: Type.String({ minLength: 1, maxLength: 4096 }), original_password: Type.String({ minLength: 1, maxLength: 4096 }),
}, Open));

export const GroupCreate = wrap('group', Type.Object({
  name: Name(64), domain_id: Type.Optional(Id), description: Type.Optional(Nullable(Type.String())),
}, Open));
export const GroupUpdate = wrap('group', Type.Object({
  name: Type.Optional(Name(64)), description: Type.Optional(Nullable(Type.String())), domain_id: Type.Optional(Id),
}, Open));

export const RoleCreate = wrap('role', Type.Object({
  name: Name(255), domain_id: Type.Optional(Nullable(Id)), description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  options: Type.Optional(Type.Object({ immutable: Type.Optional(Nullable(Type.Boolean())) }, Open)),
}, Open));
export const RoleUpdate = wrap('role', Type.Object({
  name: Type.Optional(Name(255)), domain_id: Type.Optional(Nullable(Id)), description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  options: Type.Optional(Type.Object({ immutable: Type.Optional(Nullable(Type.Boolean())) }, Open)),
}, Open));

export const RegionCreate = wrap('region', Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), description: Type.Optional(Nullable(Type.String())),
  parent_region_id: Type.Optional(Nullable(Type.String())),
}, Open));
export const RegionUpdate = wrap('region', Type.Object({
  description: Type.Optional(Nullable(Type.String())), parent_region_id: Type.Optional(Nullable(Type.String())),
}, Open));

export const ServiceCreate = wrap('service', Type.Object({
  type: Type.String({ minLength: 1, maxLength: 255 }), name: Type.Optional(Nullable(Type.String())),
  description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
}, Open));
export const ServiceUpdate = wrap('service', Type.Object({
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), name: Type.Optional(Nullable(Type.String())),
  description: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
}, Open));

export const EndpointCreate = wrap('endpoint', Type.Object({
  service_id: Id, interface: Type.String(), url: Type.String({ minLength: 1, maxLength: 225 }),
  region_id: Type.Optional(Nullable(Type.String())), region: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
}, Open));
export const EndpointUpdate = wrap('endpoint', Type.Object({
  service_id: Type.Optional(Id), interface: Type.Optional(Type.String()), url: Type.Optional(Type.String({ minLength: 1, maxLength: 225 })),
  region_id: Type.Optional(Nullable(Type.String())), region: Type.Optional(Nullable(Type.String())), enabled: Type.Optional(Type.Boolean()),
}, Open));

const RoleRefSchema = Type.Object({ id: Type.Optional(Id), name: Type.Optional(Type.String()), domain_id: Type.Optional(Nullable(Id)) }, Open);
export const AppCredCreate = wrap('application_credential', Type.Object({
  name: Name(255), description: Type.Optional(Nullable(Type.String())), secret: Type.Optional(Nullable(Type.String())),
  expires_at: Type.Optional(Nullable(Type.String())), roles: Type.Optional(Type.Array(RoleRefSchema)),
  unrestricted: Type.Optional(Nullable(Type.Boolean())),
  access_rules: Type.Optional(Type.Array(Type.Object({
    id: Type.Optional(Id), service: Type.Optional(Type.String()), path: Type.Optional(Type.String()), method: Type.Optional(Type.String({ enum: ['POST', 'GET', 'HEAD', 'PATCH', 'PUT', 'DELETE'] })),
  }, Open))),
}, Open));

export const TrustCreate = wrap('trust', Type.Object({
  trustor_user_id: Id, trustee_user_id: Id, impersonation: Type.Boolean(), project_id: Type.Optional(Nullable(Id)),
  expires_at: Type.Optional(Nullable(Type.String())), remaining_uses: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  allow_redelegation: Type.Optional(Nullable(Type.Boolean())), redelegation_count: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  roles: Type.Optional(Type.Array(RoleRefSchema)),
}, Open));

export const CredentialCreate = wrap('credential', Type.Object({
  user_id: Id, project_id: Type.Optional(Nullable(Id)), type: Type.String({ minLength: 1, maxLength: 255 }), blob: Type.String({ minLength: 1 }),
}, Open));
export const CredentialUpdate = wrap('credential', Type.Object({
  user_id: Type.Optional(Id), project_id: Type.Optional(Nullable(Id)), type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), blob: Type.Optional(Type.String({ minLength: 1 })),
}, Open));

export const EndpointGroupCreate = wrap('endpoint_group', Type.Object({
  name: Name(255), description: Type.Optional(Nullable(Type.String())), filters: Type.Object({}, Open),
}, Open));
export const EndpointGroupUpdate = wrap('endpoint_group', Type.Object({
  name: Type.Optional(Name(255)), description: Type.Optional(Nullable(Type.String())), filters: Type.Optional(Type.Object({}, Open)),
}, Open));

export const Ec2Create = Type.Object({ tenant_id: Id }, Open);

export const PolicyCreate = wrap('policy', Type.Object({ type: Type.String({ minLength: 1, maxLength: 255 }), blob: Type.String() }, Open));
export const PolicyUpdate = wrap('policy', Type.Object({ type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), blob: Type.Optional(Type.String()) }, Open));

const DomainRefSchema = Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()) }, Open);
const UserRefSchema = Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), domain: Type.Optional(DomainRefSchema), password: Type.Optional(Type.String()) }, Open);
export const AuthCreate = wrap('auth', Type.Object({
  identity: Type.Object({
    methods: Type.Array(Type.String(), { minItems: 1 }),
    password: Type.Optional(Type.Object({ user: UserRefSchema }, Open)),
    token: Type.Optional(Type.Object({ id: Type.String({ minLength: 1 }) }, Open)),
    application_credential: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), secret: Type.String(), user: Type.Optional(UserRefSchema) }, Open)),
  }, Open),
  scope: Type.Optional(Type.Union([Type.Literal('unscoped'), Type.Object({
    project: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), domain: Type.Optional(DomainRefSchema) }, Open)),
    domain: Type.Optional(DomainRefSchema),
    system: Type.Optional(Type.Object({ all: Type.Optional(Type.Boolean()) }, Open)),
    'OS-TRUST:trust': Type.Optional(Type.Object({ id: Type.String() }, Open)),
  }, Open)])),
}, Open));
