/**
 * The metadata service VMs reach at http://169.254.169.254/: the network driver's proxy in each
 * network's DHCP namespace forwards their requests to this server's UNIX socket with
 * `X-Forwarded-For` (the VM's address) and `X-Neutron-Network-ID`, which together name the port
 * and so the server asking. It answers the OpenStack tree (`/openstack/<version>/...`) and the
 * EC2 tree (`/<version>/meta-data/...`, `/<version>/user-data`), as Nova's metadata API does.
 * @module
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { portByAddress } from '../../network/workload-ports.js';
import type { ComputeDeps } from '../context.js';
import { NOVA_DEVICE_OWNER } from '../servers.js';
import type { InstanceRow } from '../servers.js';
import { EC2_VERSIONS, ec2Lookup, ec2MetaData, OPENSTACK_VERSIONS, openstackFiles } from './content.js';
import { instanceMetadata } from './instance.js';

const header = (request: FastifyRequest, name: string) => {
  const v = request.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
};

export async function buildMetadataApp(deps: ComputeDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), routerOptions: { ignoreTrailingSlash: true } });

  /** The server behind the request's address on its network, or a 404 already sent. */
  async function serverOf(request: FastifyRequest, reply: FastifyReply): Promise<InstanceRow | undefined> {
    const networkId = header(request, 'x-neutron-network-id');
    const address = header(request, 'x-forwarded-for');
    const port = networkId && address ? await portByAddress(deps.network, networkId, address) : undefined;
    const row = port && port.deviceOwner === NOVA_DEVICE_OWNER
      ? await deps.db.selectFrom('compute_instance').selectAll().where('uuid', '=', port.deviceId).executeTakeFirst()
      : undefined;
    if (!row) {
      deps.logger.info({ networkId, address }, 'metadata request from an address that is no server');
      reply.status(404).type('text/plain').send('Not Found');
      return undefined;
    }
    return row;
  }
  const text = (reply: FastifyReply, body: string | Buffer, json = false) => reply.type(json ? 'application/json' : 'text/plain; charset=UTF-8').send(body);

  app.get('/', async (_request, reply) => text(reply, [...EC2_VERSIONS, 'latest'].join('\n')));
  app.get('/openstack', async (_request, reply) => text(reply, [...OPENSTACK_VERSIONS, 'latest'].join('\n')));
  app.get('/openstack/:version', async (request, reply) => {
    const row = await serverOf(request, reply);
    if (!row) return reply;
    const version = (request.params as { version: string }).version;
    if (!isOpenstackVersion(version)) return reply.status(404).type('text/plain').send('Not Found');
    return text(reply, Object.keys(openstackFiles(await instanceMetadata(deps, row), version, false)).join('\n'));
  });
  app.get('/openstack/:version/:file', async (request, reply) => {
    const row = await serverOf(request, reply);
    if (!row) return reply;
    const { version, file } = request.params as { version: string; file: string };
    const files = isOpenstackVersion(version) ? openstackFiles(await instanceMetadata(deps, row), version, false) : {};
    if (!(file in files)) return reply.status(404).type('text/plain').send('Not Found');
    return text(reply, files[file], file.endsWith('.json'));
  });
  app.get('/:version', async (request, reply) => {
    const row = await serverOf(request, reply);
    if (!row) return reply;
    if (!isEc2Version((request.params as { version: string }).version)) return reply.status(404).type('text/plain').send('Not Found');
    return text(reply, row.user_data ? 'meta-data/\nuser-data' : 'meta-data/');
  });
  app.get('/:version/user-data', async (request, reply) => {
    const row = await serverOf(request, reply);
    if (!row) return reply;
    if (!isEc2Version((request.params as { version: string }).version) || !row.user_data) return reply.status(404).type('text/plain').send('Not Found');
    return text(reply, Buffer.from(row.user_data, 'base64'));
  });
  app.get('/:version/meta-data/*', async (request, reply) => {
    const row = await serverOf(request, reply);
    if (!row) return reply;
    const rest = (request.params as { '*': string })['*'] ?? '';
    const found = isEc2Version((request.params as { version: string }).version) ? ec2Lookup(ec2MetaData(await instanceMetadata(deps, row)), rest.split('/')) : undefined;
    if (found === undefined) return reply.status(404).type('text/plain').send('Not Found');
    return text(reply, found);
  });
  return app;
}

const isOpenstackVersion = (v: string) => v === 'latest' || (OPENSTACK_VERSIONS as readonly string[]).includes(v);
const isEc2Version = (v: string) => v === 'latest' || (EC2_VERSIONS as readonly string[]).includes(v);
