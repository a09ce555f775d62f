import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { StoredImage } from '../../drivers/oci/types.js';
import { invalid, zunError } from '../context.js';
import type { Caller } from '../context.js';
import { caller } from './common.js';
import type { ContainerRouteEnv } from './common.js';

/** Zun's image policy: pulling, listing and deleting images on hosts is for admins. */
function requireAdmin(c: Caller, action: string): void {
  if (!c.isAdmin) throw zunError('ERR_FORBIDDEN', `Policy doesn't allow image:${action} to be performed.`);
}

/** A stable UUID for an image name on a host (Zun keeps one record per host and name). */
function imageUuid(host: string, name: string): string {
  const h = createHash('sha256').update(`${host}\0${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function splitName(name: string): { repo: string; tag: string } {
  const at = name.lastIndexOf(':');
  return at > name.lastIndexOf('/') ? { repo: name.slice(0, at), tag: name.slice(at + 1) } : { repo: name, tag: 'latest' };
}

export function registerImageRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;
  const access = () => {
    if (!deps.hosts) throw zunError('ERR_CONFLICT', 'No container host is reachable from this API process (no agent runs here).');
    return deps.hosts;
  };
  const rendered = (host: string, image: StoredImage) => (image.repoTags.length ? image.repoTags : [image.id]).map((name) => {
    const uuid = imageUuid(host, name);
    return {
      uuid, image_id: image.id, ...splitName(name), size: image.size, host, project_id: null, image_driver: 'docker',
      links: [{ href: `${env.base}/v1/images/${uuid}`, rel: 'self' }, { href: `${env.base}/images/${uuid}`, rel: 'bookmark' }],
    };
  });
  const all = async () => {
    const hosts = access();
    return (await Promise.all(hosts.hosts.map(async (h) => (await hosts.listImages(h)).flatMap((i) => rendered(h, i))))).flat();
  };
  const find = async (uuid: string) => {
    const image = (await all()).find((i) => i.uuid === uuid || i.image_id === uuid);
    if (!image) throw zunError('ERR_NOT_FOUND', `Image ${uuid} could not be found.`);
    return image;
  };

  app.post('/v1/images', async (request, reply) => {
    requireAdmin(caller(request), 'pull');
    const body = (request.body ?? {}) as { repo?: unknown; host?: unknown };
    if (typeof body.repo !== 'string' || body.repo.length < 2) throw invalid('Invalid input for field/attribute repo: an image name (e.g. busybox:latest) is required.');
    const hosts = access();
    const host = typeof body.host === 'string' ? body.host : hosts.hosts[0];
    if (!hosts.hosts.includes(host)) throw zunError('ERR_NOT_FOUND', `Host ${host} could not be found.`);
    const image = await hosts.pullImage(host, body.repo);
    const wanted = rendered(host, image).find((i) => body.repo === i.repo || `${i.repo}:${i.tag}`.endsWith(body.repo as string)) ?? rendered(host, image)[0];
    return reply.status(202).send(wanted);
  });
  app.get('/v1/images', async (request) => {
    requireAdmin(caller(request), 'get_all');
    return { images: await all(), next: null };
  });
  app.get('/v1/images/:id', async (request) => {
    requireAdmin(caller(request), 'get');
    return find((request.params as { id: string }).id);
  });
  app.delete('/v1/images/:id', async (request, reply) => {
    requireAdmin(caller(request), 'delete');
    const image = await find((request.params as { id: string }).id);
    await access().removeImage(image.host, `${image.repo}:${image.tag}`);
    return reply.status(204).send();
  });
}
