/**
 * The QEMU hypervisor: one detached qemu-system-x86_64 per instance, controlled over QMP, with
 * its files in `<stateDir>/<instanceId>/`. Nothing is kept in memory that a restarted Kumo
 * could not read back from those files and /proc: spec.json says what the VM is, the pidfile
 * and /proc/PID/cmdline (which must carry the instance id and this owner's process label) say
 * whether its QEMU still runs, and the QMP socket controls it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeCheckedStream } from '../../../lib/checked-stream.js';
import { createCommandRunner, type CommandRunner } from '../../../lib/command-runner.js';
import { KumoError } from '../../../errors.js';
import { findBinary } from '../../../lib/find-binary.js';
import { checkQcow2Image, qemuImgInfo } from '../../../lib/qemu-img.js';
import type { Logger } from '../../../log.js';
import type {
  BaseImage, DiskSpec, Hypervisor, HypervisorInfo, HypervisorOptions, ImageSourceCheck, ObservedVm, SerialConsole, VmSpec, VmState,
} from '../types.js';
import {
  blockdevArgs, buildQemuArgv, diskDevice, diskDeviceId, diskFileNodeName, diskNodeName, instancePaths, netdevArgs, nicDevice, nicDeviceId,
  nicNetdevId, processLabel, shellQuote, type HostFacts, type InstancePaths,
} from './argv.js';
import { withQmp, type QmpConnection } from './qmp.js';
import { chooseAccelerator, hostTscKhz, parseQemuVersion } from './probe.js';

export interface QemuDeps {
  readonly run?: CommandRunner;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DISK_NAME = /^[a-z0-9][a-z0-9-]{0,19}$/;
const IMAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const GIB = 1024 ** 3;
/** How long an unplug may take: Linux's PCIe hot-plug waits 5 s after the attention button before releasing the device. */
const UNPLUG_TIMEOUT_MS = 30_000;

export function validateSpec(spec: VmSpec): void {
  const fail = (m: string): never => {
    throw new KumoError('ERR_VALIDATION', `invalid VM spec: ${m}`);
  };
  if (!UUID.test(spec.instanceId)) fail(`instanceId ${JSON.stringify(spec.instanceId)} is not a UUID`);
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 255) fail('vcpus must be an integer from 1 to 255');
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 64) fail('memoryMb must be an integer of at least 64');
  if (spec.machine && spec.machine !== 'q35' && spec.machine !== 'microvm') fail(`unknown machine ${spec.machine}`);
  if (spec.machine === 'microvm' && !spec.kernel) fail('a microvm needs a kernel (direct kernel boot)');
  const names = new Set<string>();
  for (const d of spec.disks) {
    if (!DISK_NAME.test(d.name)) fail(`disk name ${JSON.stringify(d.name)} must match ${DISK_NAME}`);
    if (names.has(d.name)) fail(`disk name ${d.name} is used twice`);
    names.add(d.name);
    if (d.format !== 'qcow2' && d.format !== 'raw') fail(`disk ${d.name}: format must be qcow2 or raw`);
    if (!path.isAbsolute(d.path)) fail(`disk ${d.name}: path must be absolute`);
  }
  const ports = new Set<string>();
  for (const n of spec.nics) {
    if (!MAC.test(n.macAddress)) fail(`NIC ${n.portId}: ${JSON.stringify(n.macAddress)} is not a MAC address`);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.tapName)) fail(`NIC ${n.portId}: tap name ${JSON.stringify(n.tapName)} is not an interface name`);
    if (ports.has(nicDeviceId(n.portId))) fail(`NIC ${n.portId} is given twice`);
    ports.add(nicDeviceId(n.portId));
  }
}

/** Whether `pid` is a live (not zombie) process whose command line names this instance under this owner's label. */
async function isOurQemu(pid: number, instanceId: string, owner: string): Promise<boolean> {
  try {
    const [cmdline, statLine] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    if (/\) Z /.test(statLine)) return false;
    return cmdline.includes(instanceId) && cmdline.includes(`process=${processLabel(owner, instanceId)}`);
  } catch {
    return false;
  }
}

