/**
 * Live operations on a server's host that the API answers directly (console log, serial console,
 * what the hypervisor offers). In all-in-one mode the agent's hypervisor driver is in this
 * process; the same interface would reach a remote agent.
 * @module
 */
import type { Hypervisor, HypervisorInfo, SerialConsole } from '../drivers/qemu/types.js';
import { novaError } from './context.js';

export interface ComputeHostAccess {
  /** The hosts with a hypervisor reachable from here. */
  hosts(): readonly string[];
  consoleLog(host: string, instanceId: string, tailBytes?: number): Promise<string>;
  openSerialConsole(host: string, instanceId: string): Promise<SerialConsole>;
  info(host: string): Promise<HypervisorInfo>;
}

export function localComputeAccess(hostName: string, hypervisor: Hypervisor): ComputeHostAccess {
  const check = (host: string) => {
    if (host !== hostName) throw novaError('ERR_CONFLICT', `Compute host ${host} is not reachable from this API.`);
  };
  let info: Promise<HypervisorInfo> | undefined;
  return {
    hosts: () => [hostName],
    async consoleLog(host, id, tailBytes) {
      check(host);
      return hypervisor.consoleLog(id, { tailBytes });
    },
    async openSerialConsole(host, id) {
      check(host);
      return hypervisor.openSerialConsole(id);
    },
    info(host) {
      check(host);
      return (info ??= hypervisor.probe());
    },
  };
}
