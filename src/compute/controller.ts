/**
 * The compute controller: on its host, drives each server's VM to the server's desired state
 * through the hypervisor driver and writes back what Nova shows (vm_state, task_state,
 * power_state, faults, instance action events). The VMs outlive Kumo; after a restart a pass
 * finds them through the driver and carries on, and a VM whose QEMU died is reported SHUTOFF.
 * @module
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Controller } from '../agent/agent.js';
import { tapName } from '../drivers/net/index.js';
import type { BlockStorage } from '../drivers/block/types.js';
import type { DiskSpec, Hypervisor, ObservedVm, VmSpec } from '../drivers/qemu/types.js';
import { VOLUME_REVISION, VOLUME_STATUS_REVISION } from '../volume/attachments.js';
import { bindVmPorts, inactivePorts, releaseWorkloadPorts, vmPortDetails } from '../network/workload-ports.js';
import { networkRevision, portStatusRevision } from '../network/context.js';
import { readRevision } from '../store/revision.js';
import { COMPUTE_REVISION } from './context.js';
import type { ComputeDeps } from './context.js';
import { finishAction } from './instance-actions.js';
import { configDriveFiles } from './metadata/content.js';
import { instanceMetadata } from './metadata/instance.js';
import { discardSnapshotImage, imageSource, uploadSnapshot } from './image-access.js';
import { releaseServerResources, finishResize } from './scheduler.js';
import { deleteServerRows, flavorOf, pendingOf, portsOf, POWER, specOf } from './servers.js';
import { completeServerVolumes, releaseServerVolumes, syncServerVolumes, volumeDisksFor } from './server-volumes.js';
import type { InstanceRow } from './servers.js';

export interface ComputeHost {
  readonly host: string;
  readonly hypervisor: Hypervisor;
  /** This host's volumes, for servers that have any. */
  readonly storage?: BlockStorage;
  /** How long a guest gets to power off on ACPI before QEMU is stopped hard (Nova's shutdown_timeout). */
  readonly shutdownTimeoutMs: number;
  /** Where snapshots are written before they are uploaded to the image service. */
  readonly snapshotDir: string;
}

/** How long a pass waits before looking again at something in progress (ports plugging). */
const REQUEUE_MS = 50;
/** How often the VMs that run are looked at for a state the store does not know yet (Nova's power sync). */
const POWER_SYNC_MS = 3000;
/** VMs brought up or changed at the same time. */
const PARALLEL = 4;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Nova's power_state for what the driver sees. */
const powerOf = (vm: ObservedVm | undefined): number =>
  !vm || vm.state === 'stopped' ? POWER.SHUTDOWN : vm.state === 'running' ? POWER.RUNNING : vm.state === 'paused' ? POWER.PAUSED : vm.state === 'suspended' ? POWER.SUSPENDED : POWER.CRASHED;

