/**
 * The hypervisor an agent drives: the only contract between the compute service and the code
 * that starts virtual machines. Everything here is plain data; no library types cross it.
 *
 * A VM is one QEMU process per instance, detached from Kumo so it keeps running when Kumo is
 * restarted or killed. Its files live in `<stateDir>/<instanceId>/` (spec, pidfile, QMP and
 * serial sockets, console log, overlay disks); a new driver instance finds every VM of its
 * owner there and controls it again. When the guest powers off, QEMU exits and the VM is
 * `stopped` with its files kept, so `spawn` of the same spec starts it again from its disks.
 *
 * Failures are KumoErrors: ERR_VALIDATION for a bad spec or name, ERR_CONFLICT when the VM's
 * state does not allow the operation (not running, no free hot-plug port, another owner's
 * directory), ERR_NOT_FOUND for an unknown disk or NIC, ERR_BAD_REQUEST for an image that fails
 * its checks, ERR_INTERNAL when QEMU or qemu-img fail (with their own message).
 * @module
 */

export type Accelerator = 'kvm' | 'tcg';

export interface HypervisorInfo {
  /** What VMs run with: kvm only when a probe guest actually booted under it. */
  readonly accel: Accelerator;
  /** Why that accelerator (e.g. "/dev/kvm present but the probe guest did not boot within 8000 ms"). */
  readonly accelReason: string;
  readonly qemuVersion: string;
  /** Host CPUs and memory (MiB), for placement inventories. */
  readonly cpus: number;
  readonly memoryMb: number;
  readonly machines: readonly MachineType[];
}

export type MachineType = 'q35' | 'microvm';

export interface DiskSpec {
  /** Stable name within the VM ([a-z0-9-]); QEMU's node and device ids derive from it. */
  readonly name: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** What the guest sees as the disk's serial (/sys/block/vdX/serial), e.g. a volume id (at most 20 characters reach it). */
  readonly serial?: string;
  readonly readonly?: boolean;
  /** Opened by other VMs too (a multiattach volume): written with shared write permission, as libvirt's <shareable/>. */
  readonly shareable?: boolean;
  /** Boot order for firmware boot; ignored with direct kernel boot. */
  readonly bootIndex?: number;
}

export interface NicSpec {
  /** The Neutron port id: QEMU's netdev and device ids derive from it. */
  readonly portId: string;
  /** The tap device, made and bridged by the net driver (plug kind 'tap'); QEMU only opens it. */
  readonly tapName: string;
  readonly macAddress: string;
  readonly mtu?: number;
}

export interface VmSpec {
  /** The instance UUID; also the VM's SMBIOS system UUID. */
  readonly instanceId: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  /** Default q35. microvm boots faster but takes no hot-plug and needs direct kernel boot. */
  readonly machine?: MachineType;
  readonly disks: readonly DiskSpec[];
  /** Direct kernel boot (AMI images with kernel_id/ramdisk_id properties). */
  readonly kernel?: string;
  readonly initrd?: string;
  readonly cmdline?: string;
  readonly nics: readonly NicSpec[];
  /** An ISO 9660 or VFAT image labelled config-2, attached read-only as a virtio disk with serial "config-2". */
  readonly configDrive?: string;
}

export type VmState =
  /** QEMU runs and the guest's CPUs run. */
  | 'running'
  /** QEMU runs with the guest's CPUs stopped (pause, suspend). */
  | 'paused'
  /** QEMU runs but the guest crashed (guest-panicked, internal-error). */
  | 'crashed'
  /** No QEMU for this instance: powered off by the guest or by Kumo, or QEMU died. The files are kept. */
  | 'stopped'
  /** No QEMU; the guest's memory and device state are saved in the instance directory, and `spawn` or `resume` continues it. */
  | 'suspended';

export interface ObservedVm {
  readonly instanceId: string;
  readonly name: string;
  readonly state: VmState;
  /** The QEMU process id while there is one. */
  readonly pid: number | null;
  readonly accel: Accelerator | null;
  readonly spec: VmSpec;
}