/** The console log is appended to across boots; at each start it is cut back to its last CONSOLE_LOG_KEEP bytes once it passes CONSOLE_LOG_MAX. */
const CONSOLE_LOG_MAX = 2 * 1024 * 1024;
const CONSOLE_LOG_KEEP = 512 * 1024;

export async function trimConsoleLog(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return;
  }
  let tail: Buffer;
  try {
    const { size } = await handle.stat();
    if (size <= CONSOLE_LOG_MAX) return;
    tail = Buffer.alloc(CONSOLE_LOG_KEEP);
    await handle.read(tail, 0, CONSOLE_LOG_KEEP, size - CONSOLE_LOG_KEEP);
  } finally {
    await handle.close();
  }
  await writeFileAtomic(file, tail);
}

async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

interface SpecRecord {
  readonly owner: string;
  readonly spec: VmSpec;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createQemuHypervisor(options: HypervisorOptions, logger: Logger, deps: QemuDeps = {}): Hypervisor {
  if (!/^[a-z0-9]{1,8}$/.test(options.owner)) throw new KumoError('ERR_VALIDATION', `owner label ${JSON.stringify(options.owner)} must be 1-8 of [a-z0-9]`);
  const run = deps.run ?? createCommandRunner();
  const log = logger.child({ driver: 'qemu' });
  const qemuBinary = findBinary('qemu-system-x86_64') ?? 'qemu-system-x86_64';
  let info: Promise<HypervisorInfo> | null = null;
  const downloads = new Map<string, Promise<BaseImage>>();

  const pathsOf = (instanceId: string): InstancePaths => {
    if (!UUID.test(instanceId)) throw new KumoError('ERR_VALIDATION', `instance id ${JSON.stringify(instanceId)} is not a UUID`);
    return instancePaths(options.stateDir, instanceId);
  };

  async function probe(): Promise<HypervisorInfo> {
    const version = await run.run([qemuBinary, '--version']);
    if (version.code !== 0) throw new KumoError('ERR_INTERNAL', `${qemuBinary} --version failed: ${version.stderr.trim()}`);
    const qemuVersion = parseQemuVersion(version.stdout);
    await mkdir(options.stateDir, { recursive: true });
    const verdict = await chooseAccelerator({
      stateDir: options.stateDir, qemuBinary, qemuVersion, forced: options.accel, timeoutMs: options.kvmProbeTimeoutMs ?? 8000,
    });
    log.info({ accel: verdict.accel, reason: verdict.reason, qemuVersion }, 'hypervisor accelerator chosen');
    return {
      accel: verdict.accel,
      accelReason: verdict.reason,
      qemuVersion,
      cpus: os.cpus().length,
      memoryMb: Math.floor(os.totalmem() / 1024 / 1024),
      machines: ['q35', 'microvm'],
    };
  }

  function cachedProbe(): Promise<HypervisorInfo> {
    info ??= probe().catch((err: unknown) => {
      info = null;
      throw err;
    });
    return info;
  }

  async function hostFacts(): Promise<HostFacts> {
    const { accel } = await cachedProbe();
    return { accel, tscKhz: hostTscKhz(await readFile('/proc/cpuinfo', 'utf8').catch(() => '')) };
  }

  /** The spec of an instance of this owner (spec.json records the owner, so a shared state dir is never confused). */
  async function readSpec(p: InstancePaths): Promise<VmSpec | null> {
    try {
      const record = JSON.parse(await readFile(p.spec, 'utf8')) as SpecRecord;
      return record.owner === options.owner ? record.spec : null;
    } catch {
      return null;
    }
  }

  /** Refuses to touch an instance directory another owner's spec.json claims. */
  async function assertNotForeign(p: InstancePaths): Promise<void> {
    try {
      const record = JSON.parse(await readFile(p.spec, 'utf8')) as SpecRecord;
      if (record.owner !== options.owner) throw new KumoError('ERR_CONFLICT', `${p.dir} belongs to Kumo owner ${JSON.stringify(record.owner)}`);
    } catch (err) {
      if (err instanceof KumoError) throw err;
    }
  }

  async function writeSpec(p: InstancePaths, spec: VmSpec): Promise<void> {
    const record: SpecRecord = { owner: options.owner, spec };
    await writeFileAtomic(p.spec, `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The pid of this instance's QEMU when it runs, else null. */
  async function livePid(p: InstancePaths, instanceId: string): Promise<number | null> {
    let pid: number;
    try {
      pid = Number((await readFile(p.pidfile, 'utf8')).trim());
    } catch {
      return null;
    }
    return Number.isInteger(pid) && pid > 0 && (await isOurQemu(pid, instanceId, options.owner)) ? pid : null;
  }

  async function observe(instanceId: string): Promise<ObservedVm | null> {
    const p = pathsOf(instanceId);
    const spec = await readSpec(p);
    if (!spec) return null;
    const pid = await livePid(p, instanceId);
    let state: VmState = existsSync(p.savedState) ? 'suspended' : 'stopped';
    let accel: ObservedVm['accel'] = null;
    if (pid) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      accel = cmdline.includes('\0-accel\0kvm\0') ? 'kvm' : 'tcg';
      state = 'running';
      try {
        const status = await withQmp(p.qmpSocket, (q) => q.execute<{ status: string }>('query-status'));
        if (status.status === 'guest-panicked' || status.status === 'internal-error' || status.status === 'io-error') state = 'crashed';
        else if (status.status !== 'running') state = 'paused';
      } catch (err) {
        // QEMU runs but QMP did not answer (busy with another client, or just starting): it is not stopped.
        log.debug({ instanceId, err: (err as Error).message }, 'QMP status query failed');
      }
    }
    return { instanceId, name: spec.name, state, pid, accel, spec };
  }

  async function requireRunning(instanceId: string): Promise<InstancePaths> {
    const p = pathsOf(instanceId);
    if (!(await livePid(p, instanceId))) throw new KumoError('ERR_CONFLICT', `VM ${instanceId} is not running`);
    return p;
  }

  /** Waits until the QEMU of `instanceId` is gone; false when it still runs at the deadline. */
  async function waitGone(p: InstancePaths, instanceId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await livePid(p, instanceId))) return true;
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
  }

  async function hardStop(instanceId: string): Promise<void> {
    const p = pathsOf(instanceId);
    const pid = await livePid(p, instanceId);
    if (!pid) return;
    try {
      await withQmp(p.qmpSocket, (q) => q.execute('quit'));
    } catch {
      // QEMU may close the socket before answering quit, or QMP may be unusable: the wait or the signal below decides.
    }
    if (await waitGone(p, instanceId, 3000)) return;
    log.warn({ instanceId, pid }, 'QEMU did not quit; killing it');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (!(await waitGone(p, instanceId, 5000))) throw new KumoError('ERR_INTERNAL', `QEMU ${pid} of VM ${instanceId} did not exit after SIGKILL`);
  }

  async function spawnVm(spec: VmSpec): Promise<ObservedVm> {
    validateSpec(spec);
    const p = pathsOf(spec.instanceId);
    if (await livePid(p, spec.instanceId)) return (await observe(spec.instanceId))!;
    await assertNotForeign(p);
    if (existsSync(p.savedState)) return resumeVm(spec.instanceId);
    return startQemu(spec, p);
  }

  /** Writes spec.json and starts QEMU (booting, or loading `resumeFrom`); on failure no QEMU and no sockets are left. */
  async function startQemu(spec: VmSpec, p: InstancePaths, resumeFrom?: string): Promise<ObservedVm> {
    const facts = await hostFacts();
    const argv = buildQemuArgv(spec, p, facts, { owner: options.owner, binary: qemuBinary, resumeFrom });
    await mkdir(p.dir, { recursive: true });
    if (p.socketDir) await mkdir(p.socketDir, { recursive: true, mode: 0o700 });
    await writeSpec(p, spec);
    await Promise.all([p.pidfile, p.qmpSocket, p.consoleSocket].map((f) => rm(f, { force: true })));
    await trimConsoleLog(p.consoleLog);
    // With -daemonize QEMU's first process exits once the VM is set up (or failed to be): its status and stderr are the verdict.
    const result = await run.run(argv, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      await Promise.all([p.pidfile, p.qmpSocket, p.consoleSocket].map((f) => rm(f, { force: true })));
      throw new KumoError('ERR_INTERNAL', `QEMU could not start VM ${spec.instanceId}: ${result.stderr.trim() || `exit status ${result.code}`}`);
    }
    log.info({ instanceId: spec.instanceId, accel: facts.accel, machine: spec.machine ?? 'q35', resumed: Boolean(resumeFrom) }, 'VM started');
    const observed = await observe(spec.instanceId);
    if (!observed || !observed.pid) throw new KumoError('ERR_INTERNAL', `QEMU reported success but VM ${spec.instanceId} does not run (it may have exited at once; see its console log)`);
    return observed;
  }

  async function powerOff(instanceId: string, timeoutMs: number): Promise<void> {
    const p = pathsOf(instanceId);
    if (!(await livePid(p, instanceId))) {
      // Powering off a suspended VM discards its saved memory, as a power cut would.
      await rm(p.savedState, { force: true });
      return;
    }
    try {
      await withQmp(p.qmpSocket, async (q) => {
        // A paused guest cannot see the power button: let it run so it can shut down cleanly.
        const status = await q.execute<{ running: boolean }>('query-status');
        if (!status.running) await q.execute('cont').catch(() => undefined);
        await q.execute('system_powerdown');
      });
      if (await waitGone(p, instanceId, timeoutMs)) {
        log.info({ instanceId }, 'VM powered off by the guest');
        return;
      }
      log.info({ instanceId, timeoutMs }, 'the guest did not power off in time; stopping QEMU');
    } catch (err) {
      log.warn({ instanceId, err: (err as Error).message }, 'ACPI power button failed; stopping QEMU');
    }
    await hardStop(instanceId);
  }

  /** Waits until no process has `file` on its command line (the `cat` of an exec: migration). */
  async function waitForWriters(file: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let busy = false;
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes(file)) {
          busy = true;
          break;
        }
      }
      if (!busy) return;
      if (Date.now() > deadline) throw new KumoError('ERR_INTERNAL', `the writer of ${file} did not finish within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async function suspendVm(instanceId: string): Promise<void> {
    const p = await requireRunning(instanceId);
    const tmp = `${p.savedState}.tmp`;
    await rm(tmp, { force: true });
    await withQmp(p.qmpSocket, async (q) => {
      const wasRunning = (await q.execute<{ running: boolean }>('query-status')).running;
      try {
        await q.execute('stop');
        // The default migration bandwidth limit (tens of MiB/s) is meant for networks, not a local file.
        await q.execute('migrate-set-parameters', { 'max-bandwidth': 64 * GIB });
        await q.execute('migrate', { uri: `exec:cat > ${shellQuote(tmp)}` });
        for (let status = ''; status !== 'completed'; await sleep(100)) {
          status = (await q.execute<{ status?: string }>('query-migrate')).status ?? '';
          if (status === 'failed' || status === 'cancelled') throw new KumoError('ERR_INTERNAL', `saving the state of VM ${instanceId} ${status}`);
        }
        // `completed` means QEMU has written everything into the pipe; the file is whole once its `cat` has exited.
        await waitForWriters(tmp, 30_000);
        await rename(tmp, p.savedState);
      } catch (err) {
        await rm(tmp, { force: true });
        if (wasRunning) await q.execute('cont').catch(() => undefined);
        throw err;
      }
    });
    await hardStop(instanceId);
    log.info({ instanceId }, 'VM suspended to its state file');
  }

  async function resumeVm(instanceId: string): Promise<ObservedVm> {
    const p = pathsOf(instanceId);
    if (await livePid(p, instanceId)) return (await observe(instanceId))!;
    const spec = await readSpec(p);
    if (!spec) throw new KumoError('ERR_NOT_FOUND', `no VM ${instanceId}`);
    if (!existsSync(p.savedState)) throw new KumoError('ERR_CONFLICT', `VM ${instanceId} is not suspended`);
    await startQemu(spec, p, p.savedState);
    try {
      await withQmp(p.qmpSocket, async (q) => {
        let status = 'inmigrate';
        for (const deadline = Date.now() + 120_000; status === 'inmigrate'; await sleep(100)) {
          if (Date.now() > deadline) throw new KumoError('ERR_INTERNAL', `VM ${instanceId} did not load its saved state within 120 s`);
          status = (await q.execute<{ status: string }>('query-status')).status;
        }
        // The state was saved with the guest stopped, so it arrives paused.
        if (status === 'paused') await q.execute('cont');
        else if (status !== 'running') throw new KumoError('ERR_INTERNAL', `VM ${instanceId} is ${status} after loading its saved state`);
      });
    } catch (err) {
      await hardStop(instanceId);
      throw err;
    }
    await rm(p.savedState, { force: true });
    log.info({ instanceId }, 'VM resumed from its state file');
    return (await observe(instanceId))!;
  }

  /** The first root port with nothing plugged into it (q35), from QEMU's own PCI tree. */
  async function freeRootPort(qmp: QmpConnection): Promise<string> {
    interface PciDevice { qdev_id?: string; pci_bridge?: { devices?: PciDevice[] } }
    const buses = await qmp.execute<{ devices: PciDevice[] }[]>('query-pci');
    for (const dev of buses[0]?.devices ?? []) {
      if (dev.qdev_id?.startsWith('rp') && dev.pci_bridge && (dev.pci_bridge.devices ?? []).length === 0) return dev.qdev_id;
    }
    throw new KumoError('ERR_CONFLICT', 'no free PCIe root port left for hot-plug (a respawn adds spare ones)');
  }

  async function unplug(qmp: QmpConnection, deviceId: string): Promise<void> {
    const deleted = qmp.waitForEvent('DEVICE_DELETED', UNPLUG_TIMEOUT_MS, (e) => e.data.device === deviceId);
    deleted.catch(() => undefined);
    await qmp.execute('device_del', { id: deviceId });
    await deleted;
  }

  /** Rewrites spec.json with `change` applied; the caller holds the VM's QEMU in the matching state. */
  async function updateSpec(p: InstancePaths, change: (spec: VmSpec) => VmSpec): Promise<void> {
    const spec = await readSpec(p);
    if (!spec) throw new KumoError('ERR_NOT_FOUND', `no spec.json in ${p.dir}`);
    await writeSpec(p, change(spec));
  }

  async function hotplugTarget(instanceId: string): Promise<{ p: InstancePaths; spec: VmSpec }> {
    const p = await requireRunning(instanceId);
    const spec = (await readSpec(p))!;
    if ((spec.machine ?? 'q35') !== 'q35') throw new KumoError('ERR_CONFLICT', `VM ${instanceId} is a ${spec.machine}, which has no hot-plug`);
    return { p, spec };
  }

  async function baseImageInfo(imageId: string, format: 'qcow2' | 'raw', file: string): Promise<BaseImage> {
    const [st, img] = await Promise.all([stat(file), qemuImgInfo(run, file, { format })]);
    return { imageId, path: file, format, sizeBytes: st.size, virtualSizeBytes: img.virtualSize };
  }

  async function download(imageId: string, format: 'qcow2' | 'raw', file: string, check: ImageSourceCheck, openSource: () => AsyncIterable<Uint8Array>): Promise<BaseImage> {
    const tmp = `${file}.part-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      await writeCheckedStream(tmp, openSource(), check, `image ${imageId}`);
      if (format === 'qcow2') await checkQcow2Image(run, tmp, `image ${imageId}`);
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    log.info({ imageId, format }, 'base image cached');
    return baseImageInfo(imageId, format, file);
  }

  return {
    probe: cachedProbe,
    spawn: spawnVm,

    async list() {
      let entries: string[];
      try {
        entries = await readdir(options.stateDir);
      } catch {
        return [];
      }
      const vms = await Promise.all(entries.filter((e) => UUID.test(e)).map((e) => observe(e)));
      return vms.filter((v): v is ObservedVm => v !== null);
    },

    state: observe,

    powerOff: (instanceId, { timeoutMs }) => powerOff(instanceId, timeoutMs),

    async destroy(instanceId) {
      const p = pathsOf(instanceId);
      await assertNotForeign(p);
      await hardStop(instanceId);
      await rm(p.dir, { recursive: true, force: true });
      if (p.socketDir) await rm(p.socketDir, { recursive: true, force: true });
      log.info({ instanceId }, 'VM destroyed');
    },

    suspend: suspendVm,
    resume: resumeVm,

    async pause(instanceId) {
      await withQmp((await requireRunning(instanceId)).qmpSocket, (q) => q.execute('stop'));
    },

    async unpause(instanceId) {
      await withQmp((await requireRunning(instanceId)).qmpSocket, (q) => q.execute('cont'));
    },

    async reboot(instanceId, kind, rebootOptions = {}) {
      const p = await requireRunning(instanceId);
      if (kind === 'hard') {
        await withQmp(p.qmpSocket, (q) => q.execute('system_reset'));
        return (await observe(instanceId))!;
      }
      const spec = (await readSpec(p))!;
      await powerOff(instanceId, rebootOptions.timeoutMs ?? 60_000);
      return spawnVm(spec);
    },

    async consoleLog(instanceId, logOptions = {}) {
      const p = pathsOf(instanceId);
      let handle;
      try {
        handle = await open(p.consoleLog, 'r');
      } catch {
        return '';
      }
      try {
        const { size } = await handle.stat();
        const length = Math.min(size, logOptions.tailBytes ?? size);
        const buf = Buffer.alloc(length);
        await handle.read(buf, 0, length, size - length);
        return buf.toString('utf8');
      } finally {
        await handle.close();
      }
    },

    async openSerialConsole(instanceId) {
      const p = await requireRunning(instanceId);
      const socket = net.createConnection(p.consoleSocket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', (err) => reject(new KumoError('ERR_CONFLICT', `serial console of VM ${instanceId}: ${err.message}`)));
      });
      const console: SerialConsole = {
        onData: (listener) => socket.on('data', (d: Buffer) => listener(new Uint8Array(d))),
        onClose: (listener) => socket.once('close', () => listener()),
        write: (bytes) => socket.write(bytes),
        close: () => socket.destroy(),
      };
      socket.on('error', () => socket.destroy());
      return console;
    },

    async attachNic(instanceId, nic) {
      const { p, spec } = await hotplugTarget(instanceId);
      validateSpec({ ...spec, nics: [...spec.nics, nic] });
      await withQmp(p.qmpSocket, async (q) => {
        await q.execute('netdev_add', netdevArgs(nic));
        try {
          await q.execute('device_add', nicDevice('q35', nic, await freeRootPort(q)));
        } catch (err) {
          await q.execute('netdev_del', { id: nicNetdevId(nic.portId) }).catch(() => undefined);
          throw err;
        }
      });
      await updateSpec(p, (s) => ({ ...s, nics: [...s.nics, nic] }));
    },

    async detachNic(instanceId, portId) {
      const { p, spec } = await hotplugTarget(instanceId);
      if (!spec.nics.some((n) => n.portId === portId)) throw new KumoError('ERR_NOT_FOUND', `VM ${instanceId} has no NIC for port ${portId}`);
      await withQmp(p.qmpSocket, async (q) => {
        await unplug(q, nicDeviceId(portId));
        await q.execute('netdev_del', { id: nicNetdevId(portId) });
      });
      await updateSpec(p, (s) => ({ ...s, nics: s.nics.filter((n) => n.portId !== portId) }));
    },

    async attachDisk(instanceId, disk: DiskSpec) {
      const { p, spec } = await hotplugTarget(instanceId);
      validateSpec({ ...spec, disks: [...spec.disks, disk] });
      const { file, format } = blockdevArgs(disk);
      await withQmp(p.qmpSocket, async (q) => {
        await q.execute('blockdev-add', file);
        try {
          await q.execute('blockdev-add', format);
          try {
            await q.execute('device_add', diskDevice('q35', disk, await freeRootPort(q), false));
          } catch (err) {
            await q.execute('blockdev-del', { 'node-name': diskNodeName(disk.name) }).catch(() => undefined);
            throw err;
          }
        } catch (err) {
          await q.execute('blockdev-del', { 'node-name': diskFileNodeName(disk.name) }).catch(() => undefined);
          throw err;
        }
      });
      await updateSpec(p, (s) => ({ ...s, disks: [...s.disks, disk] }));
    },

    async detachDisk(instanceId, diskName) {
      const { p, spec } = await hotplugTarget(instanceId);
      if (!spec.disks.some((d) => d.name === diskName)) throw new KumoError('ERR_NOT_FOUND', `VM ${instanceId} has no disk ${diskName}`);
      await withQmp(p.qmpSocket, async (q) => {
        try {
          await unplug(q, diskDeviceId(diskName));
        } catch (err) {
          // The guest released the device after an earlier call stopped waiting: only the block nodes are left.
          if (!/not found/i.test(err instanceof Error ? err.message : String(err))) throw err;
        }
        await q.execute('blockdev-del', { 'node-name': diskNodeName(diskName) });
        await q.execute('blockdev-del', { 'node-name': diskFileNodeName(diskName) });
      });
      await updateSpec(p, (s) => ({ ...s, disks: s.disks.filter((d) => d.name !== diskName) }));
    },

    async resizeDisk(instanceId, diskName, sizeBytes) {
      if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new KumoError('ERR_VALIDATION', `disk size ${sizeBytes} is not a positive number of bytes`);
      const vm = await observe(instanceId);
      if (!vm) throw new KumoError('ERR_NOT_FOUND', `VM ${instanceId} does not exist`);
      const p = pathsOf(instanceId);
      const spec = (await readSpec(p))!;
      if (!spec.disks.some((d) => d.name === diskName)) throw new KumoError('ERR_NOT_FOUND', `VM ${instanceId} has no disk ${diskName}`);
      if (vm.state === 'stopped' || vm.state === 'suspended') return;
      await withQmp(p.qmpSocket, (q) => q.execute('block_resize', { 'node-name': diskNodeName(diskName), size: sizeBytes }));
    },

    async ensureBaseImage(imageId, format, check, openSource) {
      if (!IMAGE_ID.test(imageId)) throw new KumoError('ERR_VALIDATION', `image id ${JSON.stringify(imageId)} is not usable as a file name`);
      if (format !== 'qcow2' && format !== 'raw') throw new KumoError('ERR_VALIDATION', `image format ${String(format)} is not qcow2 or raw`);
      const file = path.join(options.imageDir, `${imageId}.${format}`);
      if (existsSync(file)) return baseImageInfo(imageId, format, file);
      // Concurrent requests for one image share one download, the first caller's: the lookup and the
      // registration have no await between them (an mkdir there let a later caller's finish first).
      let pending = downloads.get(file);
      if (!pending) {
        pending = mkdir(options.imageDir, { recursive: true })
          .then(() => download(imageId, format, file, check, openSource))
          .finally(() => downloads.delete(file));
        downloads.set(file, pending);
      }
      return pending;
    },

    async createOverlay(instanceId, name, base, sizeGb) {
      const p = pathsOf(instanceId);
      if (!DISK_NAME.test(name)) throw new KumoError('ERR_VALIDATION', `disk name ${JSON.stringify(name)} must match ${DISK_NAME}`);
      if (!Number.isFinite(sizeGb) || sizeGb < 0) throw new KumoError('ERR_VALIDATION', 'sizeGb must be a number >= 0');
      const file = path.join(p.dir, `${name}.qcow2`);
      const size = Math.max(Math.ceil(sizeGb * GIB), base.virtualSizeBytes);
      await mkdir(p.dir, { recursive: true });
      if (existsSync(file)) {
        const current = await qemuImgInfo(run, file, { format: 'qcow2' });
        if (current.virtualSize < size) {
          const r = await run.run(['qemu-img', 'resize', '-f', 'qcow2', file, String(size)]);
          if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `qemu-img resize ${file}: ${r.stderr.trim()}`);
        }
        return file;
      }
      const tmp = `${file}.tmp-${process.pid}`;
      const r = await run.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base.path, '-F', base.format, tmp, String(size)]);
      if (r.code !== 0) {
        await rm(tmp, { force: true });
        throw new KumoError('ERR_INTERNAL', `qemu-img create overlay for ${instanceId}: ${r.stderr.trim()}`);
      }
      await rename(tmp, file);
      return file;
    },

    async createConfigDrive(instanceId, files) {
      const p = pathsOf(instanceId);
      await assertNotForeign(p);
      await mkdir(p.dir, { recursive: true });
      const stage = path.join(p.dir, `config-drive.stage-${randomBytes(4).toString('hex')}`);
      const iso = path.join(p.dir, 'config-drive.iso');
      const tmp = `${iso}.tmp-${process.pid}`;
      try {
        for (const [name, content] of Object.entries(files)) {
          const file = path.resolve(stage, name);
          if (!file.startsWith(`${stage}/`)) throw new KumoError('ERR_VALIDATION', `config drive path ${JSON.stringify(name)} leaves the drive`);
          await mkdir(path.dirname(file), { recursive: true });
          await writeFile(file, content);
        }
        // Nova's options: Rock Ridge and Joliet names, lower case and several dots kept, volume label config-2.
        const r = await run.run(['genisoimage', '-o', tmp, '-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-publisher', 'Kumo', '-quiet', '-J', '-r', '-V', 'config-2', stage]);
        if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `genisoimage for ${instanceId}: ${r.stderr.trim() || `exit ${r.code}`}`);
        await rename(tmp, iso);
        return iso;
      } finally {
        await rm(stage, { recursive: true, force: true });
        await rm(tmp, { force: true });
      }
    },

    async snapshotDisk(instanceId, diskName, target) {
      const p = pathsOf(instanceId);
      const spec = await readSpec(p);
      const disk = spec?.disks.find((d) => d.name === diskName);
      if (!spec || !disk) throw new KumoError('ERR_NOT_FOUND', `instance ${instanceId} has no disk ${diskName}`);
      const observed = await observe(instanceId);
      const pausedHere = observed?.state === 'running';
      if (pausedHere) await withQmp(p.qmpSocket, (q) => q.execute('stop'));
      const tmp = `${target}.tmp-${process.pid}`;
      try {
        // -U: QEMU holds the image's lock while it runs; the guest is paused, so the copy is consistent.
        const r = await run.run(['qemu-img', 'convert', '-U', '-q', '-f', disk.format, '-O', 'qcow2', disk.path, tmp]);
        if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `qemu-img convert of ${instanceId}/${diskName}: ${r.stderr.trim()}`);
        await rename(tmp, target);
      } finally {
        await rm(tmp, { force: true });
        if (pausedHere) await withQmp(p.qmpSocket, (q) => q.execute('cont')).catch((err: unknown) => log.warn({ instanceId, err }, 'could not continue the guest after a snapshot'));
      }
    },

    async removeBaseImage(imageId) {
      if (!IMAGE_ID.test(imageId)) throw new KumoError('ERR_VALIDATION', `image id ${JSON.stringify(imageId)} is not usable as a file name`);
      await Promise.all(['qcow2', 'raw'].map((f) => rm(path.join(options.imageDir, `${imageId}.${f}`), { force: true })));
    },
  };
}

