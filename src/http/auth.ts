/**
 * The one auth hook every API registers: validates `X-Auth-Token` through the identity
 * service's exported `validateToken`, and puts the result on `request.auth`. Routes marked
 * `config: { public: true }` (version documents, POST /auth/tokens) work without a token.
 * Also the one place a validated token becomes the caller a project-scoped service's policy reads.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KumoError, unauthorized } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ValidatedToken } from '../identity/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: ValidatedToken;
  }
  interface FastifyContextConfig {
    /** No token needed; a token that is sent is still validated if it is good. */
    public?: boolean;
  }
}

export interface AuthHookOptions {
  validate: (token: string) => Promise<ValidatedToken>;
  /** The identity endpoint clients must authenticate against, for WWW-Authenticate. */
  identityUri: string;
}

export function registerAuthHook(app: FastifyInstance, options: AuthHookOptions): void {
  app.decorateRequest('auth', undefined);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const isPublic = request.routeOptions.config?.public === true;
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string' || token === '') {
      if (isPublic) return;
      throw unauthorized();
    }
    try {
      request.auth = await options.validate(token);
    } catch (err) {
      if (isPublic) return;
      if (err instanceof KumoError && err.status < 500) throw unauthorized();
      throw err;
    }
  });
}

export function requireAuth(request: FastifyRequest): ValidatedToken {
  if (!request.auth) throw unauthorized();
  return request.auth;
}

/** Who a project-scoped token speaks for, as every project-scoped service's policy sees it. */
export interface ProjectCaller {
  readonly projectId: string;
  readonly userId: string;
  readonly isAdmin: boolean;
}

/**
 * The caller of a project-scoped token. `unscoped` is the error a token without a project gets:
 * it differs by service (Nova and Cinder refuse it by policy, 403; Neutron, Glance and Zun 401).
 */
export function projectCallerOf(token: ValidatedToken, unscoped: Extract<KumoErrorCode, 'ERR_FORBIDDEN' | 'ERR_UNAUTHORIZED'>): ProjectCaller {
  if (!token.project) throw new KumoError(unscoped, 'A project-scoped token is required.');
  return { projectId: token.project.id, userId: token.user.id, isAdmin: token.roles.some((r) => r.name === 'admin') };
}
