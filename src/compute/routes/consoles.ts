/**
 * Server consoles: `os-getConsoleOutput` (the serial log), and the serial console as a websocket
 * (`remote-consoles` at 2.6+, the older `os-getSerialConsole` action) whose URL carries a token
 * that works until it expires, as Nova's console tokens do.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from '@fastify/websocket';
import { invalid, novaError } from '../context.js';
import { minorOf } from '../microversion.js';
import type { ActionHandler } from '../server-actions.js';
import { checkState, getServer } from '../servers.js';
import type { InstanceRow } from '../servers.js';
import { caller, param, query } from './common.js';
import type { ComputeRouteEnv } from './common.js';

/** Nova's console_token_ttl. */
const TOKEN_TTL_MS = 600_000;

interface ConsoleToken { readonly instanceId: string; readonly host: string; readonly expires: number }

export type ConsoleTokens = Map<string, ConsoleToken>;

/** A websocket URL for the server's serial console, with a new token. */
function serialUrl(env: ComputeRouteEnv, tokens: ConsoleTokens, row: InstanceRow): string {
  const { deps } = env;
  {
    if (!deps.hosts || !row.host) throw novaError('ERR_CONFLICT', `Instance ${row.uuid} is not ready yet: it has no host.`);
    checkState(row, 'get_serial_console', ['active', 'paused', 'suspended', 'resized', 'rescued'], [null, 'powering-off', 'rebooting', 'rebooting_hard', 'pausing', 'unpausing', 'suspending', 'resuming']);
    const now = deps.now();
    for (const [t, v] of tokens) if (v.expires < now) tokens.delete(t);
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, { instanceId: row.uuid, host: row.host, expires: now + TOKEN_TTL_MS });
    return `${env.base.replace(/^http/, 'ws')}/serial-console?token=${token}`;
  }
}

export function consoleActions(env: ComputeRouteEnv, tokens: ConsoleTokens): Record<string, ActionHandler> {
  const { deps } = env;
  return {
    async 'os-getConsoleOutput'(_deps, _caller, row, body) {
      const length = (body['os-getConsoleOutput'] as { length?: unknown } | null | undefined)?.length;
      let lines: number | undefined;
      if (length !== undefined && length !== null) {
        const n = typeof length === 'number' ? length : typeof length === 'string' && /^-?\d+$/.test(length) ? Number(length) : NaN;
        if (!Number.isInteger(n) || n < -1) throw invalid(`Invalid input for field/attribute length. Value: ${String(length)}. It must be an integer of at least -1`);
        lines = n === -1 ? undefined : n;
      }
      if (!deps.hosts || !row.host) throw novaError('ERR_CONFLICT', `Instance ${row.uuid} has no console output yet: it has no host.`);
      const log = await deps.hosts.consoleLog(row.host, row.uuid);
      // Python's splitlines: no empty last line for a log that ends in a newline.
      const all = log.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
      const output = lines === undefined ? all.join('\n') : lines === 0 ? '' : all.slice(-lines).join('\n');
      return { status: 200, body: { output } };
    },
    async 'os-getSerialConsole'(_deps, _caller, row, body) {
      const type = (body['os-getSerialConsole'] as { type?: unknown } | undefined)?.type;
      if (type !== 'serial') throw invalid(`Invalid input for field/attribute type. Value: ${String(type)}. '${String(type)}' is not one of ['serial']`);
      return { status: 200, body: { console: { type: 'serial', url: serialUrl(env, tokens, row) } } };
    },
    // Consoles this hypervisor does not have (Nova's ConsoleTypeUnavailable).
    ...Object.fromEntries(['os-getVNCConsole', 'os-getSPICEConsole', 'os-getRDPConsole'].map((a) => [a, async () => {
      throw invalid(`Unavailable console type ${a.replace(/^os-get|Console$/g, '').toLowerCase()}.`);
    }])),
  };
}

export function registerConsoleRoutes(app: FastifyInstance, env: ComputeRouteEnv, tokens: ConsoleTokens): void {
  const { deps } = env;
  app.post('/v2.1/servers/:id/remote-consoles', async (request) => {
    if (minorOf(request) < 6) throw novaError('ERR_NOT_FOUND', 'The resource could not be found.');
    const c = caller(request);
    const body = (request.body as { remote_console?: { protocol?: unknown; type?: unknown } } | undefined)?.remote_console;
    if (!body || typeof body !== 'object') throw invalid("Invalid input for field/attribute remote_console. 'remote_console' is a required property");
    const { protocol, type } = body;
    if (!['vnc', 'spice', 'rdp', 'serial', 'mks'].includes(String(protocol))) throw invalid(`Invalid input for field/attribute protocol. Value: ${String(protocol)}.`);
    if (protocol !== 'serial' || type !== 'serial') throw invalid(`Unavailable console type ${String(type ?? protocol)}.`);
    const row = await getServer(deps.db, c, param(request, 'id'));
    return { remote_console: { protocol: 'serial', type: 'serial', url: serialUrl(env, tokens, row) } };
  });

  // Public: websocket clients send no token header; the console token in the URL is the credential.
  app.get('/serial-console', { websocket: true, config: { public: true } }, (socket: WebSocket, request) => {
    const token = String(query(request).token ?? '');
    const entry = tokens.get(token);
    if (!entry || entry.expires < deps.now() || !deps.hosts) {
      socket.close(4001, 'The console token is invalid or has expired.');
      return;
    }
    let console: Awaited<ReturnType<NonNullable<typeof deps.hosts>['openSerialConsole']>> | null = null;
    let gone = false;
    const early: Buffer[] = [];
    socket.on('message', (data: Buffer) => (console ? console.write(data) : early.push(data)));
    socket.on('close', () => {
      gone = true;
      console?.close();
    });
    deps.hosts.openSerialConsole(entry.host, entry.instanceId).then((opened) => {
      if (gone) {
        opened.close();
        return;
      }
      console = opened;
      for (const d of early.splice(0)) opened.write(d);
      opened.onData((bytes) => {
        if (socket.readyState === socket.OPEN) socket.send(bytes, { binary: true });
      });
      opened.onClose(() => socket.close(1000, 'console closed'));
    }, (err: unknown) => socket.close(4000, (err instanceof Error ? err.message : String(err)).slice(0, 120)));
  });
}
