import type { FastifyInstance } from 'fastify';
import type { WebSocket } from '@fastify/websocket';
import type { InteractiveSession } from '../../drivers/oci/types.js';
import { checkState, getContainer } from '../containers.js';
import { invalid, zunError } from '../context.js';
import { caller, identOf, nonNegativeInt, query } from './common.js';
import type { ContainerRouteEnv } from './common.js';

/** Zun's interactive exec: the websocket a `proxy_url` points at, and `execute_resize`. */
export function registerExecRoutes(app: FastifyInstance, env: ContainerRouteEnv): void {
  const { deps } = env;

  // Public: websocket clients send no token header; the one-time secret in the URL is the credential.
  app.get('/v1/exec/:execId', { websocket: true, config: { public: true } }, (socket: WebSocket, request) => {
    const { execId } = request.params as { execId: string };
    const fail = (message: string) => socket.close(4000, message.slice(0, 120));
    let claimed: ReturnType<typeof env.execs.claim>;
    try {
      claimed = env.execs.claim(execId, query(request).token ?? '');
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
      return;
    }
    if (!deps.hosts) {
      fail('No agent runs here.');
      return;
    }
    // What the client types before the process is there, and a client gone before that.
    const early: Buffer[] = [];
    let session: InteractiveSession | null = null;
    let gone = false;
    socket.on('message', (data: Buffer) => (session ? session.write(data) : early.push(data)));
    socket.on('close', () => {
      gone = true;
      session?.close();
    });
    deps.hosts.execInteractive(claimed.host, claimed.containerId, claimed.args).then((started) => {
      env.execs.attach(execId, started);
      if (gone) {
        started.close();
        return;
      }
      session = started;
      for (const d of early.splice(0)) started.write(d);
      started.onOutput((data) => {
        if (socket.readyState === socket.OPEN) socket.send(data, { binary: true });
      });
      void started.exited.then(() => socket.close(1000, 'exited'));
    }, (err: unknown) => fail(err instanceof Error ? err.message : String(err)));
  });

  // The main process's stdio is conmon's, behind an attach socket of type SOCK_SEQPACKET, which Node cannot open.
  app.get('/v1/containers/:ident/attach', async (request) => {
    await getContainer(deps.db, caller(request), identOf(request));
    throw zunError('ERR_NOT_IMPLEMENTED', 'Attaching to a container\'s main process is not supported here; use `appcontainer exec --interactive CONTAINER sh` for a terminal in it.');
  });

  app.post('/v1/containers/:ident/execute_resize', async (request) => {
    const row = await getContainer(deps.db, caller(request), identOf(request));
    checkState(row, 'execute');
    const q = query(request);
    if (!q.exec_id) throw invalid('An exec_id is required: ?exec_id=...');
    const columns = nonNegativeInt('w', q.w, 0);
    const rows = nonNegativeInt('h', q.h, 0);
    if (!columns || !rows) throw zunError('ERR_VALIDATION', 'Both w and h must be positive integers.');
    await env.execs.resize(row.uuid, q.exec_id, columns, rows);
    return {};
  });
}
