/**
 * Named network namespaces for containers (`ip netns`), which the net driver then plugs a port
 * into. Named, not private to the container, so the network outlives a container restart and a
 * restarted agent finds it by name.
 * @module
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { KumoError } from '../../../errors.js';
import type { CommandRunner } from './command-runner.js';
import { NETNS_DIR } from './naming.js';

const exists = (p: string) => access(p).then(() => true, () => false);

export const netnsArgv = {
  add: (name: string) => ['ip', 'netns', 'add', name],
  // nsenter enters the network namespace only: `ip -n` also unshares the mount namespace and
  // remounts /sys, a copy of the host's mount table that grows with every container.
  loopbackUp: (name: string) => ['nsenter', `--net=${path.join(NETNS_DIR, name)}`, 'ip', 'link', 'set', 'lo', 'up'],
  delete: (name: string) => ['ip', 'netns', 'delete', name],
} as const;

/** Creates the namespace unless it exists, with its loopback up (runc only does that for namespaces it creates). */
export async function ensureNamedNetns(runner: CommandRunner, name: string): Promise<void> {
  if (!(await exists(path.join(NETNS_DIR, name)))) {
    const add = await runner.run(netnsArgv.add(name));
    // Lost a race with another caller: the namespace is there, which is what was asked.
    if (add.code !== 0 && !/File exists/i.test(add.stderr)) {
      throw new KumoError('ERR_INTERNAL', `ip netns add ${name}: ${add.stderr.trim()}`);
    }
  }
  const lo = await runner.run(netnsArgv.loopbackUp(name));
  if (lo.code !== 0) throw new KumoError('ERR_INTERNAL', `loopback up in ${name}: ${lo.stderr.trim()}`);
}

export async function removeNamedNetns(runner: CommandRunner, name: string): Promise<void> {
  if (!(await exists(path.join(NETNS_DIR, name)))) return;
  const del = await runner.run(netnsArgv.delete(name));
  if (del.code !== 0 && !/No such file/i.test(del.stderr)) {
    throw new KumoError('ERR_INTERNAL', `ip netns delete ${name}: ${del.stderr.trim()}`);
  }
}
