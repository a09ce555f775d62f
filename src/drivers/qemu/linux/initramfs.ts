/**
 * Tiny busybox initramfs images, built in memory without cpio or root: the KVM probe boots one
 * (its /init prints a marker and powers off) and the test VM image is one with the virtio
 * modules of the host's kernel. The archive format is the kernel's "newc" cpio, gzip-compressed.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface InitramfsEntry {
  /** Path inside the image, without a leading slash. */
  readonly path: string;
  readonly kind: 'file' | 'dir' | 'symlink';
  /** File contents, or the symlink target. */
  readonly data?: Uint8Array | string;
  readonly mode?: number;
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000, symlink: 0o120000 } as const;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(parts: Buffer[], length: number): void {
  const rest = length % 4;
  if (rest) parts.push(Buffer.alloc(4 - rest));
}

/** The newc cpio archive of `entries` (parents must be listed before their children), uncompressed. */
export function cpioArchive(entries: readonly InitramfsEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const record = (name: string, mode: number, data: Buffer, nlink: number): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    const header = `070701${hex8(ino++)}${hex8(mode)}${hex8(0)}${hex8(0)}${hex8(nlink)}${hex8(0)}${hex8(data.length)}`
      + `${hex8(0)}${hex8(0)}${hex8(0)}${hex8(0)}${hex8(nameBytes.length)}${hex8(0)}`;
    parts.push(Buffer.from(header, 'ascii'), nameBytes);
    pad4(parts, 110 + nameBytes.length);
    parts.push(data);
    pad4(parts, data.length);
  };
  for (const e of entries) {
    const data = e.kind === 'dir' ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    const perm = e.mode ?? (e.kind === 'dir' ? 0o755 : e.kind === 'symlink' ? 0o777 : 0o644);
    record(e.path.replace(/^\/+/, ''), TYPE_BITS[e.kind] | perm, data, e.kind === 'dir' ? 2 : 1);
  }
  ino = 0;
  record('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

/** A gzip-compressed initramfs: busybox with a symlink per applet, the standard directories, plus `extra`. */
export function busyboxInitramfs(options: { readonly busyboxPath: string; readonly init: string; readonly extra?: readonly InitramfsEntry[] }): Buffer {
  const applets = execFileSync(options.busyboxPath, ['--list'], { encoding: 'utf8' })
    .split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const entries: InitramfsEntry[] = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'mnt', 'run', 'root']
    .map((d) => ({ path: d, kind: 'dir' as const }));
  entries.push({ path: 'bin/busybox', kind: 'file', data: readFileSync(options.busyboxPath), mode: 0o755 });
  for (const a of applets) entries.push({ path: `bin/${a}`, kind: 'symlink', data: 'busybox' });
  entries.push({ path: 'init', kind: 'file', data: options.init, mode: 0o755 });
  entries.push(...(options.extra ?? []));
  return gzipSync(cpioArchive(entries), { level: 6 });
}

/** The newest Debian cloud kernel installed under /boot (what test and probe guests boot), or null. */
export function findGuestKernel(bootDir = '/boot'): { readonly path: string; readonly version: string } | null {
  if (!existsSync(bootDir)) return null;
  const versions = readdirSync(bootDir)
    .filter((f) => /^vmlinuz-.*-cloud-amd64$/.test(f))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  return version ? { path: path.join(bootDir, `vmlinuz-${version}`), version } : null;
}

/**
 * The kernel modules `names` need, dependencies first (from modules.dep), as initramfs files
 * under `mod/` with their load order. Compressed modules (.ko.xz, .ko.zst) are decompressed,
 * since busybox insmod reads plain ELF only.
 */
export function kernelModules(moduleDir: string, names: readonly string[]): { readonly entries: InitramfsEntry[]; readonly loadOrder: string[] } {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(path.join(moduleDir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(moduleName(mod), [mod, ...rest.trim().split(/\s+/).filter(Boolean)]);
  }
  const order: string[] = [];
  const files = new Map<string, string>();
  const visit = (name: string): void => {
    if (files.has(name)) return;
    const found = deps.get(name);
    if (!found) throw new Error(`kernel module ${name} is not in ${moduleDir}/modules.dep`);
    files.set(name, found[0]);
    for (const dep of found.slice(1)) visit(moduleName(dep));
    order.push(name);
  };
  for (const n of names) visit(n.replace(/-/g, '_'));
  const entries: InitramfsEntry[] = [{ path: 'mod', kind: 'dir' }];
  for (const name of order) {
    const file = path.join(moduleDir, files.get(name)!);
    let data: Buffer;
    if (file.endsWith('.xz')) data = execFileSync('xz', ['-dc', file], { maxBuffer: 64 << 20 });
    else if (file.endsWith('.zst')) data = execFileSync('zstd', ['-dc', file], { maxBuffer: 64 << 20 });
    else data = readFileSync(file);
    entries.push({ path: `mod/${name}.ko`, kind: 'file', data });
  }
  return { entries, loadOrder: order };
}

function moduleName(file: string): string {
  return path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}
