/**
 * Cinder's microversions: `OpenStack-API-Version: volume 3.x` in (absent means 3.0, `latest`
 * the maximum), echoed out with `Vary`. cinderclient 9.1 knows up to 3.70; the SDK asks 3.60.
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cinderError } from './context.js';

export const MIN_VERSION = '3.0';
export const MAX_VERSION = '3.70';
const MAX_MINOR = 70;

declare module 'fastify' {
  interface FastifyRequest {
    /** The volume microversion's minor number that serves this request (3.x). */
    cinderMinor?: number;
  }
}

/** The minor version asked for (0 when none); 406 outside the range, 400 when unreadable. */
export function parseVolumeMinor(header: string | string[] | undefined): number {
  const text = Array.isArray(header) ? header.join(',') : header;
  const m = text ? /(?:^|,)\s*volume\s+([^,\s]+)/i.exec(text) : null;
  if (!m) return 0;
  const asked = m[1];
  if (asked.toLowerCase() === 'latest') return MAX_MINOR;
  const v = /^(\d+)\.(\d+)$/.exec(asked);
  if (!v) throw cinderError('ERR_VALIDATION', `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
  const minor = Number(v[2]);
  if (v[1] !== '3' || minor > MAX_MINOR) {
    throw cinderError('ERR_NOT_ACCEPTABLE', `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return minor;
}

/** Sets `request.cinderMinor` and the response headers; throws (after the headers are set) on a bad version. */
export function negotiate(request: FastifyRequest, reply: FastifyReply): void {
  let minor = 0;
  try {
    minor = parseVolumeMinor(request.headers['openstack-api-version']);
  } finally {
    request.cinderMinor = minor;
    reply.header('OpenStack-API-Version', `volume 3.${minor}`);
    reply.header('Vary', 'OpenStack-API-Version');
  }
}

export const minorOf = (request: FastifyRequest): number => request.cinderMinor ?? 0;

/** Cinder's 404 for a route that exists only from a later microversion. */
export function requireMinor(request: FastifyRequest, minor: number): void {
  if (minorOf(request) < minor) throw cinderError('ERR_NOT_FOUND', 'The resource could not be found.');
}
