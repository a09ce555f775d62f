/**
 * An in-memory tar writer for small archives: test fixtures, image archives built in tests, and
 * files copied into containers. Names over 100 bytes and xattrs go into a pax header (or GNU
 * long-name headers when asked, so the reader's GNU path can be exercised).
 * @module
 */
import type { TarEntryType } from './tar-reader.js';

export interface TarWriteEntry {
  readonly name: string;
  readonly type?: Exclude<TarEntryType, 'other'>;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
  readonly linkname?: string;
  readonly data?: Uint8Array | string;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: Readonly<Record<string, string>>;
}

const FLAGS: Record<Exclude<TarEntryType, 'other'>, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6',
};

function header(name: string, flag: string, fields: { mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const block = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => block.write(text, offset, Math.min(length, Buffer.byteLength(text)), 'utf8');
  const octal = (n: number, offset: number, length: number) => put(`${n.toString(8).padStart(length - 1, '0')}\0`, offset, length);
  put(name, 0, 100);
  octal(fields.mode, 100, 8);
  octal(fields.uid, 108, 8);
  octal(fields.gid, 116, 8);
  octal(fields.size, 124, 12);
  octal(Math.floor(fields.mtime), 136, 12);
  block.write('        ', 148, 'latin1');
  block.write(flag, 156, 'latin1');
  put(fields.linkname, 157, 100);
  block.write('ustar\x0000', 257, 'latin1');
  octal(fields.devmajor, 329, 8);
  octal(fields.devminor, 337, 8);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  // The length counts its own digits.
  while (Buffer.byteLength(`${length}${body}`) !== length) length = Buffer.byteLength(`${length}${body}`);
  return `${length}${body}`;
}

function padded(data: Buffer): Buffer[] {
  const pad = (512 - (data.length % 512)) % 512;
  return pad ? [data, Buffer.alloc(pad)] : [data];
}

export function buildTar(entries: readonly TarWriteEntry[], options: { longNames?: 'pax' | 'gnu' } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const linkname = e.linkname ?? '';
    const base = {
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? 0,
      devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
    };
    const long = Buffer.byteLength(e.name) > 100 || Buffer.byteLength(linkname) > 100;
    const xattrs = Object.entries(e.xattrs ?? {});
    if (long && options.longNames === 'gnu') {
      for (const [flag, value] of [['L', e.name], ['K', linkname]] as const) {
        if (Buffer.byteLength(value) <= 100) continue;
        const text = Buffer.from(`${value}\0`);
        out.push(header('././@LongLink', flag, { ...base, size: text.length, linkname: '' }), ...padded(text));
      }
    }
    if ((long && options.longNames !== 'gnu') || xattrs.length) {
      let records = '';
      if (Buffer.byteLength(e.name) > 100 && options.longNames !== 'gnu') records += paxRecord('path', e.name);
      if (Buffer.byteLength(linkname) > 100 && options.longNames !== 'gnu') records += paxRecord('linkpath', linkname);
      for (const [k, v] of xattrs) records += paxRecord(`SCHILY.xattr.${k}`, v);
      const text = Buffer.from(records);
      out.push(header(`PaxHeaders/${e.name.slice(0, 80)}`, 'x', { ...base, size: text.length, linkname: '' }), ...padded(text));
    }
    out.push(header(e.name, FLAGS[type], { ...base, size: data.length, linkname }), ...padded(data));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}
