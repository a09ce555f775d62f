/**
 * The container service's controller, run by the agent of a host: drives runc (through the
 * OCI driver) to what the store says for every container assigned to the host, and writes
 * back Zun's status, exit codes and reasons. Containers of this owner that nothing wants any
 * more are removed, with their root filesystems and namespaces.
 * @module
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Controller } from '../agent/agent.js';
import type { BlockStorage } from '../drivers/block/types.js';
import type { ContainerRuntime, ImageStore, ObservedContainer, StoredImage } from '../drivers/oci/types.js';
import { bindWorkloadPorts, inactivePorts, releaseWorkloadPorts, workloadAddresses, workloadDns } from '../network/workload-ports.js';
import { portStatusRevision } from '../network/context.js';
import { rollingPool } from '../lib/rolling-pool.js';
import { readRevision } from '../store/revision.js';
import { VOLUME_REVISION, VOLUME_STATUS_REVISION } from '../volume/attachments.js';
import { attachmentIdsOfHost, completeContainerVolumes, releaseContainerVolumes, volumeMountsFor } from './container-volumes.js';
import { containerRevision, zunTime } from './context.js';
import type { ContainerDeps } from './context.js';
import { finishCapsuleDelete, memberOf } from './capsules.js';
import { saveGlanceImage } from './image-access.js';
import { portsOf, specOf } from './containers.js';
import type { ContainerSpecRecord } from './containers.js';
import type { ContainerTable } from './schema.js';

export interface ContainerHost {
  readonly host: string;
  readonly runtime: ContainerRuntime;
  readonly images: ImageStore;
  /** Per-container files Kumo writes (hosts, resolv.conf), one directory each. */
  readonly filesDir: string;
  /** Mounts volumes for containers; absent on a host without one (a container with volumes fails there). */
  readonly storage?: BlockStorage;
}

/** Containers converged at once in a pass. */
const CONVERGE_CONCURRENCY = 8;
/** A capsule's members share one network namespace, named for the capsule. */
const netnsKey = (row: ContainerTable): string => row.capsule_id ?? row.uuid;
/** More new containers than this in one refill are read with the host's whole list instead of an IN list. */
const FRESH_ROWS_MAX = 500;

/** Thrown by a container's observation when the pass could not list the host's containers. */
const LISTING_FAILED = new Error('the containers on this host could not be listed');

/** How long a pass waits before looking again at something in progress (ports, a stop). */
const REQUEUE_MS = 200;

/** Docker's rule: the container's entrypoint replaces the image's, and then the image's cmd no longer applies. */
export function mergeCommand(image: StoredImage['config'], spec: Pick<ContainerSpecRecord, 'entrypoint' | 'command'>): string[] {
  const entrypoint = spec.entrypoint && spec.entrypoint.length ? spec.entrypoint : (image.entrypoint ?? []);
  const cmd = spec.command && spec.command.length ? spec.command : spec.entrypoint && spec.entrypoint.length ? [] : (image.cmd ?? []);
  return [...entrypoint, ...cmd];
}

