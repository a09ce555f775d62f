/** A `kumo up` process as users run it, for e2e and integration tests. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The `kumo` bin from package.json, as users run it. */
export const KUMO = new URL('../../kumo.mjs', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Live {
  proc: ChildProcess;
  dir: string;
  url: string;
  output: () => string;
}

/** Starts `kumo up` on a new data dir (or `opts.dir`, for a restart) and waits for it to say it is up. */
export async function kumoUp(extra: string[] = [], opts: { dir?: string; port?: number } = {}): Promise<Live> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kumo-e2e-'));
  const port = opts.port ?? await freePort();
  const proc = spawn(process.execPath, [KUMO, 'up', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!out.includes('Kumo is up')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`kumo up failed:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, dir, url: `http://127.0.0.1:${port}`, output: () => out };
}

/** Starts the Kumo of `live` again (after it was stopped or killed) on the same data dir and port, so clouds.yaml and `cliEnv` still hold. */
export const restartKumo = (live: Live, extra: string[] = []): Promise<Live> => kumoUp(extra, { dir: live.dir, port: Number(new URL(live.url).port) });

export async function stop(live: Live): Promise<number | null> {
  if (live.proc.exitCode === null) {
    live.proc.kill('SIGTERM');
    await new Promise((r) => live.proc.once('exit', r));
  }
  return live.proc.exitCode;
}

/** The environment the CLI runs in: this Kumo's clouds.yaml and none of the caller's own `OS_*` settings. */
export function cliEnv(live: Live): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OS_CLIENT_CONFIG_FILE: join(live.dir, 'clouds.yaml') };
  for (const k of Object.keys(env)) if (k.startsWith('OS_') && k !== 'OS_CLIENT_CONFIG_FILE') delete env[k];
  return env;
}

/** `kumo up` (as `kumoUp`) and the environment the `openstack` CLI drives it with (`cliEnv`): what an e2e suite's `before` needs. */
export async function kumoUpForCli(extra: string[] = []): Promise<{ live: Live; env: NodeJS.ProcessEnv }> {
  const live = await kumoUp(extra);
  return { live, env: cliEnv(live) };
}

/** Stops the Kumo, removes what it left on the host, then its data directory. */
export async function tearDown(live: Live): Promise<void> {
  await stop(live);
  await purgeHostObjects(live.dir);
  rmSync(live.dir, { recursive: true, force: true });
}

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Removes every host object the Kumo of `dir` created (what a failed or stopped test left
 * behind: containers, their root filesystems and namespaces, then networking), with the same
 * drivers `kumo` uses. A no-op when not root: nothing was created.
 */
export async function purgeHostObjects(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { createNetDriver } = await import('../../src/drivers/net/index.js');
  const { createContainerRuntime, createImageStore } = await import('../../src/drivers/oci/index.js');
  const { findBinary } = await import('../../src/lib/find-binary.js');
  const { createSilentLogger } = await import('../../src/log.js');
  const { kumoPaths } = await import('../../src/paths.js');
  const { ownerLabel } = await import('../../src/server.js');
  const owner = ownerLabel(dir);
  const paths = kumoPaths(dir);
  const logger = createSilentLogger();
  const conmon = findBinary('conmon');
  // Whichever runtime made them (`--container-runtime`): each finds only its own containers.
  for (const runtimePath of [findBinary('runc'), findBinary('crun')]) {
    if (!runtimePath || !conmon) continue;
    const runtime = createContainerRuntime('runc', { owner, stateDir: paths.containerRuntimeDir, runtimePath, conmonPath: conmon }, logger);
    for (const c of await runtime.list().catch(() => [])) {
      await runtime.delete(c.id, true).catch(() => undefined);
      await runtime.removeNetns(c.id).catch(() => undefined);
    }
  }
  // Volumes mounted for containers: unmounted and their loop devices freed, as the volume agent would.
  const { createBlockStorage } = await import('../../src/drivers/block/index.js');
  const block = createBlockStorage('file', { stateDir: paths.volumeStateDir }, logger);
  for (const m of await block.listContainerMounts().catch(() => [])) await block.unmountForContainer(m.attachmentId).catch(() => undefined);
  // VMs of this data dir (QEMU outlives Kumo by design).
  const { createHypervisor } = await import('../../src/drivers/qemu/index.js');
  const hypervisor = createHypervisor('qemu', { owner, stateDir: paths.vmStateDir, imageDir: paths.vmImageCacheDir, accel: 'tcg' }, logger);
  for (const vm of await hypervisor.list().catch(() => [])) await hypervisor.destroy(vm.instanceId).catch(() => undefined);
  const images = createImageStore({ owner, root: paths.imageStoreDir, insecureRegistries: [] }, logger);
  for (const id of await images.listRootfs().catch(() => [])) await images.removeRootfs(id).catch(() => undefined);
  await createNetDriver('linux', { owner, stateDir: paths.networkStateDir, physicalBridges: {}, vxlanLocalIp: '127.0.0.1' }, logger).removeAll();
  // Mounts left inside the data dir, deepest first: with crun, the shared bind mount of the image store's containers dir.
  const { execFileSync } = await import('node:child_process');
  const { readMounts } = await import('../../src/drivers/oci/image/overlay-mount.js');
  const inside = (await readMounts()).map((m) => m.mountPoint).filter((m) => m.startsWith(`${dir}/`));
  for (const m of [...new Set(inside)].sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      // gone meanwhile, or busy: the caller's check reports what is left
    }
  }
}

/**
 * The `openstack` CLI as the e2e tests drive it, with the environment `env()` gives at call
 * time (tests set it up in `before`): `os` must succeed, `osFails` must fail with stderr matching.
 */
export function openstackCli(env: () => NodeJS.ProcessEnv) {
  const os = async (...args: string[]) => {
    const r = await run('openstack', ['--os-cloud', 'kumo', ...args], env());
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  const osJson = async (...args: string[]) => JSON.parse(await os(...args, '-f', 'json'));
  const osFails = async (args: string[], pattern: RegExp, envOverride: NodeJS.ProcessEnv = env()) => {
    const r = await run('openstack', args, envOverride);
    assert.notEqual(r.code, 0, `expected openstack ${args.join(' ')} to fail`);
    assert.match(r.stderr, pattern);
  };
  return { os, osJson, osFails };
}
