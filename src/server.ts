/**
 * Assembling a running Kumo from a config: data directory, secrets, store, migrations,
 * bootstrap, the app, and a clean shutdown. `kumo up` and the e2e tests both use this.
 * @module
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { KumoConfig } from './config.js';
import { ensureAdminPassword, kumoPaths } from './paths.js';
import type { KumoPaths } from './paths.js';
import { buildApp, SERVICE_PREFIXES } from './http/app.js';
import type { Logger } from './log.js';
import { openDatabase } from './store/database.js';
import type { Db } from './store/database.js';
import { migrateToLatest } from './store/migrate.js';
import { ChangeSignal } from './store/revision.js';
import { bootstrapIdentity } from './identity/bootstrap.js';
import type { CatalogService } from './identity/bootstrap.js';
import { newHexId } from './identity/context.js';
import type { IdentityDeps } from './identity/context.js';
import { KeyRepository } from './identity/key-repository.js';
import { hashPassword } from './identity/password.js';
import { startAgent } from './agent/agent.js';
import type { RunningAgent } from './agent/agent.js';
import type { NetDriver } from './drivers/net/types.js';
import { newUuid } from './network/context.js';
import type { NetworkDeps } from './network/context.js';
import { networkController } from './network/controller.js';
import type { ContainerDeps } from './container/context.js';
import type { ComputeDeps } from './compute/context.js';
import { computeController } from './compute/controller.js';
import { localComputeAccess } from './compute/host-access.js';
import { hostCapacity, registerComputeHost } from './compute/hosts.js';
import { buildMetadataApp } from './compute/metadata/service.js';
import type { Hypervisor } from './drivers/qemu/types.js';
import { containerController } from './container/controller.js';
import { localHostAccess } from './container/host-access.js';
import type { PlacementDeps } from './placement/context.js';
import type { ContainerRuntime, ImageStore } from './drivers/oci/types.js';
import { findBinary } from './lib/find-binary.js';
import { newImageId } from './image/context.js';
import type { ImageDeps } from './image/context.js';
import { recoverImageStore } from './image/image-data.js';
import type { BlockStorage } from './drivers/block/types.js';
import { newVolumeId } from './volume/context.js';
import type { VolumeDeps } from './volume/context.js';
import { volumeController } from './volume/controller.js';

export function catalogServices(config: KumoConfig): CatalogService[] {
  return [
    { type: 'identity', name: 'keystone', description: 'Kumo identity (Keystone v3)', url: `${config.publicUrl}${SERVICE_PREFIXES.identity}/v3` },
    // openstacksdk appends /v2.0 itself: the catalog URL is the service root.
    { type: 'network', name: 'neutron', description: 'Kumo networking (Neutron v2.0)', url: `${config.publicUrl}${SERVICE_PREFIXES.network}` },
    // zunclient strips a trailing /v1 and finds the version document at what is left.
    { type: 'container', name: 'zun', description: 'Kumo containers (Zun v1)', url: `${config.publicUrl}${SERVICE_PREFIXES.container}/v1` },
    { type: 'compute', name: 'nova', description: 'Kumo compute (Nova v2.1)', url: `${config.publicUrl}${SERVICE_PREFIXES.compute}/v2.1` },
    { type: 'placement', name: 'placement', description: 'Kumo placement (resource providers, allocations)', url: `${config.publicUrl}${SERVICE_PREFIXES.placement}` },
    // The service root: clients discover /v2 from its version document.
    { type: 'image', name: 'glance', description: 'Kumo images (Glance v2)', url: `${config.publicUrl}${SERVICE_PREFIXES.image}` },
    // Both names, as devstack registers them: OSC's cinderclient looks for volumev3, the SDK for block-storage.
    { type: 'block-storage', name: 'cinder', description: 'Kumo block storage (Cinder v3)', url: `${config.publicUrl}${SERVICE_PREFIXES.volume}/v3/%(project_id)s` },
    { type: 'volumev3', name: 'cinderv3', description: 'Kumo block storage (Cinder v3)', url: `${config.publicUrl}${SERVICE_PREFIXES.volume}/v3/%(project_id)s` },
  ];
}

export interface RunningKumo {
  app: FastifyInstance;
  db: Db;
  identity: IdentityDeps;
  adminPassword: string;
  paths: KumoPaths;
  /** The local agent, when this process drives its host. */
  agent: RunningAgent | undefined;
  /** The volume service's deps: what the compute and container services get to call src/volume/attachments.ts. */
  volume: VolumeDeps;
  /** Settles when this host is registered for servers (or could not be). */
  computeReady: Promise<void>;
  /** Stops the agent and serving, then closes the store; host objects stay (they outlive restarts). Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  now?: () => number;
  /** The hash of the admin password, already being computed by the caller (first start). */
  adminPasswordHash?: Promise<string>;
  /** Listen on the configured address (false for inject()-only tests). */
  listen?: boolean;
  /** Runs the agent with this driver whatever the config says (tests: a recording fake). */
  netDriver?: NetDriver;
  /** The container runtime and image store the agent drives (tests: fakes); with `netDriver` only. */
  containerDrivers?: { runtime: ContainerRuntime; images: ImageStore };
  /** The hypervisor the agent drives (tests: a fake); with `netDriver` only. */
  hypervisor?: Hypervisor;
  /** The block storage the agent's volume controller drives (tests: a fake); with `netDriver` only. */
  blockStorage?: BlockStorage;
}