export function computeController(deps: ComputeDeps, host: ComputeHost): Controller {
  const log = deps.logger.child({ host: host.host });
  const { hypervisor } = host;

  const write = async (row: InstanceRow, patch: Partial<InstanceRow>): Promise<InstanceRow> => {
    const changed = Object.entries(patch).some(([k, v]) => row[k as keyof InstanceRow] !== v);
    if (!changed) return row;
    const stamped = { ...patch, updated_at: new Date(deps.now()).toISOString() };
    await deps.db.updateTable('compute_instance').set(stamped).where('uuid', '=', row.uuid).execute();
    return { ...row, ...stamped };
  };

  const fail = async (row: InstanceRow, event: string, err: unknown) => {
    const text = message(err);
    log.warn({ instance: row.uuid, event, err: text }, 'server operation failed');
    await write(row, {
      vm_state: 'error', task_state: null, pending_action: null,
      fault: JSON.stringify({ code: 500, message: text.slice(0, 255), details: text, created: new Date(deps.now()).toISOString() }),
    });
    await finishAction(deps.db, deps.now(), row.uuid, event, host.host, text);
  };

  /** The server's volume disks; a volume still being made for it is an error here (a build waits for it first). */
  async function readyVolumeDisks(row: InstanceRow): Promise<DiskSpec[]> {
    const disks = await volumeDisksFor(deps, host.storage, host.host, row.uuid);
    if (disks === 'waiting') throw new Error('a volume of the server is still being created');
    return disks;
  }

  /** The VM as the driver should run it: flavor size, the root disk (an overlay of the image, or the boot volume), its volumes, the image's kernel, the ports' taps. */
  async function vmSpecOf(row: InstanceRow, volumeDisks?: DiskSpec[]): Promise<VmSpec> {
    const flavor = flavorOf(row);
    const volumes = volumeDisks ?? await readyVolumeDisks(row);
    const ports = await vmPortDetails(deps.network, portsOf(row).map((p) => p.id));
    const nics = ports.map((p) => ({ portId: p.id, tapName: tapName(p.id), macAddress: p.macAddress, mtu: p.mtu }));
    // The config drive is made again at every start, so it carries the current metadata (as Nova rebuilds it on hard reboot).
    const configDrive = specOf(row).config_drive ? await hypervisor.createConfigDrive(row.uuid, configDriveFiles(await instanceMetadata(deps, row))) : undefined;
    if (row.image_id === null) {
      // Booted from a volume: the volume is the root disk; no image, no overlay.
      return { instanceId: row.uuid, name: row.name, vcpus: flavor.vcpus, memoryMb: flavor.ram, disks: volumes, ...(configDrive ? { configDrive } : {}), nics };
    }
    const source = await imageSource(deps, row.image_id);
    const base = await hypervisor.ensureBaseImage(source.imageId, source.format, source.check, source.open);
    const sizeGb = Math.max(flavor.disk, Math.ceil(base.virtualSizeBytes / 1024 ** 3));
    const root = await hypervisor.createOverlay(row.uuid, 'root', base, sizeGb);
    let kernel: string | undefined;
    let initrd: string | undefined;
    if (source.kernelId) {
      const k = await imageSource(deps, source.kernelId);
      kernel = (await hypervisor.ensureBaseImage(k.imageId, 'raw', k.check, k.open)).path;
      if (source.ramdiskId) {
        const r = await imageSource(deps, source.ramdiskId);
        initrd = (await hypervisor.ensureBaseImage(r.imageId, 'raw', r.check, r.open)).path;
      }
    }
    return {
      instanceId: row.uuid, name: row.name, vcpus: flavor.vcpus, memoryMb: flavor.ram,
      disks: [{ name: 'root', path: root, format: 'qcow2', bootIndex: 0 }, ...volumes],
      ...(configDrive ? { configDrive } : {}),
      ...(kernel ? { kernel, initrd, cmdline: source.cmdline ?? 'console=ttyS0 root=/dev/vda' } : {}),
      nics,
    };
  }

  /** Binds the ports as taps on this host; true when the network agent has plugged them all. */
  async function portsReady(row: InstanceRow): Promise<boolean> {
    const ids = portsOf(row).map((p) => p.id);
    await bindVmPorts(deps.network, ids, host.host);
    return (await inactivePorts(deps.network, ids)).length === 0;
  }

  /** Disks (image cache, overlay, config drive) of servers being built, made while their ports are plugged. */
  const prepared = new Map<string, Promise<VmSpec>>();

  async function build(row: InstanceRow): Promise<boolean> {
    let spec = prepared.get(row.uuid);
    if (!spec) {
      let volumes: DiskSpec[] | 'waiting';
      try {
        volumes = await volumeDisksFor(deps, host.storage, host.host, row.uuid);
      } catch (err) {
        await fail(row, 'compute__do_build_and_run_instance', err);
        return false;
      }
      if (volumes === 'waiting') {
        await write(row, { task_state: 'block_device_mapping' });
        return true;
      }
      spec = vmSpecOf(row, volumes);
      spec.catch(() => undefined);
      prepared.set(row.uuid, spec);
    }
    if (!(await portsReady(row))) {
      await write(row, { task_state: 'networking' });
      return true;
    }
    try {
      await write(row, { task_state: 'spawning' });
      const vm = await hypervisor.spawn(await spec);
      await completeServerVolumes(deps, host.host, row.uuid);
      await write(row, { vm_state: 'active', task_state: null, power_state: powerOf(vm), launched_at: new Date(deps.now()).toISOString(), fault: null });
      await finishAction(deps.db, deps.now(), row.uuid, 'compute__do_build_and_run_instance', host.host);
    } catch (err) {
      await fail(row, 'compute__do_build_and_run_instance', err);
    } finally {
      prepared.delete(row.uuid);
    }
    return false;
  }

  async function teardown(row: InstanceRow): Promise<void> {
    await hypervisor.destroy(row.uuid);
    await releaseServerVolumes(deps, row.uuid);
    await releaseWorkloadPorts(deps.network, portsOf(row));
    await releaseServerResources(deps, row.uuid);
    await finishAction(deps.db, deps.now(), row.uuid, 'compute_terminate_instance', host.host);
    await deleteServerRows(deps.db, row.uuid);
  }

  /** A server that exists on this host: carry out its pending action or task, else follow what the VM does. */
  async function converge(row: InstanceRow, vm: ObservedVm | undefined): Promise<boolean> {
    const pending = pendingOf(row);
    const spec = specOf(row);
    try {
      if (pending?.type === 'reboot') {
        if (pending.hard || !vm || vm.state !== 'running') {
          if (vm && vm.state !== 'stopped') await hypervisor.reboot(row.uuid, 'hard');
          else await hypervisor.spawn(await vmSpecOf(row));
        } else await hypervisor.reboot(row.uuid, 'soft', { timeoutMs: host.shutdownTimeoutMs });
        await done(row, { vm_state: 'active', power_state: POWER.RUNNING }, 'compute_reboot_instance');
        return false;
      }
      if (pending?.type === 'rebuild') {
        await hypervisor.destroy(row.uuid);
        if (row.desired === 'stopped') {
          // A stopped server is stopped again after its rebuild, as Nova does; the new disk waits for the next start.
          await vmSpecOf(row);
          await done(row, { vm_state: 'stopped', power_state: POWER.SHUTDOWN }, 'compute_rebuild_instance');
          return false;
        }
        const next = await hypervisor.spawn(await vmSpecOf(row));
        await done(row, { vm_state: 'active', power_state: powerOf(next), desired: 'running' }, 'compute_rebuild_instance');
        return false;
      }
      if (pending?.type === 'resize' || pending?.type === 'revert_resize') {
        const revert = pending.type === 'revert_resize';
        if (vm && vm.state !== 'stopped') await hypervisor.powerOff(row.uuid, { timeoutMs: host.shutdownTimeoutMs });
        const patch: Partial<InstanceRow> = revert && spec.old_flavor
          ? { flavor: JSON.stringify(spec.old_flavor), spec: JSON.stringify({ ...spec, old_flavor: null }) }
          : {};
        const target = { ...row, ...patch };
        const wasRunning = row.desired === 'running';
        if (wasRunning) await hypervisor.spawn(await vmSpecOf(target));
        else await vmSpecOf(target);
        if (revert) await finishResize(deps, row, false);
        await done(target, { ...patch, vm_state: revert ? (wasRunning ? 'active' : 'stopped') : 'resized', power_state: wasRunning ? POWER.RUNNING : POWER.SHUTDOWN },
          revert ? 'compute_revert_resize' : 'compute_finish_resize');
        return false;
      }
      if (pending?.type === 'snapshot') {
        const file = join(host.snapshotDir, `${pending.imageId}.qcow2`);
        await mkdir(host.snapshotDir, { recursive: true });
        try {
          await hypervisor.snapshotDisk(row.uuid, 'root', file);
          await uploadSnapshot(deps, pending.imageId, file);
        } catch (err) {
          await discardSnapshotImage(deps, pending.imageId);
          // The server itself is fine: only the action failed (Nova leaves the vm_state as it was).
          await write(row, { task_state: null, pending_action: null });
          await finishAction(deps.db, deps.now(), row.uuid, 'compute_snapshot_instance', host.host, message(err));
          return false;
        } finally {
          await rm(file, { force: true });
        }
        await done(row, {}, 'compute_snapshot_instance');
        return false;
      }
      if (pending?.type === 'confirm_resize') {
        await finishResize(deps, row, true);
        await done(row, { vm_state: row.desired === 'running' ? 'active' : 'stopped', spec: JSON.stringify({ ...spec, old_flavor: null }) }, 'compute_confirm_resize');
        return false;
      }
      if (await syncNics(row, vm)) return true;
      const live = Boolean(vm && (vm.state === 'running' || vm.state === 'paused'));
      const changed = await syncServerVolumes(deps, host.storage, host.host, row.uuid, { live, diskNames: vm?.spec.disks.map((d) => d.name) ?? [] }, hypervisor);
      for (let i = 0; i < changed.attached; i++) await finishAction(deps.db, deps.now(), row.uuid, 'compute_attach_volume', host.host, undefined, 'attach_volume');
      for (let i = 0; i < changed.detached; i++) await finishAction(deps.db, deps.now(), row.uuid, 'compute_detach_volume', host.host, undefined, 'detach_volume');
      if (changed.retry) return true;
      const state = vm?.state ?? 'stopped';
      // A start needs the ports' taps (a port attached while the server was stopped is plugged now).
      if (row.desired === 'running' && state === 'stopped' && (row.task_state || row.vm_state === 'stopped') && !(await portsReady(row))) return true;
      switch (row.desired) {
        case 'running':
          if (state === 'stopped') {
            if (row.task_state === 'powering-on' || row.vm_state === 'stopped' && row.task_state) {
              const next = await hypervisor.spawn(await vmSpecOf(row));
              await done(row, { vm_state: 'active', power_state: powerOf(next) }, 'compute_start_instance');
            } else if (row.vm_state === 'active') {
              // The guest powered itself off, or QEMU died: SHUTOFF until someone starts it, as Nova's power sync leaves it.
              log.info({ instance: row.uuid }, 'VM is not running; the server is now SHUTOFF');
              await write(row, { vm_state: 'stopped', desired: 'stopped', power_state: POWER.SHUTDOWN, task_state: null });
            }
          } else if (state === 'paused') {
            await hypervisor.unpause(row.uuid);
            await done(row, { vm_state: 'active', power_state: POWER.RUNNING }, 'compute_unpause_instance');
          } else if (state === 'suspended') {
            const next = await hypervisor.resume(row.uuid);
            await done(row, { vm_state: 'active', power_state: powerOf(next) }, 'compute_resume_instance');
          } else {
            await write(row, { power_state: powerOf(vm), ...(row.task_state === 'powering-on' || row.task_state === 'unpausing' || row.task_state === 'resuming' ? { task_state: null, vm_state: 'active' } : {}) });
          }
          return false;
        case 'stopped':
          if (state !== 'stopped') await hypervisor.powerOff(row.uuid, { timeoutMs: host.shutdownTimeoutMs });
          if (row.task_state === 'powering-off') await done(row, { vm_state: 'stopped', power_state: POWER.SHUTDOWN }, 'compute_stop_instance');
          else await write(row, { power_state: POWER.SHUTDOWN });
          return false;
        case 'paused':
          if (state === 'running') await hypervisor.pause(row.uuid);
          else if (state !== 'paused') throw new Error(`the VM is ${state}, so it cannot be paused`);
          await done(row, { vm_state: 'paused', power_state: POWER.PAUSED }, 'compute_pause_instance');
          return false;
        case 'suspended':
          // Nova's suspend saves the guest's memory and frees the host's.
          if (state === 'running' || state === 'paused') await hypervisor.suspend(row.uuid);
          else if (state !== 'suspended') throw new Error(`the VM is ${state}, so it cannot be suspended`);
          await done(row, { vm_state: 'suspended', power_state: POWER.SUSPENDED }, 'compute_suspend_instance');
          return false;
        default:
          return false;
      }
    } catch (err) {
      await fail(row, `compute_${pending?.type ?? row.task_state ?? 'sync'}`, err);
      return false;
    }
  }

  /**
   * os-interface changes: detached ports are unplugged from a VM that runs and released; ports
   * attached to a VM that runs are hot-plugged once the network agent has plugged their taps.
   * True while waiting for that.
   */
  async function syncNics(row: InstanceRow, vm: ObservedVm | undefined): Promise<boolean> {
    const spec = specOf(row);
    const live = vm && (vm.state === 'running' || vm.state === 'paused');
    const detaching = spec.detaching ?? [];
    if (detaching.length) {
      for (const p of detaching) {
        if (live && vm.spec.nics.some((n) => n.portId === p.id)) await hypervisor.detachNic(row.uuid, p.id);
      }
      await releaseWorkloadPorts(deps.network, detaching);
      await write(row, { spec: JSON.stringify({ ...spec, detaching: [] }) });
      await finishAction(deps.db, deps.now(), row.uuid, 'compute_detach_interface', host.host, undefined, 'detach_interface');
    }
    if (!live) return false;
    const missing = portsOf(row).map((p) => p.id).filter((id) => !vm.spec.nics.some((n) => n.portId === id));
    if (!missing.length) return false;
    if (!(await portsReady(row))) return true;
    for (const p of await vmPortDetails(deps.network, missing)) {
      await hypervisor.attachNic(row.uuid, { portId: p.id, tapName: tapName(p.id), macAddress: p.macAddress, mtu: p.mtu });
    }
    await finishAction(deps.db, deps.now(), row.uuid, 'compute_attach_interface', host.host, undefined, 'attach_interface');
    return false;
  }

  /** Clears the task (and pending action) and ends the open instance action with `event`. */
  async function done(row: InstanceRow, patch: Partial<InstanceRow>, event: string): Promise<void> {
    const hadTask = row.task_state !== null || row.pending_action !== null;
    await write(row, { ...patch, task_state: null, pending_action: null });
    if (hadTask) await finishAction(deps.db, deps.now(), row.uuid, event, host.host);
  }

  return {
    name: 'compute',
    // Port changes and ports turning ACTIVE (PORT_STATUS_REVISION): a server waiting for its ports starts at once.
    revision: async () => (await readRevision(deps.db, COMPUTE_REVISION)) + (await networkRevision(deps.network.db)) + (await portStatusRevision(deps.network.db))
      // Volumes attached, detached, made available or extended.
      + (await readRevision(deps.volume.db, VOLUME_REVISION)) + (await readRevision(deps.volume.db, VOLUME_STATUS_REVISION)),
    async reconcile() {
      const rows = await deps.db.selectFrom('compute_instance').selectAll().where('host', '=', host.host).execute();
      const vms = new Map((await hypervisor.list()).map((vm) => [vm.instanceId, vm]));
      const known = new Set(rows.map((r) => r.uuid));
      let waiting = false;
      const work = async (row: InstanceRow) => {
        if (row.desired === 'deleted') return teardown(row).catch((err: unknown) => log.warn({ instance: row.uuid, err: message(err) }, 'teardown failed; retried on the next pass'));
        if (row.vm_state === 'building') {
          if (await build(row)) waiting = true;
          return;
        }
        if (row.vm_state === 'error' && !row.pending_action && !row.task_state) return;
        if (await converge(row, vms.get(row.uuid))) waiting = true;
      };
      const queue = [...rows];
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) await work(row);
      }));
      // VMs of this owner whose server is gone (deleted while Kumo was down, or a failed create).
      for (const [id] of vms) {
        if (!known.has(id)) {
          log.info({ instance: id }, 'removing a VM that has no server');
          await hypervisor.destroy(id).catch((err: unknown) => log.warn({ instance: id, err: message(err) }, 'orphan VM removal failed'));
        }
      }
      if (waiting) return { requeueMs: REQUEUE_MS };
      // A guest may power itself off or its QEMU die with no store change to announce it: look again soon.
      return [...vms.values()].some((vm) => vm.state !== 'stopped') ? { requeueMs: POWER_SYNC_MS } : undefined;
    },
  };
}
