import type { FastifyInstance } from 'fastify';
import { neutronError } from '../context.js';
import type { NetworkRouteEnv } from './common.js';

/** Only what is really implemented: clients probe this list to decide what to send. */
const EXTENSIONS = [
  { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.' },
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks' },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  { alias: 'project-id', name: 'project_id field enabled', description: 'Extension that indicates that project_id field is enabled.' },
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes' },
  { alias: 'standard-attr-timestamp', name: 'Resource timestamps', description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.' },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.' },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  { alias: 'router', name: 'Neutron L3 Router', description: 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.' },
  { alias: 'ext-gw-mode', name: 'Neutron L3 Configurable external gateway mode', description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway' },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project' },
  { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project' },
  { alias: 'tag', name: 'Tag support', description: 'Enables to set tag on resources.' },
  { alias: 'standard-attr-tag', name: 'Tag support for resources with standard attribute: network, subnet, port, router, floatingip', description: 'Enables to set tag on resources with standard attribute.' },
].map((e) => ({ ...e, links: [] as unknown[], updated: '2022-09-01T00:00:00-00:00' }));

export function registerVersionRoutes(app: FastifyInstance, env: NetworkRouteEnv): void {
  const versions = () => ({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${env.base}/v2.0/` }] }] });
  app.get('/', { config: { public: true } }, async () => versions());
  app.get('/v2.0', { config: { public: true } }, async () => ({
    resources: ['network', 'subnet', 'port', 'security-group', 'security-group-rule', 'router', 'floatingip'].map((r) => ({ name: r, collection: `${r}s`, links: [{ rel: 'self', href: `${env.base}/v2.0/${r}s` }] })),
  }));
  app.get('/v2.0/extensions', async () => ({ extensions: EXTENSIONS }));
  app.get('/v2.0/extensions/:alias', async (request) => {
    const { alias } = request.params as { alias: string };
    const ext = EXTENSIONS.find((e) => e.alias === alias);
    if (!ext) throw neutronError('ERR_NOT_FOUND', 'HTTPNotFound', `Extension with alias ${alias} does not exist`);
    return { extension: ext };
  });
}
