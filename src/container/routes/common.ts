/** What the container route files share. */
import type { FastifyRequest } from 'fastify';
import { projectCallerOf, requireAuth } from '../../http/auth.js';
import { invalid } from '../context.js';
import type { Caller, ContainerDeps } from '../context.js';
import type { ExecSessions } from '../exec-sessions.js';

export interface ContainerRouteEnv {
  deps: ContainerDeps;
  /** Interactive execs waiting for, or bridged to, their websocket. */
  execs: ExecSessions;
  /** `{publicUrl}/container`. */
  base: string;
}

export const caller = (request: FastifyRequest): Caller => projectCallerOf(requireAuth(request), 'ERR_UNAUTHORIZED');
export const query = (request: FastifyRequest): Record<string, string | undefined> => (request.query ?? {}) as Record<string, string | undefined>;
export const identOf = (request: FastifyRequest): string => (request.params as { ident: string }).ident;

/** Zun's booleans in query strings: oslo's strict true/false strings. */
export function boolParam(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'y', 'on', 't'].includes(v)) return true;
  if (['false', '0', 'no', 'n', 'off', 'f'].includes(v)) return false;
  throw invalid(`Valid ${name} values are: 0, 1, f, false, n, no, off, on, t, true, y, yes`);
}

export function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw invalid(`Invalid input for field/attribute ${name}. Value: ${value}. It must be a non-negative integer.`);
  return Number(value);
}
