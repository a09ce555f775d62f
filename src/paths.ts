/**
 * Where things live in the data directory, and first-start secrets. Kept free of heavy imports:
 * `kumo up` uses it before it loads the server.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface KumoPaths {
  secretsDir: string;
  adminPasswordFile: string;
  fernetKeysDir: string;
  cloudsYaml: string;
  openrc: string;
  /** The net driver's pid files, dnsmasq configs and leases. */
  networkStateDir: string;
  /** Files Kumo writes for each container (hosts, resolv.conf, hostname). */
  containerFilesDir: string;
  /** runc's root, conmon's pid/exit files, bundles and logs. */
  containerRuntimeDir: string;
  /** Blobs, unpacked layers, image records and containers' upper layers. */
  imageStoreDir: string;
  /** Glance image data (`<id>` files), upload temp files and the glance-direct staging area. */
  glanceImagesDir: string;
  /** One directory per VM (spec, QEMU pidfile and sockets, console log, overlay disks) and the KVM probe verdict. */
  vmStateDir: string;
  /** Glance images cached as VM base disks (one file per image and host). */
  vmImageCacheDir: string;
  /** Snapshots of VM disks on their way to the image service. */
  vmSnapshotDir: string;
  /** Volumes exported on their way to the image service (upload to image). */
  volumeExportDir: string;
  /** The block storage driver's own: volume and snapshot files, container mounts. */
  volumeStateDir: string;
  /** The UNIX socket Nova's metadata service listens on (the network driver's proxies forward to it). */
  metadataSocket: string;
}

export function kumoPaths(dataDir: string): KumoPaths {
  const secretsDir = join(dataDir, 'secrets');
  return {
    secretsDir,
    adminPasswordFile: join(secretsDir, 'admin-password'),
    fernetKeysDir: join(secretsDir, 'fernet-keys'),
    cloudsYaml: join(dataDir, 'clouds.yaml'),
    openrc: join(dataDir, 'admin-openrc.sh'),
    networkStateDir: join(dataDir, 'network'),
    containerFilesDir: join(dataDir, 'containers', 'files'),
    containerRuntimeDir: join(dataDir, 'containers', 'runtime'),
    imageStoreDir: join(dataDir, 'images'),
    glanceImagesDir: join(dataDir, 'glance-images'),
    vmStateDir: join(dataDir, 'vms'),
    vmImageCacheDir: join(dataDir, 'vm-images'),
    vmSnapshotDir: join(dataDir, 'vm-snapshots'),
    volumeExportDir: join(dataDir, 'volume-exports'),
    volumeStateDir: join(dataDir, 'volumes'),
    metadataSocket: socketPath(join(dataDir, 'run', 'metadata.sock'), dataDir),
  };
}

/**
 * A UNIX socket path that fits sockaddr_un (107 bytes): `preferred` when it does, else a short
 * path under /run derived from the data dir, so the same data dir always gets the same socket.
 */
export function socketPath(preferred: string, dataDir: string): string {
  if (preferred.length <= 107) return preferred;
  return join('/run/kumo', createHash('sha256').update(dataDir).digest('hex').slice(0, 12), basename(preferred));
}

/** Creates the data and secrets directories (0700) and returns the admin password, generating it (0600) on first start. */
export function ensureAdminPassword(dataDir: string): { value: string; created: boolean } {
  const paths = kumoPaths(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(paths.secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(paths.secretsDir, 0o700);
  const file = paths.adminPasswordFile;
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), created: false };
  const value = randomBytes(18).toString('base64url');
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, created: true };
}