/** A byte stream to and from the VM's first serial port (one reader at a time: QEMU serves one client). */
export interface SerialConsole {
  onData(listener: (bytes: Uint8Array) => void): void;
  /** Called once when QEMU or the caller closes the stream. */
  onClose(listener: () => void): void;
  write(bytes: Uint8Array | string): void;
  close(): void;
}

export interface BaseImage {
  readonly imageId: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  readonly sizeBytes: number;
  /** The virtual disk size the image describes (for qcow2: its header; for raw: its length). */
  readonly virtualSizeBytes: number;
}

export interface ImageSourceCheck {
  /** Expected length in bytes. */
  readonly sizeBytes?: number;
  /** Expected digest of the content, e.g. Glance's os_hash_algo/os_hash_value or its md5 checksum. */
  readonly hash?: { readonly algorithm: 'md5' | 'sha256' | 'sha512'; readonly hex: string };
}

export interface Hypervisor {
  /**
   * What this host offers: accelerator (probed once by booting a tiny guest, cached in the
   * state dir), QEMU version, CPUs, memory. Rejects only when QEMU is not installed.
   */
  probe(): Promise<HypervisorInfo>;

  /**
   * Starts the VM described by `spec` (writes spec.json, then QEMU detached from Kumo). A VM of
   * this instance that is already running is left alone and reported; a suspended one is
   * resumed. On failure no QEMU runs and the instance directory keeps only spec.json, the
   * console log and the disks that were there; the error carries QEMU's own message.
   */
  spawn(spec: VmSpec): Promise<ObservedVm>;

  /** The VMs of this owner on the host (every instance directory with a spec.json), running or not. Reads only. */
  list(): Promise<ObservedVm[]>;

  /** One VM, or null when this owner has no such instance. Reads only. */
  state(instanceId: string): Promise<ObservedVm | null>;

  /**
   * Presses the ACPI power button and waits up to `timeoutMs` for the guest to power off (QEMU
   * exits); then stops QEMU hard. Resolves when no QEMU runs for the instance; files are kept.
   * A VM that is not running resolves at once; a suspended one loses its saved state (stopped).
   */
  powerOff(instanceId: string, options: { readonly timeoutMs: number }): Promise<void>;

  /**
   * Stops QEMU hard (if it runs) and removes the instance directory: overlay disks, sockets,
   * pidfile, console log, spec. Disks outside that directory (volumes, base images) are left.
   * Idempotent; when removal fails partway, calling it again finishes the job.
   */
  destroy(instanceId: string): Promise<void>;

  /** Stops (QMP stop) / continues (QMP cont) the guest's CPUs; the guest's memory stays in QEMU. Fails with no change when QEMU does not run. */
  pause(instanceId: string): Promise<void>;
  unpause(instanceId: string): Promise<void>;

  /**
   * Saves the guest's memory and device state to the instance directory (QMP migrate to a file)
   * and ends QEMU, freeing its memory: Nova's suspend. On failure the guest runs on (paused if
   * it was) and no state file is left.
   */
  suspend(instanceId: string): Promise<void>;
  /**
   * Starts QEMU from the saved state (-incoming) and removes the file once the guest runs. On
   * failure no QEMU runs and the state file is kept, so it can be retried.
   */
  resume(instanceId: string): Promise<ObservedVm>;

  /**
   * hard: system_reset (the reset button); QEMU keeps running. soft: what Nova's libvirt driver
   * does: the ACPI power button, up to `timeoutMs` for the guest to power off (then a hard stop),
   * and a fresh QEMU from spec.json. Fails with no change when QEMU does not run.
   */
  reboot(instanceId: string, kind: 'soft' | 'hard', options?: { readonly timeoutMs?: number }): Promise<ObservedVm>;

  /** The end of the serial console log (everything the guest wrote to its first serial port, across restarts). Empty when there is none. */
  consoleLog(instanceId: string, options?: { readonly tailBytes?: number }): Promise<string>;

  /**
   * Connects to the VM's serial port. Fails when QEMU does not run. QEMU serves one client at a
   * time: a second connection gets no data until the first closes, so the caller keeps one per VM.
   */
  openSerialConsole(instanceId: string): Promise<SerialConsole>;