/** A short, stable label for the host objects of the Kumo that owns this data directory. */
export function ownerLabel(dataDir: string): string {
  return createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
}

export async function startKumo(config: KumoConfig, logger: Logger, options: StartOptions = {}): Promise<RunningKumo> {
  const paths = kumoPaths(config.dataDir);
  const admin = ensureAdminPassword(config.dataDir);
  const adminPassword = admin.value;
  // On first start the admin password's slow hash runs on the thread pool while the store is
  // created and migrated (`kumo up` starts it even earlier, before loading this module).
  const adminPasswordHash = options.adminPasswordHash ?? (admin.created ? hashPassword(adminPassword, config.identity.passwordHash) : undefined);
  adminPasswordHash?.catch(() => {});
  const now = options.now ?? Date.now;
  const keys = new KeyRepository(paths.fernetKeysDir, config.identity.maxActiveKeys, now);
  keys.initialize();

  const { db, kind } = await openDatabase(config.database);
  try {
    await migrateToLatest(db, kind);
    const identity: IdentityDeps = { db, config, keys, logger: logger.child({ service: 'identity' }), now, newId: newHexId };
    await bootstrapIdentity(identity, { adminPassword, adminPasswordHash, region: config.region, services: catalogServices(config) });
    const changes = new ChangeSignal();
    const network: NetworkDeps = { db, config, logger: logger.child({ service: 'network' }), now, newId: newUuid, changes };
    const driver = options.netDriver ?? (config.agent.enabled ? await linuxNetDriver(config, paths, logger) : undefined);
    const containerDrivers = driver ? (options.containerDrivers ?? (config.agent.enabled ? await linuxContainerDrivers(config, paths, logger) : undefined)) : undefined;
    const image: ImageDeps = { db, config, logger: logger.child({ service: 'image' }), now, newId: newImageId, changes, imagesDir: paths.glanceImagesDir };
    await recoverImageStore(image);
    const volume: VolumeDeps = { db, config, logger: logger.child({ service: 'volume' }), now, newId: newVolumeId, changes, image };
    const container: ContainerDeps = {
      db, config, logger: logger.child({ service: 'container' }), now, newId: newUuid, changes, network, image, volume,
      hosts: containerDrivers ? localHostAccess(config.agent.host, containerDrivers.runtime, containerDrivers.images) : undefined,
    };
    const placement: PlacementDeps = { db, config, logger: logger.child({ service: 'placement' }), now, newId: newUuid, changes };
    const hypervisor = driver ? (options.hypervisor ?? (config.agent.enabled ? await linuxHypervisor(config, paths, logger) : undefined)) : undefined;
    // A host takes servers once it is registered in placement (its capacity needs the hypervisor's probe).
    const blockStorage = driver ? (options.blockStorage ?? (config.agent.enabled ? await linuxBlockStorage(paths, logger) : undefined)) : undefined;
    const computeHosts: string[] = [];
    const compute: ComputeDeps = {
      db, config, logger: logger.child({ service: 'compute' }), now, newId: newUuid, changes, network, placement, image, volume, computeHosts: () => computeHosts,
      hosts: hypervisor ? localComputeAccess(config.agent.host, hypervisor) : undefined,
    };
    const app = await buildApp({ config, db, logger, identity, network, container, compute, placement, image, volume });
    if (options.listen !== false) {
      await app.listen({ host: config.listen.host, port: config.listen.port });
      writeClientConfig(config, paths, adminPassword);
    } else await app.ready();
    let agent: RunningAgent | undefined;
    let computeReady: Promise<void> = Promise.resolve();
    let metadataApp: FastifyInstance | undefined;
    if (driver) {
      const controllers = [networkController(network, { host: config.agent.host, networkNode: config.agent.networkNode }, driver)];
      if (blockStorage) controllers.push(volumeController(volume, { host: config.agent.host, storage: blockStorage, exportDir: paths.volumeExportDir }));
      if (containerDrivers) controllers.push(containerController(container, { host: config.agent.host, ...containerDrivers, filesDir: paths.containerFilesDir, storage: blockStorage }));
      if (hypervisor) {
        metadataApp = await startMetadataService(compute, paths.metadataSocket);
        controllers.push(computeController(compute, { host: config.agent.host, hypervisor, storage: blockStorage, shutdownTimeoutMs: config.compute.shutdownTimeoutSeconds * 1000, snapshotDir: paths.vmSnapshotDir }));
        // In the background: the first probe of a host may boot a KVM test guest (seconds); Kumo serves meanwhile.
        computeReady = hostCapacity(hypervisor, paths.vmStateDir)
          .then((capacity) => registerComputeHost(compute, config.agent.host, capacity))
          .then(() => {
            computeHosts.push(config.agent.host);
          }, (err: unknown) => logger.error({ err }, 'this host could not be registered for servers; it takes none'));
      }
      agent = startAgent({
        controllers,
        logger: logger.child({ component: 'agent' }),
        pollMs: config.agent.pollMs,
        resyncMs: config.agent.resyncSeconds * 1000,
        changes,
      });
    }
    let closed: Promise<void> | undefined;
    return {
      app, db, identity, adminPassword, paths, agent, computeReady, volume,
      close: () => (closed ??= (async () => {
        await computeReady;
        await agent?.stop();
        await metadataApp?.close();
        await app.close();
        await db.destroy();
      })()),
    };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** Nova's metadata service on a UNIX socket, for the network driver's proxies in the DHCP namespaces. */
async function startMetadataService(compute: ComputeDeps, socketPath: string): Promise<FastifyInstance> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  rmSync(socketPath, { force: true });
  const app = await buildMetadataApp(compute);
  await app.listen({ path: socketPath });
  return app;
}

/** Volume files, when this host has qemu-img (it converts images into volumes); else volumes find no valid backend. */
async function linuxBlockStorage(paths: KumoPaths, logger: Logger): Promise<BlockStorage | undefined> {
  if (!findBinary('qemu-img')) {
    logger.warn({}, 'volumes need qemu-img (apt-get install qemu-utils); this host takes no volumes');
    return undefined;
  }
  const { createBlockStorage } = await import('./drivers/block/index.js');
  return createBlockStorage('file', { stateDir: paths.volumeStateDir }, logger.child({ driver: 'block' }));
}

/** QEMU, when this host has it; else servers find no valid host. */
async function linuxHypervisor(config: KumoConfig, paths: KumoPaths, logger: Logger): Promise<Hypervisor | undefined> {
  if (!findBinary('qemu-system-x86_64') || !findBinary('qemu-img')) {
    logger.warn({}, 'virtual machines need QEMU (apt-get install qemu-system-x86 qemu-utils); this host takes no servers');
    return undefined;
  }
  const { createHypervisor } = await import('./drivers/qemu/index.js');
  return createHypervisor('qemu', { owner: ownerLabel(config.dataDir), stateDir: paths.vmStateDir, imageDir: paths.vmImageCacheDir, accel: config.compute.accel }, logger.child({ driver: 'qemu' }));
}

async function linuxNetDriver(config: KumoConfig, paths: KumoPaths, logger: Logger): Promise<NetDriver> {
  const { createNetDriver } = await import('./drivers/net/index.js');
  const { createHelperRunner } = await import('./lib/helper-runner.js');
  // Its tools (several per network pass) are started by a small helper process: a fork of Kumo
  // itself per `ip`/`nft` run was a quarter of the event loop's thread at a thousand containers.
  return createNetDriver('linux', {
    owner: ownerLabel(config.dataDir),
    stateDir: paths.networkStateDir,
    physicalBridges: config.agent.physicalBridges,
    vxlanLocalIp: config.agent.vxlanLocalIp,
    metadataSocket: paths.metadataSocket,
  }, logger.child({ driver: 'net' }), createHelperRunner());
}

/** runc (or crun) under conmon and the OCI image store, when this host has the tools; else containers stay in Creating. */
async function linuxContainerDrivers(config: KumoConfig, paths: KumoPaths, logger: Logger): Promise<{ runtime: ContainerRuntime; images: ImageStore } | undefined> {
  const runtimeName = config.agent.containerRuntime;
  const runtimePath = findBinary(runtimeName);
  const conmon = findBinary('conmon');
  if (!runtimePath || !conmon) {
    logger.warn({ [runtimeName]: runtimePath ?? null, conmon: conmon ?? null }, `containers need ${runtimeName} and conmon (apt-get install ${runtimeName} conmon); the container controller is off`);
    return undefined;
  }
  const { createContainerRuntime, createImageStore, imageStoreMountRoots } = await import('./drivers/oci/index.js');
  const owner = ownerLabel(config.dataDir);
  return {
    runtime: createContainerRuntime('runc', {
      owner, stateDir: paths.containerRuntimeDir, runtimePath, conmonPath: conmon, sharedMountRoots: [...imageStoreMountRoots(paths.imageStoreDir), containerVolumeMountRoot(paths)],
    }, logger.child({ driver: 'oci-runtime' })),
    images: createImageStore({ owner, root: paths.imageStoreDir, insecureRegistries: config.agent.insecureRegistries }, logger.child({ driver: 'oci-image' })),
  };
}

/** Where the block driver mounts volumes for containers (its `mounts/`): crun's private namespace must see mounts made there later. */
const containerVolumeMountRoot = (paths: KumoPaths): string => join(paths.volumeStateDir, 'mounts');

function writeClientConfig(config: KumoConfig, paths: KumoPaths, adminPassword: string): void {
  const authUrl = `${config.publicUrl}${SERVICE_PREFIXES.identity}/v3`;
  const clouds = {
    clouds: {
      kumo: {
        auth: { auth_url: authUrl, username: 'admin', password: adminPassword, project_name: 'admin', user_domain_name: 'Default', project_domain_name: 'Default' },
        region_name: config.region,
        identity_api_version: 3,
        interface: 'public',
      },
    },
  };
  writeFileSync(paths.cloudsYaml, toYaml(clouds), { mode: 0o600 });
  chmodSync(paths.cloudsYaml, 0o600);
  const openrc = [
    `export OS_AUTH_URL=${authUrl}`, 'export OS_USERNAME=admin', `export OS_PASSWORD='${adminPassword}'`, 'export OS_PROJECT_NAME=admin',
    'export OS_USER_DOMAIN_NAME=Default', 'export OS_PROJECT_DOMAIN_NAME=Default', `export OS_REGION_NAME=${config.region}`, 'export OS_IDENTITY_API_VERSION=3', '',
  ].join('\n');
  writeFileSync(paths.openrc, openrc, { mode: 0o600 });
  chmodSync(paths.openrc, 0o600);
}

type YamlValue = string | number | boolean | { [key: string]: YamlValue };

/**
 * The block-style YAML of a tree of maps and scalars. Strings are written as JSON strings,
 * which YAML reads as double-quoted scalars, so no value can change type or break the file.
 */
export function toYaml(value: { [key: string]: YamlValue }, indent = ''): string {
  return Object.entries(value)
    .map(([k, v]) => (typeof v === 'object' ? `${indent}${k}:\n${toYaml(v, `${indent}  `)}` : `${indent}${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}\n`))
    .join('');
}
