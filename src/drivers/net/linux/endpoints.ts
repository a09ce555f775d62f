/**
 * The static addresses of new far ends (containers have no DHCP client), configured inside their
 * namespaces by one `/bin/sh` script per sync: for each, `nsenter --net=… ip -force -batch -`.
 *
 * Why not `ip -n NS` or the batch's `netns exec`: iproute2 switches the mount namespace as well
 * (unshare, then remount /sys), and copying the mount table grows with the host's mounts. With 1000
 * containers (an overlay and a /run/netns bind mount each) and runc making namespaces alongside,
 * that was 28–56 ms per far end in bench/containers, one after the other. nsenter --net only
 * enters the network namespace (2 ms with 2000 mounts, against 5 ms for `ip -n` idle). One script
 * for all of them costs Kumo one process per sync however many containers arrive.
 * @module
 */
import type { CommandResult } from '../../../lib/command-runner.js';
import { assertSafeTokens } from './command-batch.js';

/** Where `ip netns add` keeps its namespaces. */
export const NETNS_DIR = '/run/netns';

export interface EndpointWork {
  readonly portId: string;
  readonly netns: string;
  /** `ip -batch` lines, every token safe for the batch parser (see command-batch.ts). */
  readonly lines: readonly string[];
}

const MARK = 'kumo-endpoint';
const HEREDOC = 'KUMO_ENDPOINT_EOF';

/** The script: each endpoint's batch, then a marker on stderr with its index and exit status. */
export function endpointScript(endpoints: readonly EndpointWork[]): string {
  const parts: string[] = [];
  endpoints.forEach((e, i) => {
    assertSafeTokens([e.netns]);
    for (const line of e.lines) assertSafeTokens(line.split(' '));
    parts.push(`nsenter --net=${NETNS_DIR}/${e.netns} ip -force -batch - <<'${HEREDOC}'`, ...e.lines, HEREDOC, `echo "${MARK} ${i} $?" >&2`);
  });
  return parts.join('\n') + '\n';
}

/** Port id → error for every endpoint whose batch failed or that the script did not reach. */
export function endpointFailures(endpoints: readonly EndpointWork[], result: CommandResult): Map<string, string> {
  const failures = new Map<string, string>();
  const done = new Set<number>();
  let pending: string[] = [];
  for (const raw of result.stderr.split('\n')) {
    const m = new RegExp(`^${MARK} (\\d+) (\\d+)$`).exec(raw.trim());
    if (!m) {
      if (raw.trim()) pending.push(raw.trim());
      continue;
    }
    const e = endpoints[Number(m[1])];
    if (e) {
      done.add(Number(m[1]));
      if (m[2] !== '0') failures.set(e.portId, `addresses in ${e.netns}: ${pending.join(' ') || `exit status ${m[2]}`}`);
    }
    pending = [];
  }
  endpoints.forEach((e, i) => {
    if (!done.has(i)) failures.set(e.portId, `addresses in ${e.netns}: not configured (${pending.join(' ') || `script exit status ${result.code}`})`);
  });
  return failures;
}
