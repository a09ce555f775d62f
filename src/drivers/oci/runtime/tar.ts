/**
 * A tar reader (ustar, GNU long names, pax headers; gzip-compressed or not), for putting an
 * archive into a container without handing the host's `tar` paths it would resolve on the host.
 * Pure.
 * @module
 */
import { gunzipSync } from 'node:zlib';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarEntry {
  readonly type: TarEntryType;
  readonly name: string;
  readonly linkname: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly data: Buffer;
}

const BLOCK = 512;

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'directory', '6': 'fifo',
};

export class TarFormatError extends Error {}

function cString(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Octal, or GNU base-256 when the top bit of the first byte is set. */
function numeric(buf: Buffer, start: number, length: number): number {
  const field = buf.subarray(start, start + length);
  if (field[0] & 0x80) {
    let n = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n;
  }
  const text = cString(buf, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum === numeric(header, 148, 8);
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(data.subarray(pos, space).toString('ascii'));
    if (!len) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** Every entry of the archive, in order. Throws TarFormatError on anything that is not a tar. */
export function readTar(archive: Buffer): TarEntry[] {
  const buf = archive.length >= 2 && archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | null = null;
  let longLink: string | null = null;
  let pax = new Map<string, string>();
  while (pos + BLOCK <= buf.length) {
    const header = buf.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new TarFormatError(`not a tar archive (bad header checksum at byte ${pos})`);
    const flag = String.fromCharCode(header[156]);
    const size = pax.has('size') ? Number(pax.get('size')) : numeric(header, 124, 12);
    const dataStart = pos + BLOCK;
    if (dataStart + size > buf.length) throw new TarFormatError('truncated tar archive');
    const data = buf.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (flag === 'L') { longName = cString(data, 0, data.length); continue; }
    if (flag === 'K') { longLink = cString(data, 0, data.length); continue; }
    if (flag === 'x') { pax = parsePax(data); continue; }
    if (flag === 'g') continue;
    const type = TYPES[flag];
    const magic = header.subarray(257, 262).toString('ascii');
    const prefix = magic === 'ustar' ? cString(header, 345, 155) : '';
    const rawName = cString(header, 0, 100);
    const name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
    const linkname = pax.get('linkpath') ?? longLink ?? cString(header, 157, 100);
    longName = null;
    longLink = null;
    const current = pax;
    pax = new Map();
    // Types this reader does not know (sparse files, volume headers) are skipped, as GNU tar warns and skips.
    if (!type) continue;
    entries.push({
      type,
      name,
      linkname,
      mode: numeric(header, 100, 8) & 0o7777,
      uid: current.has('uid') ? Number(current.get('uid')) : numeric(header, 108, 8),
      gid: current.has('gid') ? Number(current.get('gid')) : numeric(header, 116, 8),
      mtime: current.has('mtime') ? Math.floor(Number(current.get('mtime'))) : numeric(header, 136, 12),
      data: type === 'file' ? data : Buffer.alloc(0),
    });
  }
  return entries;
}
