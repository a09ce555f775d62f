/**
 * The Linux host-networking driver (bridges, VXLAN, veth/tap, nftables, dnsmasq, haproxy, namespaces).
 * @module
 */
export { createLinuxNetDriver } from './driver.js';
export { createCommandRunner, type CommandOptions, type CommandResult, type CommandRunner } from '../../../lib/command-runner.js';
export { createHostAccess, type DaemonKind, type DaemonProcess, type HostAccess } from './host-access.js';
export * as naming from './naming.js';
