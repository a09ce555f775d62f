/**
 * The logger interface every component receives; production uses pino.
 * @module
 */
import { pino } from 'pino';

export interface Logger {
  trace(fields: object, msg?: string): void;
  debug(fields: object, msg?: string): void;
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
  error(fields: object, msg?: string): void;
  child(fields: object): Logger;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  /** Where JSON lines go; defaults to stderr so that stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger & pino.Logger {
  return pino(
    {
      level: options.level,
      // Secrets must never reach a log line, whatever a caller passes in.
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'req.headers["x-auth-token"]', 'req.headers["x-subject-token"]'],
        censor: '[redacted]',
      },
    },
    options.destination ?? pino.destination(2),
  );
}

export function createSilentLogger(): Logger & pino.Logger {
  return pino({ level: 'silent' });
}
