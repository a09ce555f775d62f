/**
 * The network service's controller: plan this host's data plane from the store, let the net
 * driver converge the host to it, and record what it observed. The agent runs it.
 * @module
 */
import type { Controller } from '../agent/agent.js';
import type { NetDriver } from '../drivers/net/types.js';
import { networkRevision } from './context.js';
import type { NetworkDeps } from './context.js';
import { planHostNetwork, recordHostNetworkStatus } from './host-state.js';
import type { HostScope } from './host-state.js';

export function networkController(deps: NetworkDeps, scope: HostScope, driver: NetDriver): Controller {
  const log = deps.logger.child({ host: scope.host });
  return {
    name: 'network',
    revision: () => networkRevision(deps.db),
    async reconcile() {
      const t0 = performance.now();
      const plan = await planHostNetwork(deps, scope);
      const t1 = performance.now();
      const report = await driver.sync(plan.state);
      const t2 = performance.now();
      for (const f of report.failures) log.warn({ resource: f.resourceId, reason: f.message }, 'could not converge');
      if (report.removed.length) log.info({ removed: report.removed }, 'removed host objects nothing wants');
      await recordHostNetworkStatus(deps, scope, plan, report);
      log.debug({ planMs: Math.round(t1 - t0), syncMs: Math.round(t2 - t1), recordMs: Math.round(performance.now() - t2) }, 'network pass');
    },
  };
}
