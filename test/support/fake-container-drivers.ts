/**
 * In-memory container runtime and image store for API tests of the container controller (the
 * product runs runc/crun under conmon and the OCI image store; test/integration proves those).
 * The runtime keeps each container's spec, state and limits; the image store knows busybox only.
 */
import type {
  ContainerLimits, ContainerRuntime, ContainerSpec, ExecResult, ImageStore, InteractiveSession, ObservedContainer, StoredImage,
} from '../../src/drivers/oci/types.js';

export const BUSYBOX: StoredImage = {
  id: 'sha256:bb', manifestDigest: 'sha256:m', repoTags: ['docker.io/library/busybox:latest'], size: 1, architecture: 'amd64', os: 'linux', layers: [], createdAt: null,
  config: { entrypoint: null, cmd: ['sh'], env: ['PATH=/bin'], workingDir: '', user: '', exposedPorts: [], labels: {}, stopSignal: null },
};

export class FakeImages implements ImageStore {
  readonly rootfs = new Set<string>();
  async pull(reference: string) {
    if (reference !== 'busybox') throw new Error(`manifest unknown: ${reference}`);
    return BUSYBOX;
  }
  async importArchive() { return []; }
  async list() { return [BUSYBOX]; }
  async get(name: string) { return name === 'busybox' || name === BUSYBOX.id ? BUSYBOX : null; }
  async remove() {}
  async mountRootfs(_image: string, id: string) { this.rootfs.add(id); return `/fake/${id}`; }
  async removeRootfs(id: string) { this.rootfs.delete(id); }
  async listRootfs() { return [...this.rootfs]; }
  async garbageCollect() { return { removedLayers: 0, freedBytes: 0 }; }
}

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, { spec: ContainerSpec; state: ObservedContainer['state']; exitCode: number | null; limits: ContainerLimits }>();
  readonly netns = new Set<string>();
  async ensureNetns(id: string) { this.netns.add(id); return `ns-${id}`; }
  async removeNetns(id: string) { this.netns.delete(id); }
  async create(spec: ContainerSpec) { this.containers.set(spec.id, { spec, state: 'created', exitCode: null, limits: spec.limits }); }
  private get(id: string) {
    const c = this.containers.get(id);
    if (!c) throw new Error(`no container ${id}`);
    return c;
  }
  /** As runc: only a created container starts. */
  async start(id: string) {
    const c = this.get(id);
    if (c.state !== 'created') throw new Error(`cannot start a container in state ${c.state}`);
    c.state = 'running';
    this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
  }
  readonly starts = new Map<string, number>();
  async stop(id: string) { const c = this.get(id); if (c.state !== 'stopped') { c.state = 'stopped'; c.exitCode = 143; } }
  async kill(id: string, signal: string) { const c = this.get(id); c.state = 'stopped'; c.exitCode = signal === 'SIGKILL' ? 137 : 128 + 15; }
  async pause(id: string) { this.get(id).state = 'paused'; }
  async unpause(id: string) { this.get(id).state = 'running'; }
  async delete(id: string) { this.containers.delete(id); }
  async update(id: string, limits: ContainerLimits) { this.get(id).limits = limits; }
  async exec(id: string, args: readonly string[]): Promise<ExecResult> { this.get(id); return { exitCode: args[0] === 'false' ? 1 : 0, output: `ran ${args.join(' ')}\n` }; }
  readonly sizes: [number, number][] = [];
  /** An echo "terminal": what is written comes back upper-cased; `exit` ends it. */
  async execInteractive(id: string): Promise<InteractiveSession> {
    if (this.get(id).state !== 'running') throw new Error(`container ${id} is not running`);
    const listeners: ((d: Uint8Array) => void)[] = [];
    let end!: (code: number | null) => void;
    const exited = new Promise<number | null>((resolve) => (end = resolve));
    return {
      write: (d) => {
        const text = Buffer.from(d).toString();
        if (text.trim() === 'exit') end(0);
        else for (const l of listeners) l(Buffer.from(text.toUpperCase()));
      },
      onOutput: (l) => { listeners.push(l); },
      exited,
      resize: async (columns, rows) => { this.sizes.push([columns, rows]); },
      close: () => end(null),
    };
  }
  async logs(id: string) { this.get(id); return 'hello\nworld\n'; }
  async removeLogs() {}
  async top() { return { titles: ['PID', 'CMD'], processes: [['1', 'sleep']] }; }
  async stats() { return { cpuNanos: 1, memoryBytes: 1048576, memoryLimitBytes: 67108864, pids: 1 }; }
  async putArchive() {}
  async getArchive() { return Buffer.from('tar'); }
  async state(id: string) {
    const c = this.containers.get(id);
    return c ? { id, state: c.state, pid: c.state === 'running' ? 42 : null, exitCode: c.exitCode, oomKilled: false, startedAt: null, finishedAt: null } : null;
  }
  async list(): Promise<ObservedContainer[]> {
    const all = await Promise.all([...this.containers.keys()].map((id) => this.state(id)));
    return all.filter((x) => x !== null) as ObservedContainer[];
  }
  /** The process ends by itself. */
  exit(id: string, code: number) { const c = this.get(id); c.state = 'stopped'; c.exitCode = code; }
}
