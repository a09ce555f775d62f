/**
 * Live operations the API performs on a container's host (logs, exec, top, stats, archives):
 * the part of Zun that cannot be desired state. In all-in-one mode the runtime is in this
 * process; a container on another host would need that host's agent, which does not exist yet.
 * @module
 */
import type { ContainerRuntime, ExecResult, ImageStore, InteractiveSession, LogOptions, StoredImage } from '../drivers/oci/types.js';
import { zunError } from './context.js';

export interface HostRuntimeAccess {
  logs(host: string, id: string, options: LogOptions): Promise<string>;
  exec(host: string, id: string, args: readonly string[]): Promise<ExecResult>;
  execInteractive(host: string, id: string, args: readonly string[]): Promise<InteractiveSession>;
  kill(host: string, id: string, signal: string): Promise<void>;
  top(host: string, id: string): ReturnType<ContainerRuntime['top']>;
  stats(host: string, id: string): ReturnType<ContainerRuntime['stats']>;
  putArchive(host: string, id: string, path: string, tar: Buffer): Promise<void>;
  getArchive(host: string, id: string, path: string): Promise<Buffer>;
  pullImage(host: string, reference: string): Promise<StoredImage>;
  listImages(host: string): Promise<StoredImage[]>;
  removeImage(host: string, idOrName: string): Promise<void>;
  /** The hosts this API can reach (all-in-one: one). */
  readonly hosts: readonly string[];
}

export function localHostAccess(localHost: string, runtime: ContainerRuntime, images: ImageStore): HostRuntimeAccess {
  const here = (host: string) => {
    if (host !== localHost) throw zunError('ERR_CONFLICT', `Container host ${host} is not reachable from this API process.`);
    return runtime;
  };
  return {
    logs: (host, id, options) => here(host).logs(id, options),
    exec: (host, id, args) => here(host).exec(id, args, { timeoutMs: 60_000 }),
    execInteractive: (host, id, args) => here(host).execInteractive(id, args),
    kill: (host, id, signal) => here(host).kill(id, signal),
    top: (host, id) => here(host).top(id),
    stats: (host, id) => here(host).stats(id),
    putArchive: (host, id, path, tar) => here(host).putArchive(id, path, tar),
    getArchive: (host, id, path) => here(host).getArchive(id, path),
    pullImage: (host, reference) => (here(host), images.pull(reference)),
    listImages: (host) => (here(host), images.list()),
    removeImage: (host, idOrName) => (here(host), images.remove(idOrName)),
    hosts: [localHost],
  };
}
