/**
 * What every service's functions receive from the server that assembles them (DESIGN: time and
 * ids come from injected functions so tests control them).
 * @module
 */
import type { KumoConfig } from './config.js';
import type { Logger } from './log.js';
import type { Db } from './store/database.js';
import type { ChangeSignal } from './store/revision.js';

export interface ServiceDeps {
  readonly db: Db;
  readonly config: KumoConfig;
  readonly logger: Logger;
  readonly now: () => number;
  readonly newId: () => string;
  /** Told after every successful write, so the local agent need not wait for its poll. */
  readonly changes: ChangeSignal;
}