  /**
   * Hot-plugs a NIC (QMP netdev_add + device_add, q35 only) and records it in spec.json so a
   * respawn has it. On failure the netdev added so far is removed and spec.json is unchanged.
   */
  attachNic(instanceId: string, nic: NicSpec): Promise<void>;
  /**
   * Unplugs a NIC (device_del, waits up to 30 s for the guest to release it, netdev_del) and
   * removes it from spec.json. When the guest does not release it in time the call fails with
   * spec.json unchanged (QEMU may still finish the unplug later; calling again then fails at device_del).
   */
  detachNic(instanceId: string, portId: string): Promise<void>;
  /** Hot-plugs a disk (QMP blockdev-add + device_add, q35 only); on failure the block node is removed and spec.json is unchanged. */
  attachDisk(instanceId: string, disk: DiskSpec): Promise<void>;
  /**
   * Unplugs a disk like detachNic (device_del, the wait, blockdev-del) and removes it from spec.json; the disk file is left.
   * A guest that does not release the device in time fails the call and leaves the disk in spec.json with the unplug
   * requested; calling again asks again, and finishes the removal when the guest released it meanwhile.
   */
  detachDisk(instanceId: string, diskName: string): Promise<void>;
  /**
   * Tells the running QEMU that a disk's file has grown to `sizeBytes` (QMP block_resize), so the
   * guest sees the new size at once (an online extend). Nothing when QEMU does not run: it reads
   * the size at its next start. On failure the guest keeps the old size.
   */
  resizeDisk(instanceId: string, diskName: string, sizeBytes: number): Promise<void>;

  /**
   * Makes sure the image is in this host's cache (each image stored once per host), reading
   * `openSource` only when it is not. The content is written to a temporary file, checked
   * against `check`, and renamed into place, so a failure (bad size or digest, a source error)
   * leaves no file in the cache.
   */
  ensureBaseImage(imageId: string, format: 'qcow2' | 'raw', check: ImageSourceCheck, openSource: () => AsyncIterable<Uint8Array>): Promise<BaseImage>;

  /**
   * Creates `<stateDir>/<instanceId>/<name>.qcow2`, a qcow2 overlay on the base image, with the
   * given size (never smaller than the image's virtual size). An existing overlay is kept and
   * grown to `sizeGb` if it is smaller (so a respawn keeps the guest's writes). On failure no
   * new overlay file is left.
   */
  createOverlay(instanceId: string, name: string, base: BaseImage, sizeGb: number): Promise<string>;

  /**
   * Writes `<stateDir>/<instanceId>/config-drive.iso`: an ISO 9660 file system labelled config-2
   * holding `files` (paths relative to its root, e.g. `openstack/latest/meta_data.json`), as Nova
   * makes config drives (genisoimage). Replaces an older one; on failure no new ISO is left.
   */
  createConfigDrive(instanceId: string, files: Readonly<Record<string, Uint8Array | string>>): Promise<string>;

  /**
   * Copies what the guest sees on one of its disks into `target`, a standalone qcow2 (the backing
   * chain flattened): a snapshot for `server image create`. A running guest is paused for the copy
   * and continued after it, whatever happened. On failure no `target` is left.
   */
  snapshotDisk(instanceId: string, diskName: string, target: string): Promise<void>;

  /** Removes the cached base image (not in use by any overlay of this owner: the caller checks). */
  removeBaseImage(imageId: string): Promise<void>;
}

export interface HypervisorOptions {
  /** Short label (<= 8 chars, [a-z0-9]) that marks this instance's QEMU processes. */
  readonly owner: string;
  /** Per-instance directories and the probe cache. */
  readonly stateDir: string;
  /** The base image cache. */
  readonly imageDir: string;
  /** Force an accelerator instead of probing ('auto' probes). */
  readonly accel?: Accelerator | 'auto';
  /** How long the KVM probe guest may take to boot before KVM is judged unusable (default 8000). */
  readonly kvmProbeTimeoutMs?: number;
}
