/**
 * Zun's interactive exec: `execute?interactive=true` records what to run and answers with an exec
 * id and a websocket URL holding a one-time secret; the client connects there (websocket clients
 * send no X-Auth-Token), and only then does the process start, on a terminal, bridged to the
 * socket. `execute_resize` sizes that terminal. Sessions live in this API process only.
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { InteractiveSession } from '../drivers/oci/types.js';
import { zunError } from './context.js';

/** How long an exec id waits for its websocket. */
const CONNECT_WITHIN_MS = 60_000;

interface Pending {
  readonly containerId: string;
  readonly host: string;
  readonly args: readonly string[];
  readonly secret: Buffer;
  readonly timer: NodeJS.Timeout;
  session?: InteractiveSession;
  /** A size asked for before the process started (zunclient sends one as soon as it connects). */
  size?: [number, number];
}

export interface ExecSessions {
  /** Records an exec; the secret goes into the websocket URL. */
  create(containerId: string, host: string, args: readonly string[]): { execId: string; token: string };
  /** The exec for this id and secret, once: a second connection with the same URL is refused. */
  claim(execId: string, token: string): { containerId: string; host: string; args: readonly string[] };
  /** Registers the running session of a claimed exec until it ends. */
  attach(execId: string, session: InteractiveSession): void;
  resize(containerId: string, execId: string, columns: number, rows: number): Promise<void>;
  /** Hangs up every open session (the API is closing). */
  closeAll(): void;
}

export function createExecSessions(): ExecSessions {
  const pending = new Map<string, Pending>();
  const running = new Map<string, Pending>();
  return {
    create(containerId, host, args) {
      const execId = randomBytes(16).toString('hex');
      const secret = randomBytes(24);
      const timer = setTimeout(() => pending.delete(execId), CONNECT_WITHIN_MS);
      timer.unref();
      pending.set(execId, { containerId, host, args: [...args], secret, timer });
      return { execId, token: secret.toString('base64url') };
    },
    claim(execId, token) {
      const p = pending.get(execId);
      const given = Buffer.from(token, 'base64url');
      if (!p || given.length !== p.secret.length || !timingSafeEqual(given, p.secret)) throw zunError('ERR_UNAUTHORIZED', 'This exec link is not valid (unknown, used or expired).');
      pending.delete(execId);
      clearTimeout(p.timer);
      running.set(execId, p);
      return { containerId: p.containerId, host: p.host, args: p.args };
    },
    attach(execId, session) {
      const p = running.get(execId);
      if (!p) {
        session.close();
        return;
      }
      p.session = session;
      if (p.size) void session.resize(...p.size);
      void session.exited.finally(() => running.delete(execId));
    },
    async resize(containerId, execId, columns, rows) {
      const p = running.get(execId) ?? pending.get(execId);
      if (!p || p.containerId !== containerId) throw zunError('ERR_NOT_FOUND', `Exec ${execId} could not be found in container ${containerId}.`);
      p.size = [columns, rows];
      await p.session?.resize(columns, rows);
    },
    closeAll() {
      for (const p of running.values()) p.session?.close();
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