/** Image env first, the container's environment over it (by key). */
export function mergeEnv(image: readonly string[], own: Record<string, string>, hostname: string): string[] {
  const out = new Map<string, string>();
  for (const kv of image) {
    const at = kv.indexOf('=');
    if (at > 0) out.set(kv.slice(0, at), kv.slice(at + 1));
  }
  out.set('HOSTNAME', hostname);
  for (const [k, v] of Object.entries(own)) out.set(k, v);
  if (!out.has('PATH')) out.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/** Zun shows how a container ended in status_detail, as Docker's status line does. */
const exited = (o: ObservedContainer) => `Exited(${o.exitCode ?? '?'})${o.finishedAt ? ` at ${o.finishedAt}` : ''}`;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function containerController(deps: ContainerDeps, host: ContainerHost): Controller {
  const log = deps.logger.child({ host: host.host });
  const { runtime, images } = host;
  /** Limits applied to running containers in this process's life (re-applied once after a restart). */
  const applied = new Map<string, string>();
  /** Containers whose last bring-up stopped to wait for their ports to be plugged. */
  const networkWaits = new Set<string>();
  /** The port list last bound for each container, so attaching a network later plugs the new port. */
  const boundPorts = new Map<string, string>();

  const write = async (row: ContainerTable, patch: Partial<ContainerTable>) => {
    const changed = Object.entries(patch).some(([k, v]) => row[k as keyof ContainerTable] !== v);
    if (!changed) return row;
    const stamp = { ...patch, updated_at: zunTime(deps.now()) };
    // Only the observed columns: the row may have a newer desired state from the API by now.
    await deps.db.updateTable('container_container').set(stamp).where('uuid', '=', row.uuid).execute();
    return { ...row, ...stamp };
  };

  /** Removes the container and all it had, its row last. */
  const teardown = async (row: ContainerTable, observed: ObservedContainer | undefined): Promise<void> => {
    if (observed) {
      if (row.status_detail === 'stop first' && observed.state === 'running') await runtime.stop(row.uuid, 10);
      await runtime.delete(row.uuid, true);
    }
    // Only once the container is gone: its volumes are unmounted, given back, and deleted when made for it.
    await releaseContainerVolumes(deps, host.storage, row.uuid);
    await images.removeRootfs(row.uuid);
    // A capsule's namespace and ports are the capsule's: they go when its last member has gone.
    if (!row.capsule_id) await runtime.removeNetns(row.uuid);
    await runtime.removeLogs(row.uuid);
    await rm(join(host.filesDir, row.uuid), { recursive: true, force: true });
    applied.delete(row.uuid);
    boundPorts.delete(row.uuid);
    networkWaits.delete(row.uuid);
    await releaseWorkloadPorts(deps.network, portsOf(row).filter((p) => !p.shared));
    await deps.db.deleteFrom('container_container').where('uuid', '=', row.uuid).execute();
  };

  /**
   * For a capsule member: what its capsule's init containers say. Init containers run one after
   * another and the others after all of them: 'waiting' until those before it have exited 0, a
   * reason when one of them failed (then this one does not run), null when it may go.
   */
  const initBlocker = async (row: ContainerTable): Promise<'waiting' | string | null> => {
    const me = memberOf(row);
    const before = (await deps.db.selectFrom('container_container').selectAll().where('capsule_id', '=', row.capsule_id).execute())
      .filter((m) => memberOf(m).role === 'init' && (me.role === 'main' || memberOf(m).order < me.order));
    const failed = before.find((m) => m.status === 'Error' || (m.status === 'Stopped' && m.exit_code !== 0));
    if (failed) return `init container ${failed.name} failed (${failed.status_reason ?? `exit code ${failed.exit_code}`})`;
    return before.every((m) => m.status === 'Stopped' && m.exit_code === 0) ? null : 'waiting';
  };

  /**
   * A Glance image's tar, imported once per host: the stored image's id is kept in a file named
   * after the Glance id, so later containers of the same image find it.
   */
  const glanceIds = join(host.filesDir, '.glance-images');
  const storedGlanceImage = async (imageId: string): Promise<StoredImage | null> => {
    const stored = await readFile(join(glanceIds, imageId), 'utf8').catch(() => null);
    return stored ? images.get(stored.trim()) : null;
  };
  const importGlanceImage = async (imageId: string): Promise<StoredImage> => {
    await mkdir(glanceIds, { recursive: true });
    const tar = join(glanceIds, `${imageId}.tar`);
    try {
      await saveGlanceImage(deps, imageId, tar);
      const [first] = await images.importArchive(tar);
      if (!first) throw new Error('the archive holds no image');
      await writeFile(join(glanceIds, imageId), first.id);
      return first;
    } finally {
      await rm(tar, { force: true });
    }
  };

  /** Everything up to a created runc container; returns false while waiting for the network. */
  const bringUp = async (row: ContainerTable): Promise<ContainerTable | 'waiting'> => {
    if (!networkWaits.has(row.uuid)) log.debug({ container: row.uuid }, 'bringing up');
    const spec = specOf(row);
    let image = spec.glance_image_id ? await storedGlanceImage(spec.glance_image_id) : await images.get(row.image);
    if (spec.glance_image_id && !image) {
      row = await write(row, { status_detail: `importing image ${spec.glance_image_id} from the image service` });
      try {
        image = await importGlanceImage(spec.glance_image_id);
      } catch (err) {
        return write(row, { status: 'Error', status_reason: `Image ${row.image} could not be imported from the image service: ${message(err)}`, status_detail: null, task_state: null, desired: 'stopped' });
      }
    }
    if (!spec.glance_image_id && (!image || spec.image_pull_policy === 'always')) {
      row = await write(row, { status_detail: `pulling ${row.image}` });
      try {
        image = await images.pull(row.image);
      } catch (err) {
        return write(row, { status: 'Error', status_reason: `Image ${row.image} could not be pulled: ${message(err)}`, status_detail: null, task_state: null, desired: 'stopped' });
      }
    }
    if (!image) return write(row, { status: 'Error', status_reason: `Image ${row.image} is not on this host.`, status_detail: null, task_state: null, desired: 'stopped' });
    if (row.capsule_id) {
      const blocked = await initBlocker(row);
      if (blocked === 'waiting') return 'waiting';
      if (blocked) return write(row, { status: 'Error', status_reason: blocked, status_detail: null, task_state: null, desired: 'stopped' });
    }
    const ports = portsOf(row).map((p) => p.id);
    const netns = await runtime.ensureNetns(netnsKey(row));
    await bindWorkloadPorts(deps.network, ports, host.host, netns);
    boundPorts.set(row.uuid, row.port_ids);
    if ((await inactivePorts(deps.network, ports)).length) {
      if (!networkWaits.has(row.uuid)) log.debug({ container: row.uuid }, 'ports bound; waiting for the network');
      await write(row, { status_detail: 'waiting for the network' });
      networkWaits.add(row.uuid);
      return 'waiting';
    }
    if (networkWaits.delete(row.uuid)) log.debug({ container: row.uuid }, 'ports active');
    const args = mergeCommand(image.config, spec);
    if (!args.length) return write(row, { status: 'Error', status_reason: `No command specified: the image ${row.image} has none and the container gave none.`, status_detail: null, desired: 'stopped' });
    const hostname = spec.hostname ?? row.uuid.slice(0, 12);
    const files = join(host.filesDir, row.uuid);
    await mkdir(files, { recursive: true });
    const addresses = Object.values(await workloadAddresses(deps.network, ports)).flat().filter((a) => a.version === 4);
    await writeFile(join(files, 'hosts'), ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...addresses.map((a) => `${a.addr}\t${hostname}`), ''].join('\n'));
    const dns = await workloadDns(deps.network, ports);
    await writeFile(join(files, 'resolv.conf'), dns.map((d) => `nameserver ${d}`).join('\n') + '\n');
    await writeFile(join(files, 'hostname'), `${hostname}\n`);
    let volumes: Awaited<ReturnType<typeof volumeMountsFor>>;
    try {
      volumes = await volumeMountsFor(deps, host.storage, host.host, row.uuid);
    } catch (err) {
      return write(row, { status: 'Error', status_reason: `The container's volumes could not be mounted: ${message(err)}`, status_detail: null, task_state: null, desired: 'stopped' });
    }
    if (volumes === 'waiting') {
      await write(row, { status_detail: 'waiting for its volumes' });
      return 'waiting';
    }
    const rootfs = await images.mountRootfs(image.id, row.uuid);
    try {
      await runtime.create({
        id: row.uuid,
        rootfs,
        args,
        env: mergeEnv(image.config.env, spec.environment, hostname),
        workdir: spec.workdir || image.config.workingDir || '/',
        hostname,
        user: image.config.user,
        netns,
        limits: { cpu: row.cpu, memoryBytes: row.memory_mib === null ? null : row.memory_mib * 1024 * 1024, pids: null },
        tty: spec.tty,
        interactive: spec.interactive,
        mounts: [...['hosts', 'resolv.conf', 'hostname'].map((f) => ({ source: join(files, f), destination: `/etc/${f}`, readonly: false })), ...volumes],
        labels: spec.labels,
      });
    } catch (err) {
      await images.removeRootfs(row.uuid);
      return write(row, { status: 'Error', status_reason: `The container could not be created: ${message(err)}`, status_detail: null, task_state: null, desired: 'stopped' });
    }
    applied.set(row.uuid, `${row.cpu}/${row.memory_mib}`);
    await completeContainerVolumes(deps, host.host, row.uuid);
    return write(row, { status: 'Created', status_reason: null, status_detail: null });
  };

  /**
   * Runs a container again: a runc container that has stopped cannot be started, so it is
   * created afresh from the same root filesystem (its files are kept, as Docker keeps them).
   */
  const runAgain = async (row: ContainerTable, patch: Partial<ContainerTable>): Promise<ContainerTable | 'waiting'> => {
    await runtime.delete(row.uuid, true);
    const created = await bringUp(row);
    if (created === 'waiting' || created.status !== 'Created') return created;
    await runtime.start(row.uuid);
    return write(created, { status: 'Running', task_state: null, status_detail: null, ...patch });
  };

  /** What the runtime shows, as Zun's status; and the restart policy when it stopped on its own. */
  const follow = async (row: ContainerTable, observed: ObservedContainer): Promise<ContainerTable | 'waiting'> => {
    const spec = specOf(row);
    if (row.task_state === 'container_rebooting') {
      if (observed.state === 'running' || observed.state === 'paused') await runtime.stop(row.uuid, Number(/\d+/.exec(row.status_detail ?? '')?.[0] ?? 10));
      return runAgain(row, { status_reason: null, exit_code: null });
    }
    switch (row.desired) {
      case 'running':
        if (observed.state === 'created') {
          await runtime.start(row.uuid);
          return write(row, { status: 'Running', task_state: null, status_reason: null });
        }
        if (observed.state === 'paused') {
          await runtime.unpause(row.uuid);
          return write(row, { status: 'Running', task_state: null });
        }
        if (observed.state === 'stopped' && row.task_state === 'container_starting') return runAgain(row, { status_reason: null, exit_code: null });
        if (observed.state === 'stopped') {
          const policy = spec.restart_policy;
          const failed = (observed.exitCode ?? 0) !== 0;
          const again = policy.Name === 'always' || policy.Name === 'unless-stopped' ||
            (policy.Name === 'on-failure' && failed && (policy.MaximumRetryCount === 0 || row.restart_count < policy.MaximumRetryCount));
          const reason = observed.oomKilled ? 'OOMKilled' : failed ? `Exited with code ${observed.exitCode}` : null;
          if (again) return runAgain(row, { restart_count: row.restart_count + 1, exit_code: observed.exitCode, status_reason: reason });
          // It ended on its own: the user can start it again.
          return write(row, { status: 'Stopped', desired: 'stopped', exit_code: observed.exitCode, status_reason: reason, task_state: null, status_detail: exited(observed) });
        }
        break;
      case 'stopped':
        if (observed.state === 'running' || observed.state === 'paused') {
          await runtime.stop(row.uuid, Number(/\d+/.exec(row.status_detail ?? '')?.[0] ?? 10));
          return 'waiting';
        }
        if (observed.state === 'stopped') {
          return write(row, { status: 'Stopped', exit_code: observed.exitCode, status_reason: observed.oomKilled ? 'OOMKilled' : row.status_reason, task_state: null, status_detail: exited(observed) });
        }
        break;
      case 'paused':
        if (observed.state === 'running') await runtime.pause(row.uuid);
        if (observed.state === 'running' || observed.state === 'paused') return write(row, { status: 'Paused', task_state: null });
        break;
      case 'created':
        if (observed.state === 'created') return write(row, { status: 'Created', task_state: null });
        break;
    }
    const status = { running: 'Running', paused: 'Paused', stopped: 'Stopped', created: 'Created' }[observed.state];
    return write(row, observed.state === 'stopped' ? { status, exit_code: observed.exitCode, status_detail: exited(observed) } : { status });
  };

  /**
   * Once per agent life (after a kill -9, say): volume mounts of this driver that no container of
   * this host holds an attachment for are unmounted (the driver tidies records and loop devices of
   * an interrupted mount on the way). Mounts of containers still wanted stay: they may be running.
   */
  let volumeMountsChecked = false;
  const removeLeftoverVolumeMounts = async (containerUuids: readonly string[]) => {
    const held = await attachmentIdsOfHost(deps, containerUuids);
    for (const m of await host.storage!.listContainerMounts()) {
      if (held.has(m.attachmentId)) continue;
      log.info({ attachment: m.attachmentId, volume: m.volumeId }, 'unmounting a container volume nothing holds');
      await host.storage!.unmountForContainer(m.attachmentId);
    }
  };

  return {
    name: 'container',
    // A container waiting for its ports starts as soon as they turn ACTIVE, not at the next requeue
    // or poll (up to 200 ms of a lone container's 520 ms to Running).
    revision: async () => (await containerRevision(deps.db)) + (await portStatusRevision(deps.network.db))
      // A container waiting for a volume made for it starts once the volume is available.
      + (await readRevision(deps.volume.db, VOLUME_REVISION)) + (await readRevision(deps.volume.db, VOLUME_STATUS_REVISION)),
    async reconcile() {
      const hostRows = () => deps.db.selectFrom('container_container').selectAll().where('host', '=', host.host).execute();
      let revisionAtStart = await containerRevision(deps.db);
      const rows = await hostRows();
      if (!volumeMountsChecked && host.storage) {
        await removeLeftoverVolumeMounts(rows.map((r) => r.uuid));
        volumeMountsChecked = true;
      }
      /** The rows read so far: every container this pass may have given a root filesystem is among them. */
      let latestRows = rows;
      // Every container of this owner, read once per pass (a few files each: ~150 ms at a thousand
      // containers on a busy host). New containers do not wait for it: one not created yet is asked
      // about alone, and rows that need work go first, so a container POSTed while a pass begins is
      // not queued behind the observation and re-check of the thousand already running.
      let listingError: unknown = null;
      /** The listing once it is in (null until then, and if it failed). */
      let listed: Map<string, ObservedContainer> | null = null;
      const listing = runtime.list().then((all) => (listed = new Map(all.map((o) => [o.id, o]))), (err: unknown) => {
        listingError = err;
        return null;
      });
      /** What this pass observed of its rows. */
      const seen = new Map<string, ObservedContainer>();
      const observe = async (row: ContainerTable): Promise<ObservedContainer | undefined> => {
        // Only this controller creates containers, and its passes never overlap: a row the listing
        // (once in) does not show has nothing on the host yet.
        const all = listed ?? (row.status === 'Creating' ? null : await listing);
        if (!all && row.status !== 'Creating') throw LISTING_FAILED;
        const obs = all ? all.get(row.uuid) : (await runtime.state(row.uuid)) ?? undefined;
        if (obs) seen.set(row.uuid, obs);
        return obs;
      };
      const needsWork = (row: ContainerTable) => row.status !== 'Running' || row.desired !== 'running' || row.task_state !== null;
      const ordered = [...rows.filter(needsWork), ...rows.filter((row) => !needsWork(row))];
      /** One container's pass; true while it waits for something no revision announces. */
      const converge = async (original: ContainerTable): Promise<boolean> => {
        let row = original;
        try {
          const obs = await observe(row);
          if (row.desired === 'deleted') {
            await teardown(row, obs);
            return false;
          }
          let result: ContainerTable | 'waiting' = row;
          if (!obs) {
            if (row.status === 'Error' && row.desired === 'stopped') return false;
            result = await bringUp(row);
            // Just created: no need to ask runc what it is.
            if (result !== 'waiting' && result.status === 'Created') result = await follow(result, { id: row.uuid, state: 'created', pid: null, exitCode: null, oomKilled: false, startedAt: null, finishedAt: null });
          } else {
            if (boundPorts.get(row.uuid) !== row.port_ids) {
              await bindWorkloadPorts(deps.network, portsOf(row).map((p) => p.id), host.host, await runtime.ensureNetns(netnsKey(row)));
              boundPorts.set(row.uuid, row.port_ids);
            }
            result = await follow(row, obs);
            if (result !== 'waiting' && obs.state === 'running' && applied.get(row.uuid) !== `${row.cpu}/${row.memory_mib}`) {
              await runtime.update(row.uuid, { cpu: row.cpu, memoryBytes: row.memory_mib === null ? null : row.memory_mib * 1024 * 1024, pids: null });
              applied.set(row.uuid, `${row.cpu}/${row.memory_mib}`);
            }
          }
          if (result === 'waiting') return true;
          row = result;
          if (row.status === 'Stopped' && specOf(row).auto_remove) await teardown(row, await runtime.state(row.uuid) ?? undefined);
        } catch (err) {
          // The host could not be read: nothing is known of this container; the pass fails below.
          if (err === LISTING_FAILED) return false;
          log.warn({ err, container: row.uuid }, 'container could not be converged');
          await write(row, { status: 'Error', status_reason: message(err), task_state: null });
        }
        return false;
      };
      // Containers are independent: several at once keep runc, conmon and the mounts busy in
      // parallel. The pass goes on while there is work: a container created meanwhile, or one
      // whose ports the network controller has just plugged, is taken by the next free worker
      // instead of waiting for the slowest of this pass (what made a container's start wait
      // for a whole pass or two).
      const waitingIds = await rollingPool({ initial: ordered, limit: CONVERGE_CONCURRENCY, keyOf: (row) => row.uuid, work: converge, more: async (taken) => {
        // Only when the store moved: containers created since the pass began.
        const now = await containerRevision(deps.db);
        if (now === revisionAtStart) return [];
        revisionAtStart = now;
        // Ids first, whole rows only for the new ones: deletes move the revision too, and reading
        // every row of the host each time was the agent's costliest query at a thousand containers.
        const ids = await deps.db.selectFrom('container_container').select('uuid').where('host', '=', host.host).execute();
        const fresh = ids.map((r) => r.uuid).filter((id) => !taken.has(id));
        if (!fresh.length) return [];
        const added = fresh.length > FRESH_ROWS_MAX
          ? (await hostRows()).filter((r) => !taken.has(r.uuid))
          : await deps.db.selectFrom('container_container').selectAll().where('uuid', 'in', fresh).execute();
        latestRows = [...latestRows, ...added];
        return added;
      }, recheck: async (waiting) => {
        // Only those waiting for their ports (a stop in progress is the next pass's business),
        // all asked about in one query.
        const candidates = waiting.filter((row) => !seen.has(row.uuid) && networkWaits.has(row.uuid));
        const inactive = new Set(await inactivePorts(deps.network, candidates.flatMap((row) => portsOf(row).map((p) => p.id))));
        const ready = candidates.filter((row) => portsOf(row).every((p) => !inactive.has(p.id)));
        if (!ready.length) return [];
        // As the store has them now: the user may have changed or deleted one meanwhile.
        return deps.db.selectFrom('container_container').selectAll().where('uuid', 'in', ready.map((r) => r.uuid)).execute();
      }, subscribe: (wake) => deps.changes.subscribe(wake) });
      const waiting = waitingIds > 0;
      // Containers of this owner that no row wants: left by a delete that a crash interrupted. (Not
      // those of rows taken during the pass: the listing may have run after they were created.)
      const all = await listing;
      if (!all) throw listingError;
      const taken = new Set(latestRows.map((r) => r.uuid));
      for (const orphan of [...all.values()].filter((o) => !taken.has(o.id))) {
        log.info({ container: orphan.id }, 'removing a container nothing wants');
        await runtime.delete(orphan.id, true).catch((err: unknown) => log.warn({ err, container: orphan.id }, 'orphan removal failed'));
        await runtime.removeNetns(orphan.id).catch(() => undefined);
      }
      // Deleted capsules whose members are all gone: their namespace and ports.
      const deadCapsules = await deps.db.selectFrom('container_capsule').selectAll().where('host', '=', host.host).where('desired', '=', 'deleted').execute();
      for (const capsule of deadCapsules) {
        const left = await deps.db.selectFrom('container_container').select('uuid').where('capsule_id', '=', capsule.uuid).executeTakeFirst();
        if (left) continue;
        try {
          await runtime.removeNetns(capsule.uuid);
          await finishCapsuleDelete(deps, capsule);
        } catch (err) {
          log.warn({ err, capsule: capsule.uuid }, 'capsule could not be removed');
        }
      }
      // A row deleted since it was read keeps its rootfs until the next pass tears the container down.
      const wanted = new Set(latestRows.filter((r) => r.desired !== 'deleted').map((r) => r.uuid));
      for (const id of await images.listRootfs()) if (!wanted.has(id)) await images.removeRootfs(id);
      // A running container is watched for its exit, which no revision announces.
      const live = rows.some((r) => r.desired === 'running' || r.status === 'Running');
      return waiting ? { requeueMs: REQUEUE_MS } : live ? { requeueMs: 1000 } : undefined;
    },
  };
}
