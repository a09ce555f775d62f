/**
 * Nova's microversions: `X-OpenStack-Nova-API-Version: 2.x` (legacy) or
 * `OpenStack-API-Version: compute 2.x` in, both echoed out. OSC's `2.latest` sends 2.92 without
 * negotiating, so the maximum is 2.92; the SDK reads it from `GET /v2.1`.
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { novaError } from './context.js';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.92';
const MAX_MINOR = 92;

declare module 'fastify' {
  interface FastifyRequest {
    /** The compute microversion's minor number that serves this request (2.x). */
    novaMinor?: number;
  }
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const h = request.headers[name];
  return Array.isArray(h) ? h.join(',') : h;
}

/** The minor version the request asked for (1 when it said nothing); 406 outside the range, 400 when unreadable. */
export function parseRequestedMinor(request: FastifyRequest): number {
  const modern = headerText(request, 'openstack-api-version');
  const m = modern ? /(?:^|,)\s*compute\s+([^,\s]+)/i.exec(modern) : null;
  const asked = m ? m[1] : headerText(request, 'x-openstack-nova-api-version')?.trim();
  if (!asked) return 1;
  if (asked === 'latest') return MAX_MINOR;
  const v = /^2\.(\d+)$/.exec(asked);
  if (!v) throw novaError('ERR_VALIDATION', `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
  const minor = Number(v[1]);
  if (minor < 1 || minor > MAX_MINOR) {
    throw novaError('ERR_NOT_ACCEPTABLE', `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return minor;
}

/** Sets `request.novaMinor` and the response headers; throws (after the headers are set) on a bad version. */
export function negotiate(request: FastifyRequest, reply: FastifyReply): void {
  let minor = 1;
  try {
    minor = parseRequestedMinor(request);
  } finally {
    request.novaMinor = minor;
    reply.header('X-OpenStack-Nova-API-Version', `2.${minor}`);
    reply.header('OpenStack-API-Version', `compute 2.${minor}`);
    reply.header('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
  }
}

export const minorOf = (request: FastifyRequest): number => request.novaMinor ?? 1;
