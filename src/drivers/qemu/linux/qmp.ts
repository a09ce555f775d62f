/**
 * A small QMP client: JSON lines over QEMU's unix socket. It reads the greeting, negotiates
 * capabilities, then matches each command's reply to it by id and hands asynchronous events
 * (SHUTDOWN, POWERDOWN, RESET, STOP, RESUME, DEVICE_DELETED, ...) to listeners.
 * QEMU serves one QMP client per socket at a time, so the driver connects per operation and
 * closes again, and a second Kumo (or a restarted one) is never locked out.
 * @module
 */
import net from 'node:net';

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** A command QEMU refused: `errorClass` is QMP's class (GenericError, DeviceNotFound, ...). */
export class QmpCommandError extends Error {
  constructor(readonly command: string, readonly errorClass: string, readonly description: string) {
    super(`QMP ${command}: ${description}`);
    this.name = 'QmpCommandError';
  }
}

export interface QmpConnection {
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  onEvent(listener: (event: QmpEvent) => void): void;
  /** Resolves with the first event named `name` (optionally matching `accept`) or rejects after `timeoutMs`. */
  waitForEvent(name: string, timeoutMs: number, accept?: (event: QmpEvent) => boolean): Promise<QmpEvent>;
  close(): void;
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** Connects, reads the greeting and leaves capabilities negotiation done. Rejects after `timeoutMs` without a greeting. */
export function connectQmp(socketPath: string, options: { readonly timeoutMs?: number } = {}): Promise<QmpConnection> {
  return new Promise((resolveConnect, rejectConnect) => {
    const socket = net.createConnection(socketPath);
    const pending = new Map<string, Pending>();
    const listeners: ((event: QmpEvent) => void)[] = [];
    let nextId = 1;
    let buffered = '';
    let greeted = false;
    let closedError: Error | null = null;

    const timer = setTimeout(() => fail(new Error(`QMP ${socketPath}: no greeting within ${options.timeoutMs ?? 5000} ms`)), options.timeoutMs ?? 5000);

    function fail(err: Error): void {
      clearTimeout(timer);
      closedError ??= err;
      for (const p of pending.values()) p.reject(closedError);
      pending.clear();
      socket.destroy();
      // A no-op once connected: a promise settles once.
      rejectConnect(closedError);
    }

    const connection: QmpConnection = {
      execute(command, args) {
        if (closedError) return Promise.reject(closedError);
        const id = `kumo-${nextId++}`;
        return new Promise((resolve, reject) => {
          pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject });
          socket.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
        });
      },
      onEvent(listener) {
        listeners.push(listener);
      },
      waitForEvent(name, timeoutMs, accept) {
        return new Promise((resolve, reject) => {
          let done = false;
          const t = setTimeout(() => {
            done = true;
            reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`));
          }, timeoutMs);
          listeners.push((event) => {
            if (done || event.event !== name || (accept && !accept(event))) return;
            done = true;
            clearTimeout(t);
            resolve(event);
          });
        });
      },
      close() {
        fail(new Error('QMP connection closed'));
      },
    };

    function handle(message: Record<string, unknown>): void {
      if ('QMP' in message && !greeted) {
        greeted = true;
        clearTimeout(timer);
        connection.execute('qmp_capabilities').then(() => resolveConnect(connection), (err: Error) => fail(err));
        return;
      }
      if (typeof message.event === 'string') {
        const event = { event: message.event, data: (message.data ?? {}) as Record<string, unknown> };
        for (const l of [...listeners]) l(event);
        return;
      }
      const p = typeof message.id === 'string' ? pending.get(message.id) : undefined;
      if (!p) return;
      pending.delete(message.id as string);
      if ('error' in message) {
        const e = message.error as { class?: string; desc?: string };
        p.reject(new QmpCommandError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
      } else {
        p.resolve(message.return);
      }
    }

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        try {
          handle(JSON.parse(line) as Record<string, unknown>);
        } catch {
          fail(new Error(`QMP ${socketPath}: not JSON: ${line.slice(0, 200)}`));
          return;
        }
      }
    });
    socket.on('error', (err) => fail(new Error(`QMP ${socketPath}: ${err.message}`)));
    socket.on('close', () => fail(new Error(`QMP ${socketPath}: QEMU closed the connection`)));
  });
}

/** Connects, runs `work`, and always closes. */
export async function withQmp<T>(socketPath: string, work: (qmp: QmpConnection) => Promise<T>): Promise<T> {
  const qmp = await connectQmp(socketPath);
  try {
    return await work(qmp);
  } finally {
    qmp.close();
  }
}
