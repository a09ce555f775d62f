/**
 * Zun's microversions: `OpenStack-API-Version: container 1.x` in, the same header (the version
 * that served the request) plus the supported range out. zunclient reads the range from the
 * root document and asks for min(server max, 1.40).
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { zunError } from './context.js';

export const MIN_VERSION = '1.1';
export const MAX_VERSION = '1.40';
const MAX_MINOR = 40;

/** The minor version the request asked for (1.1 when it said nothing); 406 outside the range. */
export function requestedMinor(request: FastifyRequest): number {
  const header = request.headers['openstack-api-version'];
  const text = Array.isArray(header) ? header.join(',') : header;
  const m = text ? /(?:^|,)\s*container\s+([^,\s]+)/i.exec(text) : null;
  if (!m) return 1;
  if (m[1] === 'latest') return MAX_MINOR;
  const v = /^1\.(\d+)$/.exec(m[1]);
  if (!v) throw zunError('ERR_VALIDATION', `Invalid API version format: ${m[1]}. It must be 1.N or latest.`);
  const minor = Number(v[1]);
  if (minor < 1 || minor > MAX_MINOR) {
    throw zunError('ERR_NOT_ACCEPTABLE', `Version ${m[1]} was requested but the minor version is not supported by this service. The supported version range is: [${MIN_VERSION}, ${MAX_VERSION}].`);
  }
  return minor;
}

export function setVersionHeaders(request: FastifyRequest, reply: FastifyReply): void {
  let served = MAX_VERSION;
  try {
    served = `1.${requestedMinor(request)}`;
  } catch {
    // The error response says why; the headers still advertise the range.
  }
  reply.header('OpenStack-API-Version', `container ${served}`);
  reply.header('OpenStack-API-Minimum-Version', `container ${MIN_VERSION}`);
  reply.header('OpenStack-API-Maximum-Version', `container ${MAX_VERSION}`);
  reply.header('Vary', 'OpenStack-API-Version');
}
