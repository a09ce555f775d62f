/**
 * A streaming tar reader: ustar, pax (extended and global headers, `SCHILY.xattr.*`) and GNU
 * (long names and link names, base-256 numbers), one 512-byte header at a time, bodies streamed
 * through. Layers are gigabytes, so nothing but the header is ever held in memory.
 * @module
 */
import { KumoError } from '../../../errors.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo' | 'other';

export interface TarHeader {
  /** As written in the archive (not sanitised): may start with `./` or `/` and may contain `..`. */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Seconds since the epoch, fractional when a pax header says so. */
  readonly mtime: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** From pax `SCHILY.xattr.<name>` records. */
  readonly xattrs: Readonly<Record<string, Buffer>>;
}

export interface TarEntry extends TarHeader {
  /**
   * The entry's data. Read it before asking for the next entry, or leave it: the reader skips
   * whatever was not read.
   */
  readonly body: AsyncIterable<Buffer>;
}

const BLOCK = 512;

function invalidTar(why: string): KumoError {
  return new KumoError('ERR_VALIDATION', `not a valid tar archive: ${why}`);
}

/** Pulls exact byte counts out of a chunked source without copying more than a header at a time. */
class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Bytes handed out so far, for error messages. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    return true;
  }

  /** Exactly `n` bytes, or null at the very end of the input; a short read is an error. */
  async exact(n: number): Promise<Buffer | null> {
    while (this.#buffer.length < n) {
      if (!(await this.#more())) {
        if (this.#buffer.length === 0) return null;
        throw invalidTar(`unexpected end of data at byte ${this.position + this.#buffer.length}`);
      }
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    this.position += n;
    return out;
  }

  /** The next `n` bytes in pieces as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#more())) throw invalidTar(`unexpected end of data at byte ${this.position}`);
      const take = Math.min(left, this.#buffer.length);
      const piece = this.#buffer.subarray(0, take);
      this.#buffer = this.#buffer.subarray(take);
      this.position += take;
      left -= take;
      yield piece;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** Octal, or GNU base-256 when the high bit of the first byte is set (sizes over 8 GiB, big ids). */
function number(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) throw invalidTar(`${what} is too large`);
    return value;
  }
  const text = cString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalidTar(`${what} field ${JSON.stringify(text)} is not octal`);
  return parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = cString(block, 148, 8).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  const value = parseInt(stored, 8);
  // Some old writers summed signed chars; both are accepted, as GNU tar does.
  return value === unsigned || value === signed;
}

/** `<length> <key>=<value>\n` records; values stay bytes because xattr values are binary. */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const length = Number(data.subarray(i, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= space - i || i + length > data.length) throw invalidTar('malformed pax record');
    const record = data.subarray(space + 1, i + length - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw invalidTar('malformed pax record (no "=")');
    records.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    i += length;
  }
  return records;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'directory', '6': 'fifo',
};

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** The entries of the tar `source` yields, in order. Ends at the end-of-archive blocks or the end of the data. */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const input = new ByteReader(source);
  let globalPax = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;

  for (;;) {
    const headerAt = input.position;
    const block = await input.exact(BLOCK);
    if (block === null) return;
    if (block.every((b) => b === 0)) return; // end of archive; what follows is padding
    if (!checksumMatches(block)) throw invalidTar(`header checksum mismatch at byte ${headerAt}`);
    const flag = String.fromCharCode(block[156]);
    const size = number(block, 124, 12, 'size');

    // Meta entries describe the next header; their data is read whole (they are small).
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 16 * 1024 * 1024) throw invalidTar(`a ${flag} meta header of ${size} bytes`);
      const data = size ? await input.exact(size) : Buffer.alloc(0);
      if (data === null) throw invalidTar('unexpected end of data in a meta header');
      await input.skip(padding(size));
      if (flag === 'x') pax = new Map([...(pax ?? []), ...parsePaxRecords(Buffer.from(data))]);
      else if (flag === 'g') globalPax = new Map([...globalPax, ...parsePaxRecords(Buffer.from(data))]);
      else if (flag === 'L') longName = cString(data, 0, data.length);
      else longLink = cString(data, 0, data.length);
      continue;
    }
    if (flag === 'S') throw invalidTar('GNU sparse files are not supported');

    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : '';
    const records = new Map([...globalPax, ...(pax ?? [])]);
    const text = (key: string) => records.get(key)?.toString('utf8');
    const decimal = (key: string, fallback: number) => {
      const v = text(key);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw invalidTar(`pax ${key}=${JSON.stringify(v)} is not a number`);
      return n;
    };
    let name = text('path') ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    const linkname = text('linkpath') ?? longLink ?? cString(block, 157, 100);
    const entrySize = decimal('size', size);
    let type = TYPES[flag] ?? 'other';
    // Pre-POSIX archives mark directories only by the trailing slash.
    if (type === 'file' && name.endsWith('/')) type = 'directory';
    if (type === 'directory') name = name.replace(/\/+$/, '') || '.';
    const xattrs: Record<string, Buffer> = {};
    for (const [key, value] of records) if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value;
    pax = null;
    longName = null;
    longLink = null;

    let remaining = entrySize;
    const body = (async function* () {
      for await (const piece of input.stream(remaining)) {
        remaining -= piece.length;
        yield piece;
      }
    })();
    yield {
      name,
      type,
      mode: number(block, 100, 8, 'mode') & 0o7777,
      uid: decimal('uid', number(block, 108, 8, 'uid')),
      gid: decimal('gid', number(block, 116, 8, 'gid')),
      size: entrySize,
      mtime: decimal('mtime', number(block, 136, 12, 'mtime')),
      linkname,
      devmajor: type === 'char' || type === 'block' ? number(block, 329, 8, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? number(block, 337, 8, 'devminor') : 0,
      xattrs,
      body,
    };
    await input.skip(remaining);
    await input.skip(padding(entrySize));
  }
}
