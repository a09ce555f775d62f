/**
 * The Linux implementation of `NetDriver`: bridges, VXLAN, veth/tap ports, nftables security
 * groups, dnsmasq DHCP namespaces and router namespaces, converged by `sync`.
 *
 * One sync reads the host (three or four tool runs, in parallel where possible), or, when it only
 * adds ports or DHCP hosts to what the last sync made true, plans against a model of that
 * (host-model.ts) and reads nothing; it plans (pure, see plan.ts) and applies: the host ruleset with one `nft -f` (before any link comes up, so a
 * filtered port is never plugged unfiltered; only element changes when the ruleset's frame is the
 * one applied last), every link and namespace change with one `ip -force -batch` (resumed after a
 * line whose namespace vanished meanwhile), the static addresses of new far ends with one script
 * (endpoints.ts), VXLAN flood entries with one `bridge -batch`, then the insides of the DHCP and
 * router namespaces that are new or changed, and the metadata proxy (haproxy) in each DHCP namespace
 * when a metadata socket is configured (see metadata-proxy.ts). A sync that changes nothing runs the reads and two
 * `nft list set` probes (see nft-host.ts), nothing else.
 * @module
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KumoError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { HostInventory, HostNetworkState, NetDriver, NetDriverOptions, NetworkSpec, SyncReport } from '../types.js';
import { batchFailures, runBatch, type CommandBatch } from './command-batch.js';
import { createCommandRunner, isNotInstalled, type CommandRunner } from '../../../lib/command-runner.js';
import { assignZones } from './conntrack-zones.js';
import {
  buildDhcpInnerBatch,
  buildDnsmasqArgv,
  buildHostsFile,
  buildOptsFile,
  dhcpPaths,
  servedSubnets,
  type DhcpPaths,
} from './dhcp.js';
import { endpointFailures, endpointScript, NETNS_DIR } from './endpoints.js';
import { createHostAccess, type DaemonKind, type DaemonProcess, type HostAccess } from './host-access.js';
import { buildHaproxyArgv, buildHaproxyConfig, metadataProxyPaths, metadataSocketProblem } from './metadata-proxy.js';
import { readHost, readNftTables, type HostSnapshot, type LinkState } from './host-state.js';
import { modelHost } from './host-model.js';
import { elementChangeScript, hostRulesetScript, rulesetRevision, type HostRuleset } from './nft-host.js';
import { isValidOwner, LINK_PREFIX, nftTableName, parseLinkAlias, parseNamespaceName, parseStateEntry, STATE_FILE, tapName } from './naming.js';
import { buildPlan, type DhcpIntent, type Plan, type RouterIntent } from './plan.js';
import { buildRouterInnerBatch, buildRouterRuleset, ROUTER_SYSCTLS, routerFingerprint, routerRulesetScript } from './router.js';

const EMPTY: HostNetworkState = { networks: [], ports: [], securityGroups: [], routers: [] };
const STOP_TIMEOUT_MS = 5_000;
const FULL_APPLY_EVERY_MS = 300_000;
/** How long syncs that only add ports (or DHCP hosts) may plan against a model of the host before it is read whole again. */
const FULL_READ_EVERY_MS = 30_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Writes the file unless it already has this content; true when it changed. */
async function writeIfChanged(file: string, content: string): Promise<boolean> {
  let current: string | null = null;
  try {
    current = await readFile(file, 'utf8');
  } catch {
    current = null;
  }
  if (current === content) return false;
  await writeFile(file, content, { mode: 0o644 });
  return true;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function batchError(batch: CommandBatch, result: { code: number; stdout: string; stderr: string }): string | null {
  const failures = batchFailures(batch.lines, result);
  return failures.size ? [...failures.values()].join('; ') : null;
}

/**
 * Creates the driver. `exec` runs host tools (a fake in unit tests); `host` reads namespace
 * identities and processes (likewise replaceable).
 */
export interface LinuxNetDriverTuning {
  /** How long syncs that only add ports (or DHCP hosts) plan against a model of the host (default 30 s). */
  readonly fullReadEveryMs?: number;
}

export function createLinuxNetDriver(
  options: NetDriverOptions,
  logger: Logger,
  exec: CommandRunner = createCommandRunner(),
  host: HostAccess = createHostAccess(),
  tuning: LinuxNetDriverTuning = {},
): NetDriver {
  const fullReadEveryMs = tuning.fullReadEveryMs ?? FULL_READ_EVERY_MS;
  const owner = options.owner;
  if (!isValidOwner(owner)) throw new KumoError('ERR_VALIDATION', `net driver owner must be 1-8 characters [a-z0-9], got ${JSON.stringify(owner)}`);
  const socketProblem = options.metadataSocket === undefined ? null : metadataSocketProblem(options.metadataSocket);
  if (socketProblem) throw new KumoError('ERR_VALIDATION', socketProblem);
  const stateDir = path.resolve(options.stateDir);
  const zonesFile = path.join(stateDir, STATE_FILE.zones);
  const log = logger.child({ component: 'net-driver', owner });
  // The ruleset this instance applied last. While both tables carry its frame's marker, a new
  // ruleset with the same frame is applied as element changes (see nft-host.ts); the whole ruleset
  // is applied when the frame changes, a change fails, and at least every FULL_APPLY_EVERY_MS, so
  // edits inside the tables by hand do not outlive that. Deleted tables are re-made on the next sync.
  let lastRuleset: HostRuleset | null = null;
  let lastFullApply = 0;
  // Until one full table listing has succeeded, nft may be missing, and stale tables of this
  // owner (other families, an older process) are still to be found and reported.
  let tablesListed = false;
  // This instance has seen (or made) the owner's host tables absent: with nothing to filter, no
  // need to list the tables again (a listing costs as much as every ruleset on the host).
  let tablesGone = false;
  let processesScanned = false;
  /**
   * The desired state the last sync made true (it had no failure), when the whole host was last
   * read, and the links of that read that are not this owner's: what a model of the host is made of.
   */
  let settled: { readonly desired: HostNetworkState; readonly desiredKey: string; readonly readAt: number; readonly foreignLinks: ReadonlyMap<string, LinkState> } | null = null;

  const ownTables = (tables: readonly { family: string; name: string }[]) => tables.filter((t) => t.name === nftTableName(owner));

  /** True when both host tables exist and carry the revision marker of `ruleset`. */
  async function rulesetInPlace(ruleset: HostRuleset): Promise<boolean> {
    const revision = rulesetRevision(ruleset.frame);
    if (!revision) return false;
    const probes = await Promise.all(['inet', 'bridge'].map((family) => exec.run(['nft', 'list', 'set', family, nftTableName(owner), revision]).catch(() => null)));
    return probes.every((r) => r?.code === 0);
  }

  /** The network gets a metadata proxy: one is configured, and its DHCP namespace serves an IPv4 subnet. */
  const wantsMetadataProxy = (network: NetworkSpec): boolean =>
    options.metadataSocket !== undefined && network.dhcpPort !== null && servedSubnets(network, network.dhcpPort).length > 0;

  async function daemonPids(): Promise<Pick<HostInventory, 'dnsmasqPids' | 'metadataProxyPids'>> {
    const daemons = await host.listDaemons(stateDir);
    const pids = (kind: DaemonKind) => daemons.filter((p) => p.kind === kind).map((p) => p.pid).sort((a, b) => a - b);
    return { dnsmasqPids: pids('dnsmasq'), metadataProxyPids: pids('haproxy') };
  }

  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function stopDaemon(pid: number): Promise<void> {
    if (!host.signal(pid, 'SIGTERM')) return;
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!(await host.isAlive(pid))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    host.signal(pid, 'SIGKILL');
  }

  /** The daemon of this kind and network to keep (the one its pid file names, or the only one); stops the others. */
  async function currentDaemon(running: readonly DaemonProcess[], kind: DaemonKind, networkId: string, pidFile: string): Promise<DaemonProcess | undefined> {
    const mine = running.filter((p) => p.kind === kind && p.networkId === networkId);
    const fromFile = await host.readPidFile(pidFile);
    const current = mine.find((p) => p.pid === fromFile) ?? (mine.length === 1 ? mine[0] : undefined);
    for (const p of mine) if (p !== current) await stopDaemon(p.pid);
    return current;
  }

  async function applyDhcp(intent: DhcpIntent, running: readonly DaemonProcess[]): Promise<void> {
    const { network, port, namespace } = intent;
    const paths = dhcpPaths(path.join(stateDir, STATE_FILE.dhcpDir(network.id)));
    await mkdir(paths.dir, { recursive: true, mode: 0o755 });
    const nsInode = await host.namespaceInode(namespace);
    if (nsInode === null) throw new Error(`namespace ${namespace} does not exist`);
    const metadata = wantsMetadataProxy(network);

    // The interface inside (MAC, MTU, addresses), when the namespace or veth is new or any of it changed.
    const inner = buildDhcpInnerBatch(network, port, metadata);
    const script = inner.script();
    const applied = await readJson<{ nsInode: number; script: string }>(paths.appliedFile);
    let restart = false;
    if (intent.fresh || applied?.nsInode !== nsInode || applied.script !== script) {
      await rm(paths.appliedFile, { force: true });
      const error = batchError(inner, await exec.run(['ip', '-n', namespace, '-force', '-batch', '-'], { input: script }));
      if (error) throw new Error(error);
      await writeFile(paths.appliedFile, JSON.stringify({ nsInode, script }));
      // dnsmasq binds to the interface and picks its subnets from its addresses at start.
      restart = true;
    }
    const hostsChanged = await writeIfChanged(paths.hostsFile, buildHostsFile(network, port));
    const optsChanged = await writeIfChanged(paths.optsFile, buildOptsFile(network, port, metadata));
    await applyDnsmasq(intent, paths, nsInode, { restart, reload: hostsChanged || optsChanged }, running);
    // After the addresses: haproxy binds to the metadata address (and is restarted with them, like dnsmasq).
    await applyMetadataProxy(intent, paths.dir, nsInode, { wanted: metadata, restart }, running);
  }

  /** Starts, keeps, reloads (`changed.reload`) or restarts (`changed.restart`) the network's dnsmasq. */
  async function applyDnsmasq(intent: DhcpIntent, paths: DhcpPaths, nsInode: number, changed: { restart: boolean; reload: boolean }, running: readonly DaemonProcess[]): Promise<void> {
    const { network, port, namespace } = intent;
    const argv = buildDnsmasqArgv(network, port, paths);
    const current = await currentDaemon(running, 'dnsmasq', network.id, paths.pidFile);
    if (current && !changed.restart && sameList(current.argv, argv) && current.netnsInode === nsInode) {
      if (changed.reload) {
        // dnsmasq re-reads --dhcp-hostsfile and --dhcp-optsfile on SIGHUP.
        host.signal(current.pid, 'SIGHUP');
        log.debug({ networkId: network.id, pid: current.pid }, 'dnsmasq reloaded');
      }
      return;
    }
    if (current) await stopDaemon(current.pid);
    await rm(paths.pidFile, { force: true });
    if (servedSubnets(network, port).length === 0) return;
    // dnsmasq daemonizes (own session, reparented to init): it outlives this process, and its
    // parent exits only once it is serving or has failed, so the exit status is meaningful.
    const result = await exec.run(['ip', 'netns', 'exec', namespace, ...argv], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(`dnsmasq did not start (${result.code}): ${result.stderr.trim()}`);
    log.info({ networkId: network.id, namespace }, 'dnsmasq started');
  }

  /** Starts, keeps or restarts (`how.restart`, new config or namespace) the network's metadata proxy, or stops it when not `how.wanted`. */
  async function applyMetadataProxy(intent: DhcpIntent, networkDir: string, nsInode: number, how: { wanted: boolean; restart: boolean }, running: readonly DaemonProcess[]): Promise<void> {
    const { network, namespace } = intent;
    const paths = metadataProxyPaths(networkDir);
    const current = await currentDaemon(running, 'haproxy', network.id, paths.pidFile);
    if (!how.wanted || !options.metadataSocket) {
      if (current) await stopDaemon(current.pid);
      await rm(paths.pidFile, { force: true });
      await rm(paths.configFile, { force: true });
      return;
    }
    const configChanged = await writeIfChanged(paths.configFile, buildHaproxyConfig(network.id, options.metadataSocket));
    const argv = buildHaproxyArgv(paths);
    if (current && !how.restart && !configChanged && sameList(current.argv, argv) && current.netnsInode === nsInode) return;
    if (current) await stopDaemon(current.pid);
    await rm(paths.pidFile, { force: true });
    // nsenter enters the network namespace only (`ip netns exec` also copies the mount table).
    const result = await exec.run(['nsenter', `--net=${NETNS_DIR}/${namespace}`, ...argv], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(`haproxy did not start (${result.code}): ${result.stderr.trim()}`);
    log.info({ networkId: network.id, namespace, restarted: current !== undefined }, 'metadata proxy started');
  }

  async function applyRouter(intent: RouterIntent, desired: HostNetworkState): Promise<void> {
    const { router, namespace } = intent;
    const file = path.join(stateDir, STATE_FILE.routerFile(router.id));
    const mtus = new Map(desired.networks.map((n) => [n.id, n.mtu]));
    const fingerprint = routerFingerprint(owner, router, mtus);
    const nsInode = await host.namespaceInode(namespace);
    if (nsInode === null) throw new Error(`namespace ${namespace} does not exist`);
    const stored = await readJson<{ fingerprint: string; nsInode: number }>(file);
    if (!intent.fresh && stored?.fingerprint === fingerprint && stored.nsInode === nsInode) return;
    await rm(file, { force: true });
    const inNs = ['ip', 'netns', 'exec', namespace];
    const sysctl = await exec.run([...inNs, 'tee', ...ROUTER_SYSCTLS], { input: '1\n' });
    if (sysctl.code !== 0) throw new Error(`enabling forwarding: ${sysctl.stderr.trim()}`);
    const batch = buildRouterInnerBatch(router, mtus);
    const error = batchError(batch, await exec.run(['ip', '-n', namespace, '-force', '-batch', '-'], { input: batch.script() }));
    if (error) throw new Error(error);
    const nft = await exec.run([...inNs, 'nft', '-f', '-'], { input: routerRulesetScript(owner, buildRouterRuleset(owner, router)) });
    if (nft.code !== 0) throw new Error(`router nftables: ${nft.stderr.trim()}`);
    await writeFile(file, JSON.stringify({ fingerprint, nsInode }));
    log.info({ routerId: router.id, namespace }, 'router configured');
  }

  async function converge(desired: HostNetworkState): Promise<SyncReport> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Where a sync's time goes, for the debug log (bench/containers reads it).
    const steps: Record<string, number> = {};
    let stepStart = performance.now();
    const step = (name: string) => {
      const now = performance.now();
      steps[name] = Math.round((steps[name] ?? 0) + now - stepStart);
      stepStart = now;
    };
    const storedZones = (await readJson<Record<string, number>>(zonesFile)) ?? {};
    const zones = assignZones(storedZones, desired.networks.map((n) => n.id), owner);
    const conntrackOnAllBridges = await host.bridgeNfCallIptables();
    const planFor = (hostNow: HostSnapshot, nftAvailable: boolean) => buildPlan({
      owner, desired, host: hostNow, physicalBridges: options.physicalBridges, vxlanLocalIp: options.vxlanLocalIp, zones, conntrackOnAllBridges, nftAvailable,
    });
    // Reading every link and namespace of the host, and planning around them, is a pass's largest
    // cost once there are thousands (two links and a namespace per container). Between full reads,
    // a sync that only adds ports plans against the model of what the last sync left (host-model.ts):
    // its plan then holds the new ports' lines alone (or only a new DHCP host). Anything else (the
    // same desired state again, which is how a resync repairs drift; a removal; a change to what
    // exists; a failure before) reads the whole host, as does the first sync after fullReadEveryMs.
    let fromModel = false;
    let snapshot: HostSnapshot | null = null;
    let plan: Plan | null = null;
    const desiredKey = JSON.stringify(desired);
    if (settled && settled.desiredKey !== desiredKey && tablesListed && Date.now() - settled.readAt < fullReadEveryMs) {
      const model = modelHost({ owner, desired: settled.desired, foreignLinks: settled.foreignLinks, physicalBridges: options.physicalBridges, vxlanLocalIp: options.vxlanLocalIp });
      const before = new Set(settled.desired.ports.map((p) => p.id));
      const added = new Set(desired.ports.filter((p) => !before.has(p.id)).map((p) => p.id));
      // The namespaces of ports added since were made by their runtime: all the plan asks is whether they exist.
      const namespaces = new Map(model.namespaces);
      for (const port of desired.ports) {
        if (added.has(port.id) && port.plug.kind === 'veth' && !namespaces.has(port.plug.netns) && (await host.namespaceInode(port.plug.netns)) !== null) namespaces.set(port.plug.netns, null);
      }
      const candidate = planFor({ ...model, namespaces }, true);
      const onlyNewThings = candidate.fdb.size === 0 && candidate.removed.length === 0 && [...candidate.dhcp, ...candidate.routers].every((i) => !i.fresh)
        && [...candidate.ip.resourceIds(), ...candidate.failures.keys()].every((id) => added.has(id));
      if (onlyNewThings) {
        fromModel = true;
        snapshot = { ...model, namespaces };
        plan = candidate;
      }
    }
    const listed = fromModel || tablesListed ? undefined : await readNftTables(exec, []);
    if (!snapshot || !plan) {
      snapshot = await readHost(exec, {
        // In parallel with the other reads when vxlan networks with peers are wanted (a vxlan network on
        // one host has no device, so no flood entries); otherwise only if one of ours is left to clean up.
        readFlood: desired.networks.some((n) => n.type === 'vxlan' && n.vxlanPeers.length > 0) || ((links) => [...links.values()].some((l) => l.kind === 'vxlan' && parseLinkAlias(l.alias)?.owner === owner)),
        isOurVxlan: (dev) => dev.startsWith(LINK_PREFIX.vxlan),
      });
      plan = planFor(snapshot, tablesListed || listed !== null);
    }
    const readAt = fromModel ? settled!.readAt : Date.now();
    const foreignLinks = fromModel ? settled!.foreignLinks : new Map([...snapshot.links].filter(([, l]) => parseLinkAlias(l.alias)?.owner !== owner));
    const failures = new Map(plan.failures);
    step('readAndPlan');
    const fail = (id: string, text: string) => failures.set(id, failures.has(id) ? `${failures.get(id)}; ${text}` : text);
    const removed: string[] = [];

    // dnsmasq and haproxy of networks that no longer want them here, before their namespaces go.
    const wantsDhcp = new Set(desired.networks.filter((n) => n.dhcpPort).map((n) => n.id));
    const wantsProxy = new Set(desired.networks.filter(wantsMetadataProxy).map((n) => n.id));
    // The first sync of an instance scans /proc (a crash may have left a daemon without its pid
    // file); later ones trust the pid files, checked against /proc/<pid>/cmdline.
    const running = processesScanned ? await host.daemonsFromPidFiles(stateDir) : await host.listDaemons(stateDir);
    processesScanned = true;
    const stillRunning: DaemonProcess[] = [];
    for (const p of running) {
      if ((p.kind === 'dnsmasq' ? wantsDhcp : wantsProxy).has(p.networkId)) {
        stillRunning.push(p);
        continue;
      }
      await stopDaemon(p.pid);
      removed.push(`${p.kind}:${p.pid}`);
    }

    step('daemonsStop');
    // The ruleset first: a filtered port must never be up without its rules.
    let skip = new Set<string>();
    let tables = listed;
    const wanted = plan.ruleset;
    if (!wanted && tables === undefined && !tablesGone) tables = await readNftTables(exec, []);
    const staleTables = ownTables(tables ?? []).filter((t) => !wanted || (t.family !== 'inet' && t.family !== 'bridge'));
    const nft = async (script: string): Promise<string | null> => {
      try {
        const r = await exec.run(['nft', '-f', '-'], { input: script, timeoutMs: 120_000 });
        return r.code === 0 ? null : r.stderr.trim() || `exit status ${r.code}`;
      } catch (err) {
        return isNotInstalled(err) ? 'nft is not installed' : message(err);
      }
    };
    let applied = false;
    let error: string | null = null;
    if (wanted && lastRuleset && staleTables.length === 0 && Date.now() - lastFullApply < FULL_APPLY_EVERY_MS) {
      const change = elementChangeScript(owner, lastRuleset, wanted);
      // '' : the same ruleset; it is still there if its marker is (a deleted table is re-made).
      if (change === '' && (await rulesetInPlace(wanted))) applied = true;
      // A failed change (tables edited or deleted by hand) falls through to the whole ruleset.
      else if (change && (await nft(change)) === null) {
        lastRuleset = wanted;
        applied = true;
      }
    }
    if (!applied && (wanted || staleTables.length > 0)) {
      error = await nft(hostRulesetScript(owner, wanted?.text ?? ''));
      if (error) {
        lastRuleset = null;
        skip = new Set(plan.securedPorts);
        for (const id of plan.securedPorts) fail(id, `nftables: ${error}`);
        log.error({ error }, 'applying the host ruleset failed');
      } else {
        lastRuleset = wanted;
        lastFullApply = Date.now();
        tablesGone = !wanted;
        removed.push(...staleTables.map((t) => `nft:${t.family} ${t.name}`));
      }
    } else if (!wanted && tables) {
      tablesGone = true;
    }
    if (tables) tablesListed = true;

    step('nft');
    const ipBatch = skip.size ? plan.ip.without(skip) : plan.ip;
    if (ipBatch.size) {
      const r = await runBatch(ipBatch.lines, (script) => exec.run(['ip', '-force', '-batch', '-'], { input: script, timeoutMs: 300_000 }));
      for (const [id, text] of r.failures) fail(id, text);
      log.debug({ lines: ipBatch.size, runs: r.runs, failures: r.failures.size }, 'ip batch applied');
    }
    if (plan.fdb.size) {
      const r = await exec.run(['bridge', '-force', '-batch', '-'], { input: plan.fdb.script() });
      for (const [id, text] of batchFailures(plan.fdb.lines, r)) fail(id, text);
    }
    for (const r of plan.removed) if (!failures.has(r.resourceId)) removed.push(r.name);

    const endpoints = plan.staticEndpoints.filter((e) => !failures.has(e.portId));
    if (endpoints.length) {
      const r = await exec.run(['/bin/sh', '-s'], { input: endpointScript(endpoints), timeoutMs: 300_000 });
      for (const [id, text] of endpointFailures(endpoints, r)) fail(id, text);
    }
    // A static far end is configured only when its veth is made (a veth that exists counts as
    // plugged): one whose making or configuring failed goes whole, so the next sync makes it again.
    const unconfigured = plan.staticEndpoints.filter((e) => failures.has(e.portId));
    if (unconfigured.length) {
      await exec.run(['ip', '-force', '-batch', '-'], { input: unconfigured.map((e) => `link del dev ${tapName(e.portId)}\n`).join('') }).catch(() => undefined);
    }
    step('ip');
    for (const intent of plan.dhcp) {
      if (failures.has(intent.resourceId)) continue;
      try {
        await applyDhcp(intent, stillRunning);
      } catch (err) {
        fail(intent.resourceId, `dhcp: ${message(err)}`);
      }
    }
    for (const intent of plan.routers) {
      if (failures.has(intent.resourceId)) continue;
      try {
        await applyRouter(intent, desired);
      } catch (err) {
        fail(intent.resourceId, `router: ${message(err)}`);
      }
    }

    step('dhcpAndRouters');
    // State files of networks and routers that are gone.
    const wantedRouters = new Set(desired.routers.map((r) => r.id));
    for (const entry of await readdir(stateDir)) {
      const parsed = parseStateEntry(entry);
      if (!parsed) continue;
      const wanted = parsed.kind === 'dhcp' ? wantsDhcp.has(parsed.resourceId) : wantedRouters.has(parsed.resourceId);
      if (wanted) continue;
      await rm(path.join(stateDir, entry), { recursive: true, force: true });
      removed.push(`file:${entry}`);
    }
    const zonesJson = JSON.stringify(Object.fromEntries([...zones].sort()));
    if (zones.size === 0) await rm(zonesFile, { force: true });
    else if (JSON.stringify(Object.fromEntries(Object.entries(storedZones).sort())) !== zonesJson) await writeFile(zonesFile, zonesJson);

    step('files');
    // What this sync made true, for the next one's model; after a failure nothing is assumed.
    settled = failures.size === 0 ? { desired, desiredKey, readAt, foreignLinks } : null;
    log.debug({ steps, ports: desired.ports.length, ipLines: ipBatch.size, fromModel }, 'sync steps');
    const report: SyncReport = {
      activePorts: plan.portsUp.filter((id) => !failures.has(id)),
      failures: [...failures].map(([resourceId, text]) => ({ resourceId, message: text })),
      removed,
    };
    if (report.failures.length) log.warn({ failures: report.failures }, 'network sync left failures');
    if (removed.length) log.info({ removed }, 'removed orphans');
    return report;
  }

  return {
    sync: (desired) => serialize(() => converge(desired)),

    inventory: () =>
      serialize(async () => {
        const [snapshot, tables] = await Promise.all([readHost(exec, { readFlood: () => false, isOurVxlan: () => false }), readNftTables(exec, [])]);
        const ours = [...snapshot.links.values()].filter((l) => parseLinkAlias(l.alias)?.owner === owner);
        const inventory: HostInventory = {
          bridges: ours.filter((l) => l.kind === 'bridge').map((l) => l.name).sort(),
          links: ours.filter((l) => l.kind !== 'bridge').map((l) => l.name).sort(),
          namespaces: [...snapshot.namespaces.keys()].filter((n) => parseNamespaceName(n)?.owner === owner).sort(),
          nftTables: ownTables(tables ?? []).map((t) => `${t.family} ${t.name}`).sort(),
          ...(await daemonPids()),
        };
        return inventory;
      }),

    removeAll: () =>
      serialize(async () => {
        processesScanned = false;
        tablesGone = false;
        settled = null;
        const report = await converge(EMPTY);
        await rm(zonesFile, { force: true });
        if (report.failures.length) {
          throw new KumoError('ERR_INTERNAL', `could not remove everything: ${report.failures.map((f) => `${f.resourceId}: ${f.message}`).join('; ')}`);
        }
      }),
  };
}
