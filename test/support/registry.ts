/**
 * A throwaway OCI registry for tests (Debian's `docker-registry`, distribution 2.8, on
 * loopback, storage in a temp dir) and a minimal push client: images built from directories
 * (one gzipped layer per directory, GNU tar), manifest lists, raw blobs.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { freePort } from './kumo-process.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface Registry {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>`, the registry part of image references. */
  readonly host: string;
  /** The registry's filesystem storage root (`docker/registry/v2/...` below it). */
  readonly storageDir: string;
  stop(): Promise<void>;
}

const sha256 = (data: Uint8Array | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Starts a registry on a free loopback port and waits until `/v2/` answers. */
export async function startRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'kumo-registry-'));
  const storageDir = join(dir, 'data');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = join(dir, 'config.yml');
    writeFileSync(config, [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${storageDir} }, delete: { enabled: true } }`,
      `http: { addr: "${host}" }`,
      '',
    ].join('\n'));
    const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false);
      if (ok) return { url: `http://${host}`, host, storageDir, stop };
      await new Promise((r) => setTimeout(r, 50));
    }
    const died = child.exitCode !== null;
    await stop().catch(() => undefined);
    // Another process may have taken the port between the probe and the bind.
    if (!died || attempt >= 2) throw new Error(`docker-registry did not start on ${host}: ${stderr}`);
    mkdirSync(dir, { recursive: true });
  }
}

async function expectStatus(res: Response, want: number, what: string): Promise<Response> {
  if (res.status !== want) throw new Error(`${what}: registry answered ${res.status}: ${await res.text()}`);
  return res;
}

/** Uploads a blob (monolithic upload) unless the repository has it; returns its digest. */
export async function pushBlob(host: string, repo: string, data: Uint8Array): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.ok) return digest;
  const start = await expectStatus(await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' }), 202, `upload of ${digest}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', digest);
  await expectStatus(
    await fetch(location, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } }),
    201,
    `upload of ${digest}`,
  );
  return digest;
}

/** Puts a manifest or index under `reference` (a tag or its digest); returns its digest. */
export async function pushManifest(host: string, repo: string, reference: string, mediaType: string, body: Uint8Array): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': mediaType } });
  await expectStatus(res, 201, `manifest ${repo}:${reference}`);
  return sha256(body);
}

/** A layer as the registry stores it: a gzipped tar of the directory's contents (entries `./...`, owned by root). */
export function layerFromDir(dir: string): { gz: Buffer; diffId: string; digest: string } {
  const tar = execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '-C', dir, '-cf', '-', '.'], { maxBuffer: 256 * 1024 * 1024 });
  const gz = gzipSync(tar);
  return { gz, diffId: sha256(tar), digest: sha256(gz) };
}

export interface PushImageConfig {
  /** Default `amd64`. */
  readonly architecture?: string;
  /** Default `linux`. */
  readonly os?: string;
  /** Docker's container config: `Cmd`, `Entrypoint`, `Env`, `WorkingDir`, `User`, `ExposedPorts`, `Labels`, `StopSignal`. */
  readonly config?: Record<string, unknown>;
}

export interface PushedImage {
  /** The manifest's digest. */
  readonly digest: string;
  /** The manifest's size, for index entries. */
  readonly size: number;
  /** The image id (its config digest). */
  readonly configDigest: string;
  /** Compressed layer digests, bottom first. */
  readonly layers: readonly string[];
}

/**
 * Pushes an image with one gzipped layer per directory (bottom first) as a Docker v2 schema 2
 * manifest (or OCI with `format: 'oci'`) under `tag`, or by digest only when `tag` is null.
 */
