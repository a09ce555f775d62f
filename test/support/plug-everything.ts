/** A net driver for API tests that reports every desired port as plugged (the real driver is the integration tests'). */
import type { HostNetworkState, NetDriver, SyncReport } from '../../src/drivers/net/types.js';

export class PlugEverything implements NetDriver {
  async sync(desired: HostNetworkState): Promise<SyncReport> {
    return { activePorts: desired.ports.map((p) => p.id), failures: [], removed: [] };
  }
  async inventory() {
    return { bridges: [], links: [], namespaces: [], nftTables: [], dnsmasqPids: [], metadataProxyPids: [] };
  }
  async removeAll() {}
}
