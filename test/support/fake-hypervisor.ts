/**
 * A recording, in-memory Hypervisor for API tests of the compute service's state machine (the
 * product always runs the real QEMU driver; the integration and e2e tests do).
 */
import type { BaseImage, Hypervisor, HypervisorInfo, ObservedVm, SerialConsole, VmSpec } from '../../src/drivers/qemu/types.js';

export interface FakeHypervisor extends Hypervisor {
  readonly calls: string[];
  readonly vms: Map<string, ObservedVm>;
  /** Makes the next spawn fail with this message. */
  failNextSpawn(message: string): void;
  /** Makes the next detachDisk fail with this message (a guest that did not release the disk in time). */
  failNextDetach(message: string): void;
  /** What the guest "printed". */
  console: Map<string, string>;
}

export function fakeHypervisor(info: Partial<HypervisorInfo> = {}): FakeHypervisor {
  const calls: string[] = [];
  const vms = new Map<string, ObservedVm>();
  const consoleText = new Map<string, string>();
  let failure: string | null = null;
  let detachFailure: string | null = null;
  const set = (spec: VmSpec, state: ObservedVm['state']) => {
    const vm: ObservedVm = { instanceId: spec.instanceId, name: spec.name, state, pid: state === 'stopped' || state === 'suspended' ? null : 4242, accel: 'tcg', spec };
    vms.set(spec.instanceId, vm);
    return vm;
  };
  const need = (id: string) => {
    const vm = vms.get(id);
    if (!vm || vm.state === 'stopped' || vm.state === 'suspended') throw new Error(`VM ${id} is not running`);
    return vm;
  };
  return {
    calls,
    vms,
    console: consoleText,
    failNextSpawn(message) {
      failure = message;
    },
    failNextDetach(message) {
      detachFailure = message;
    },
    async probe() {
      return { accel: 'tcg', accelReason: 'fake', qemuVersion: '7.2.0', cpus: 4, memoryMb: 8192, machines: ['q35', 'microvm'], ...info };
    },
    async spawn(spec) {
      calls.push(`spawn ${spec.instanceId} vcpus=${spec.vcpus} mem=${spec.memoryMb} nics=${spec.nics.map((n) => n.tapName).join(',')}`);
      if (failure) {
        const m = failure;
        failure = null;
        throw new Error(m);
      }
      consoleText.set(spec.instanceId, `${consoleText.get(spec.instanceId) ?? ''}boot ${spec.instanceId}\nKUMO-GUEST-UP\n`);
      return set(spec, 'running');
    },
    async list() {
      return [...vms.values()];
    },
    async state(id) {
      return vms.get(id) ?? null;
    },
    async powerOff(id) {
      calls.push(`powerOff ${id}`);
      const vm = vms.get(id);
      if (vm) set(vm.spec, 'stopped');
    },
    async destroy(id) {
      calls.push(`destroy ${id}`);
      vms.delete(id);
    },
    async pause(id) {
      calls.push(`pause ${id}`);
      set(need(id).spec, 'paused');
    },
    async unpause(id) {
      calls.push(`unpause ${id}`);
      set(need(id).spec, 'running');
    },
    async suspend(id) {
      calls.push(`suspend ${id}`);
      set(need(id).spec, 'suspended');
    },
    async resume(id) {
      calls.push(`resume ${id}`);
      const vm = vms.get(id);
      if (!vm || vm.state !== 'suspended') throw new Error(`VM ${id} is not suspended`);
      return set(vm.spec, 'running');
    },
    async reboot(id, kind) {
      calls.push(`reboot ${id} ${kind}`);
      return set(need(id).spec, 'running');
    },
    async consoleLog(id) {
      return consoleText.get(id) ?? '';
    },
    async openSerialConsole(id): Promise<SerialConsole> {
      need(id);
      throw new Error('the fake hypervisor has no serial console');
    },
    async attachNic(id, nic) {
      calls.push(`attachNic ${id} ${nic.portId}`);
      const vm = need(id);
      set({ ...vm.spec, nics: [...vm.spec.nics, nic] }, vm.state);
    },
    async detachNic(id, portId) {
      calls.push(`detachNic ${id} ${portId}`);
      const vm = need(id);
      set({ ...vm.spec, nics: vm.spec.nics.filter((n) => n.portId !== portId) }, vm.state);
    },
    async attachDisk(id, disk) {
      calls.push(`attachDisk ${id} ${disk.name}`);
      const vm = need(id);
      set({ ...vm.spec, disks: [...vm.spec.disks, disk] }, vm.state);
    },
    async resizeDisk(id, name, sizeBytes) {
      calls.push(`resizeDisk ${id} ${name} ${sizeBytes}`);
    },
    async detachDisk(id, name) {
      calls.push(`detachDisk ${id} ${name}`);
      const vm = need(id);
      if (detachFailure) {
        const m = detachFailure;
        detachFailure = null;
        throw new Error(m);
      }
      set({ ...vm.spec, disks: vm.spec.disks.filter((d) => d.name !== name) }, vm.state);
    },
    async ensureBaseImage(imageId, format, _check, openSource): Promise<BaseImage> {
      let size = 0;
      for await (const chunk of openSource()) size += chunk.length;
      calls.push(`ensureBaseImage ${imageId}`);
      return { imageId, path: `/fake/images/${imageId}`, format, sizeBytes: size, virtualSizeBytes: size };
    },
    async createOverlay(id, name) {
      calls.push(`createOverlay ${id} ${name}`);
      return `/fake/instances/${id}/${name}.qcow2`;
    },
    async createConfigDrive(id, files) {
      calls.push(`createConfigDrive ${id} ${Object.keys(files).sort().join(',')}`);
      return `/fake/instances/${id}/config-drive.iso`;
    },
    async snapshotDisk(id, disk, target) {
      calls.push(`snapshotDisk ${id} ${disk}`);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(target, Buffer.from(`snapshot of ${id}`));
    },
    async removeBaseImage(imageId) {
      calls.push(`removeBaseImage ${imageId}`);
    },
  };
}
