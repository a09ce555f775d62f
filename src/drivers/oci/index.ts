/**
 * The one place that knows the OCI driver implementations (container runtimes; image stores to
 * come) and creates them.
 * @module
 */
import type { Logger } from '../../log.js';
import { createRuncContainerRuntime, type RuntimeDeps } from './runtime/index.js';
import type { ContainerRuntime, ContainerRuntimeOptions } from './types.js';

export type * from './types.js';
/** The image store has one implementation: distribution client, layer store, overlay root filesystems. */
export { createImageStore, imageStoreMountRoots } from './image/index.js';
export type { RuntimeDeps } from './runtime/index.js';

export const CONTAINER_RUNTIMES = {
  runc: (options: ContainerRuntimeOptions, logger: Logger, deps?: RuntimeDeps): ContainerRuntime => createRuncContainerRuntime(options, logger, deps),
} as const;

export type ContainerRuntimeKind = keyof typeof CONTAINER_RUNTIMES;

export function createContainerRuntime(kind: ContainerRuntimeKind, options: ContainerRuntimeOptions, logger: Logger, deps?: RuntimeDeps): ContainerRuntime {
  return CONTAINER_RUNTIMES[kind](options, logger, deps);
}