export async function pushImage(
  host: string, repo: string, tag: string | null, layers: readonly string[], config: PushImageConfig = {}, format: 'docker' | 'oci' = 'docker',
): Promise<PushedImage> {
  const built = layers.map(layerFromDir);
  for (const l of built) await pushBlob(host, repo, l.gz);
  const configBlob = Buffer.from(JSON.stringify({
    architecture: config.architecture ?? 'amd64',
    os: config.os ?? 'linux',
    created: '2026-01-01T00:00:00Z',
    config: config.config ?? {},
    rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
    history: built.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'kumo test' })),
  }));
  const configDigest = await pushBlob(host, repo, configBlob);
  const types = format === 'oci'
    ? { manifest: 'application/vnd.oci.image.manifest.v1+json', config: 'application/vnd.oci.image.config.v1+json', layer: 'application/vnd.oci.image.layer.v1.tar+gzip' }
    : { manifest: 'application/vnd.docker.distribution.manifest.v2+json', config: 'application/vnd.docker.container.image.v1+json', layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip' };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, size: configBlob.length, digest: configDigest },
    layers: built.map((l) => ({ mediaType: types.layer, size: l.gz.length, digest: l.digest })),
  }));
  const digest = await pushManifest(host, repo, tag ?? sha256(manifest), types.manifest, manifest);
  return { digest, size: manifest.length, configDigest, layers: built.map((l) => l.digest) };
}

/**
 * The image the e2e suites and bench/containers run: a busybox-static root filesystem built under
 * `scratchDir` (as `rootfs`, for later use) and pushed as busybox:latest with `sh` as its command.
 * Returns the reference to run it by.
 */
export async function pushBusyboxImage(registry: Pick<Registry, 'host'>, scratchDir: string): Promise<string> {
  const rootfs = join(scratchDir, 'rootfs');
  buildBusyboxRootfs(rootfs);
  await pushImage(registry.host, 'busybox', 'latest', [rootfs], { config: { Cmd: ['sh'], Env: ['PATH=/bin'] } });
  return `${registry.host}/busybox:latest`;
}

/** Pushes an OCI index over manifests already in the repository. */
export async function pushIndex(
  host: string, repo: string, tag: string,
  entries: readonly { digest: string; size: number; platform: { os: string; architecture: string; variant?: string }; mediaType?: string }[],
): Promise<string> {
  const mediaType = 'application/vnd.oci.image.index.v1+json';
  const body = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: entries.map((e) => ({ mediaType: e.mediaType ?? 'application/vnd.docker.distribution.manifest.v2+json', digest: e.digest, size: e.size, platform: e.platform })),
  }));
  return pushManifest(host, repo, tag, mediaType, body);
}

/** Where the registry keeps a blob's bytes (to corrupt them in tests). */
export function registryBlobPath(registry: Registry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

/** The smallest useful Linux root filesystem: Debian's static busybox with its applets linked, /etc/passwd, /tmp. */
export function buildBusyboxRootfs(dir: string, applets: readonly string[] = ['sh', 'ls', 'cat', 'echo', 'sleep', 'ps', 'id', 'env', 'mkdir', 'rm', 'touch', 'wget', 'hostname', 'ip', 'ping', 'nc', 'httpd', 'top']): void {
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** A one-layer `docker save` tar of `rootfsDir` (the classic layout: <id>.json, <layer>/layer.tar, manifest.json). */
export function dockerSaveTar(rootfsDir: string, out: string, image: { repoTag: string; cmd: string[] }): void {
  const stage = mkdtempSync(join(tmpdir(), 'kumo-save-'));
  try {
    const layer = execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '-C', rootfsDir, '-cf', '-', '.'], { maxBuffer: 256 << 20 });
    const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    mkdirSync(join(stage, 'layer0'));
    writeFileSync(join(stage, 'layer0', 'layer.tar'), layer);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: image.cmd, Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const id = createHash('sha256').update(config).digest('hex');
    writeFileSync(join(stage, `${id}.json`), config);
    writeFileSync(join(stage, 'manifest.json'), JSON.stringify([{ Config: `${id}.json`, RepoTags: [image.repoTag], Layers: ['layer0/layer.tar'] }]));
    execFileSync('tar', ['-C', stage, '-cf', out, '.']);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
