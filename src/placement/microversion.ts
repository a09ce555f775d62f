/**
 * Placement's microversions: `OpenStack-API-Version: placement X.Y` (or `latest`) in; the
 * version that served the request echoed back with `Vary`. No header means 1.0. osc-placement
 * asks for 1.29 and, on a 406, retries with the `max_version` of the error body.
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalid, placementError } from './context.js';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.39';
export const MAX_MINOR = 39;

declare module 'fastify' {
  interface FastifyRequest {
    /** The placement microversion's minor number that serves this request (set by the placement API's first hook). */
    placementMinor: number;
  }
}

/** The minor version the request asked for; 400 for a malformed one, 406 outside 1.0–1.39. */
export function parseRequestedMinor(header: string | string[] | undefined): number {
  const text = Array.isArray(header) ? header.join(',') : header;
  const m = text ? /(?:^|,)\s*placement\s+([^,\s]+)/i.exec(text) : null;
  if (!m) return 0;
  if (m[1] === 'latest') return MAX_MINOR;
  const v = /^(\d+)\.(\d+)$/.exec(m[1]);
  if (!v) throw invalid(`invalid version string: ${m[1]}`);
  const minor = Number(v[2]);
  if (v[1] !== '1' || minor > MAX_MINOR) throw placementError('ERR_NOT_ACCEPTABLE', `Unacceptable version header: ${m[1]}`);
  return minor;
}

export function negotiateVersion(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('Vary', 'OpenStack-API-Version');
  request.placementMinor = parseRequestedMinor(request.headers['openstack-api-version']);
  reply.header('OpenStack-API-Version', `placement 1.${request.placementMinor}`);
}
