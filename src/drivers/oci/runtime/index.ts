/**
 * The runc + conmon container runtime.
 * @module
 */
export { createRuncContainerRuntime, EXEC_TIMEOUT_EXIT_CODE, findExecutable, type RuntimeDeps } from './runtime.js';
export { createCommandRunner, type CommandOptions, type CommandResult, type CommandRunner } from './command-runner.js';
export { createConmonLauncher, type ConmonLauncher, type SyncResult } from './conmon.js';
export * as naming from './naming.js';
