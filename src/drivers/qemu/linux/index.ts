/**
 * The QEMU hypervisor on Linux: detached qemu-system-x86_64 processes controlled over QMP.
 * @module
 */
export { createQemuHypervisor, validateSpec, type QemuDeps } from './driver.js';
export { buildQemuArgv, instancePaths, processLabel } from './argv.js';
export { connectQmp, withQmp, QmpCommandError, type QmpConnection, type QmpEvent } from './qmp.js';
export { busyboxInitramfs, findGuestKernel, kernelModules } from './initramfs.js';
