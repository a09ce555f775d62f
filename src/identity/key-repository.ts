/**
 * The fernet key repository, laid out as Keystone's: files named by integers in one directory;
 * `0` is the staged key (already accepted, not yet used to encrypt), the highest number is the
 * primary (encrypts new tokens), everything between is secondary (still decrypts). Rotation
 * promotes the staged key, so a token issued by any replica stays valid while it lives.
 * @module
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FernetKey } from './fernet.js';

export interface RotationResult {
  primary: number;
  removed: number[];
  keys: number[];
}

export class KeyRepository {
  readonly #dir: string;
  readonly #maxActiveKeys: number;
  readonly #now: () => number;
  #keys: FernetKey[] = [];
  #primary: FernetKey | undefined;
  #loadedMtimeMs = -1;
  #lastCheckMs = -Infinity;
  #generation = 0;

  constructor(dir: string, maxActiveKeys: number, now: () => number = Date.now) {
    if (maxActiveKeys < 2) throw new Error('maxActiveKeys must be at least 2 (a staged and a primary key)');
    this.#dir = dir;
    this.#maxActiveKeys = maxActiveKeys;
    this.#now = now;
  }

  /** Creates the directory with a staged and a primary key if it holds no keys. Idempotent. */
  initialize(): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    chmodSync(this.#dir, 0o700);
    if (this.#indexes().length === 0) {
      this.#writeKey(0, FernetKey.generate());
      this.#writeKey(1, FernetKey.generate());
    }
    this.#load();
  }

  /** Promote staged → primary, stage a new key, drop the oldest secondaries beyond the limit. */
  rotate(): RotationResult {
    const indexes = this.#indexes();
    if (!indexes.includes(0)) throw new Error(`no staged key in ${this.#dir}; run kumo up first`);
    const primary = Math.max(...indexes) + 1;
    renameSync(join(this.#dir, '0'), join(this.#dir, String(primary)));
    this.#writeKey(0, FernetKey.generate());
    const ordered = this.#indexes().filter((i) => i !== 0).sort((a, b) => a - b);
    const removed: number[] = [];
    while (ordered.length + 1 > this.#maxActiveKeys) {
      const oldest = ordered.shift()!;
      unlinkSync(join(this.#dir, String(oldest)));
      removed.push(oldest);
    }
    this.#load();
    return { primary, removed, keys: this.#indexes().sort((a, b) => a - b) };
  }

  /** The key new tokens are encrypted with. */
  primary(): FernetKey {
    this.#refresh();
    return this.#primary!;
  }

  /** Moves whenever the set of keys changes; caches of decrypted tokens compare it. */
  generation(): number {
    this.#refresh();
    return this.#generation;
  }

  /** Every key that may decrypt, primary first. */
  all(): readonly FernetKey[] {
    this.#refresh();
    return this.#keys;
  }

  // Another process (`kumo identity rotate-keys`, another replica's operator) may rotate the
  // keys: look at the directory at most once a second.
  #refresh(): void {
    const now = this.#now();
    if (now - this.#lastCheckMs < 1000 && this.#primary) return;
    this.#lastCheckMs = now;
    if (statSync(this.#dir).mtimeMs !== this.#loadedMtimeMs) this.#load();
  }

  #load(): void {
    const mtime = statSync(this.#dir).mtimeMs;
    const indexes = this.#indexes().sort((a, b) => b - a);
    if (indexes.length === 0) throw new Error(`no fernet keys in ${this.#dir}`);
    this.#keys = indexes.map((i) => new FernetKey(readFileSync(join(this.#dir, String(i)), 'utf8')));
    this.#primary = this.#keys[0];
    this.#loadedMtimeMs = mtime;
    this.#generation++;
  }

  #indexes(): number[] {
    return readdirSync(this.#dir).filter((f) => /^\d+$/.test(f)).map(Number);
  }

  #writeKey(index: number, key: FernetKey): void {
    const tmp = join(this.#dir, `.${index}.tmp`);
    writeFileSync(tmp, key.encoded, { mode: 0o600 });
    renameSync(tmp, join(this.#dir, String(index)));
  }
}
