#!/usr/bin/env node
// bench/volumes/run.mjs: volumes made from an image by Kumo's Cinder API (POST → available, the
// image converted into a sparse raw file by the host's block driver) side by side, in the same run,
// with plain `qemu-img convert` of the same image file to raw; then every volume attached to and
// detached from one running VM (os-volume_attachments, hot-plugged over QMP).
//
//   node bench/volumes/run.mjs          (root, Debian 12, after `npm run build`; ~5-10 min)
//
// What it does:
//   1. builds a BENCH_IMAGE_MIB MiB qcow2 image of random data (incompressible, no holes) and the test
//      VM image (test/support/vm-image.ts);
//   2. starts `kumo up --agent on --accel tcg` on a fresh data dir; volume quotas unlimited; uploads
//      both images to Glance;
//   3. baselines: BENCH_N × `qemu-img convert -f qcow2 -O raw` of the file Glance stored, BENCH_PAR at
//      a time (the volume controller's parallelism), the N outputs kept until all are made (as Kumo keeps
//      its volumes) and removed after; MB/s = N × image / wall;
//      once as it is (nothing flushed), once with `-t writeback` (flushed at the end, as Kumo's volumes are)
//      and once with `-t none` (O_DIRECT and flushed, as Kumo's driver converts where the filesystem allows);
//   4. Kumo: BENCH_N volumes of 1 GiB from the image, BENCH_C POSTs in flight, the volumes still
//      `creating` listed every 200 ms until none is; MB/s = N × image / wall (first POST → last available);
//   5. one server booted from the VM image; each volume attached (POST os-volume_attachments → in-use)
//      and detached (DELETE → available) in turn, timed;
//   6. volumes deleted; Kumo stopped; no volume file, loop device or QEMU of this run left.
// Results: one JSON line per measurement in /tmp/kumo-bench-volumes/<timestamp>/results.jsonl and a summary.
//
// Env knobs [default]: BENCH_N [100]  BENCH_C [8]  BENCH_PAR [2]  BENCH_IMAGE_MIB [100]  BENCH_ATTACH_N [BENCH_N]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO, benchRun, pct, r1, sleep, startKumo, stats } from '../lib/kumo.mjs';

const N = Number(process.env.BENCH_N ?? 100);
const C = Number(process.env.BENCH_C ?? 8);
const PAR = Number(process.env.BENCH_PAR ?? 2);
const IMAGE_MIB = Number(process.env.BENCH_IMAGE_MIB ?? 100);
const ATTACH_N = Math.min(N, Number(process.env.BENCH_ATTACH_N ?? N));
const { out: OUT, results: RESULTS, emit, log } = benchRun('volumes');

if (process.getuid?.() !== 0) { log('needs root'); process.exit(2); }
const { buildTestVmImage } = await import(`${REPO}/dist/test/support/vm-image.js`);
const vm = buildTestVmImage();
const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).toString().trim();

/** Runs `fn(i)` for i in 0..n-1, `c` at a time. */
async function pool(n, c, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => { for (let i = next++; i < n; i = next++) await fn(i); }));
}
const exec = (cmd, args) => new Promise((resolve, reject) => {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`))));
});

// 1. The image: random data, so neither side gains from holes or zero detection.
const raw = join(OUT, 'image.raw');
const qcow2 = join(OUT, 'image.qcow2');
execFileSync('sh', ['-c', `head -c ${IMAGE_MIB * 1024 * 1024} /dev/urandom > ${raw}`]);
execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
rmSync(raw);

const k = await startKumo(OUT, 'on', { 'openstack-api-version': 'compute 2.92' });
const V = `/volume/v3/${k.project}`;
let failed = false;
try {
  await k.api('PUT', `${V}/os-quota-sets/${k.project}`, { quota_set: { volumes: -1, gigabytes: -1, snapshots: -1 } });
  await k.api('PUT', `/compute/v2.1/os-quota-sets/${k.project}`, { quota_set: { instances: -1, cores: -1, ram: -1 } });
  const image = (await k.api('POST', '/image/v2/images', { name: 'bench-data', disk_format: 'qcow2', container_format: 'bare' })).id;
  await k.api('PUT', `/image/v2/images/${image}/file`, readFileSync(qcow2));
  const stored = join(k.dir, 'glance-images', image);
  if (!existsSync(stored)) throw new Error(`the image's file is not at ${stored}`);

  // 3. Baselines: qemu-img convert as it is (its output cache mode is `unsafe`: nothing is flushed, the
  // data may still be in the page cache when it exits), and with `-t writeback`, which flushes the
  // output at the end, as Kumo's driver does before it publishes a volume.
  const baseline = async (label, extra) => {
    log(`baseline ${label}: ${N} × qemu-img convert ${extra.join(' ')}, ${PAR} at a time`);
    const t0 = performance.now();
    // The outputs are kept until all are made, as Kumo keeps its N volumes: a file removed at once
    // would never be written back to the disk, which no volume can skip.
    await pool(N, PAR, (i) => exec('qemu-img', ['convert', ...extra, '-f', 'qcow2', '-O', 'raw', stored, join(OUT, `baseline-${i}.raw`)]));
    const wall = (performance.now() - t0) / 1000;
    for (let i = 0; i < N; i++) rmSync(join(OUT, `baseline-${i}.raw`));
    // What the kernel still has to write of them is not left for the next phase to pay.
    execFileSync('sync');
    const mbps = (N * IMAGE_MIB * 1.048576) / wall;
    emit({ kind: 'baseline', variant: label, n: N, par: PAR, wall_s: r1(wall), mb_per_s: r1(mbps) });
    return mbps;
  };
  const baseMBps = await baseline('plain', []);
  const flushedMBps = await baseline('flushed', ['-t', 'writeback']);
  const directMBps = await baseline('direct', ['-t', 'none']);

  // 4. Kumo.
  log(`kumo: ${N} volumes of 1 GiB from the image, ${C} POSTs in flight`);
  const ids = [];
  const posted = [];
  const availableAt = new Map();
  const t1 = performance.now();
  let creating = true;
  // Only the volumes still being made are listed (a short answer), every 200 ms: the poll itself must
  // not take the event loop from the agent it measures.
  const poller = (async () => {
    for (;;) {
      const at = performance.now();
      const { volumes } = await k.api('GET', `${V}/volumes?status=creating&limit=1000`);
      const pending = new Set(volumes.map((v) => v.id));
      for (const id of ids) if (id && !pending.has(id) && !availableAt.has(id)) availableAt.set(id, at);
      if (!creating && ids.every((id) => availableAt.has(id))) return;
      if (at - t1 > 900_000) throw new Error('volumes not available within 15 minutes');
      await sleep(200);
    }
  })();
  await pool(N, C, async (i) => {
    posted[i] = performance.now();
    ids[i] = (await k.api('POST', `${V}/volumes`, { volume: { name: `bench-${i}`, size: 1, imageRef: image } })).volume.id;
  });
  creating = false;
  await poller;
  const notAvailable = (await k.api("GET", `${V}/volumes/detail?limit=1000`)).volumes.filter((v) => v.status !== "available");
  if (notAvailable.length) throw new Error(`volumes not available: ${JSON.stringify(notAvailable.map((v) => [v.id, v.status]))}`);
  const kumoWall = (Math.max(...availableAt.values()) - t1) / 1000;
  const kumoMBps = (N * IMAGE_MIB * 1.048576) / kumoWall;
  const latency = ids.map((id, i) => availableAt.get(id) - posted[i]);
  const files = readdirSync(join(k.dir, 'volumes', 'volumes')).filter((f) => f.endsWith('.raw'));
  const allocated = files.reduce((a, f) => a + Number(execFileSync('stat', ['-c', '%b', join(k.dir, 'volumes', 'volumes', f)]).toString().trim()) * 512, 0);
  emit({ kind: 'kumo', n: N, c: C, wall_s: r1(kumoWall), mb_per_s: r1(kumoMBps), post_to_available_ms: stats(latency), files: files.length, allocated_mib_per_volume: r1(allocated / files.length / 1048576) });
  log(`image → volume: kumo ${r1(kumoMBps)} MB/s vs qemu-img convert ${r1(baseMBps)} MB/s (${(kumoMBps / baseMBps).toFixed(2)}×), flushed ${r1(flushedMBps)} MB/s (${(kumoMBps / flushedMBps).toFixed(2)}×), direct ${r1(directMBps)} MB/s (${(kumoMBps / directMBps).toFixed(2)}×)`);

  // 5. Attach and detach each volume to one VM.
  const vmImage = (await k.api('POST', '/image/v2/images', { name: 'bench-vm', disk_format: 'qcow2', container_format: 'bare' })).id;
  await k.api('PUT', `/image/v2/images/${vmImage}/file`, readFileSync(vm.bootDisk));
  const flavor = (await k.api('POST', '/compute/v2.1/flavors', { flavor: { name: 'bench', ram: 128, vcpus: 1, disk: 1 } })).flavor.id;
  const net = (await k.api('POST', '/network/v2.0/networks', { network: { name: 'bench-net' } })).network.id;
  await k.api('POST', '/network/v2.0/subnets', { subnet: { network_id: net, cidr: '10.81.0.0/24', ip_version: 4 } });
  const { server } = await k.api('POST', '/compute/v2.1/servers', { server: { name: 'bench-vm', imageRef: vmImage, flavorRef: flavor, networks: [{ uuid: net }] } });
  for (let i = 0; ; i++) {
    const s = (await k.api('GET', `/compute/v2.1/servers/${server.id}`)).server;
    if (s.status === 'ACTIVE') break;
    if (s.status === 'ERROR' || i > 1800) throw new Error(`server not ACTIVE: ${JSON.stringify(s.fault)}`);
    await sleep(100);
  }
  // The guest's kernel must be up to answer a hot-unplug.
  const consoleLog = join(k.dir, 'vms', server.id, 'console.log');
  for (let i = 0; !(existsSync(consoleLog) && readFileSync(consoleLog, 'utf8').includes('KUMO-GUEST-UP')); i++) {
    if (i > 1800) throw new Error('the guest did not come up');
    await sleep(100);
  }
  log(`attach/detach: ${ATTACH_N} volumes, one at a time, to server ${server.id}`);
  const waitStatus = async (id, status) => {
    for (let i = 0; ; i++) {
      const v = (await k.api('GET', `${V}/volumes/${id}`)).volume;
      if (v.status === status) return;
      if (v.status === 'error' || i > 3000) throw new Error(`volume ${id} is ${v.status}, waiting for ${status}`);
      await sleep(20);
    }
  };
  const attachMs = [];
  const detachMs = [];
  for (let i = 0; i < ATTACH_N; i++) {
    const a = performance.now();
    await k.api('POST', `/compute/v2.1/servers/${server.id}/os-volume_attachments`, { volumeAttachment: { volumeId: ids[i] } });
    await waitStatus(ids[i], 'in-use');
    attachMs.push(performance.now() - a);
    const d = performance.now();
    await k.api('DELETE', `/compute/v2.1/servers/${server.id}/os-volume_attachments/${ids[i]}`);
    await waitStatus(ids[i], 'available');
    detachMs.push(performance.now() - d);
  }
  emit({ kind: 'attach', n: ATTACH_N, attach_ms: stats(attachMs), detach_ms: stats(detachMs) });
  log(`attach p50 ${r1(pct(attachMs, 50))} ms p99 ${r1(pct(attachMs, 99))} ms; detach p50 ${r1(pct(detachMs, 50))} ms p99 ${r1(pct(detachMs, 99))} ms`);

  // 6. Clean up through the API; what is left is checked after Kumo stops.
  await k.api('DELETE', `/compute/v2.1/servers/${server.id}`);
  await pool(N, C, (i) => k.api('DELETE', `${V}/volumes/${ids[i]}`));
  for (let i = 0; (await k.api('GET', `${V}/volumes`)).volumes.length; i++) {
    if (i > 3000) throw new Error('volumes not deleted');
    await sleep(100);
  }
  emit({ kind: 'env', date: new Date().toISOString(), commit, n: N, c: C, par: PAR, image_mib: IMAGE_MIB, cpus: Number(execFileSync('nproc').toString().trim()), qemu_img: execFileSync('qemu-img', ['--version']).toString().split('\n')[0] });
} catch (err) {
  failed = true;
  log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  log(k.output().slice(-3000));
} finally {
  const dir = k.dir;
  await k.stop();
  const loops = execFileSync('losetup', ['-a']).toString();
  if (loops.includes(dir)) { log(`loop devices left: ${loops}`); failed = true; }
}
log(`results: ${RESULTS}`);
process.stdout.write(readFileSync(RESULTS, 'utf8'));
process.exit(failed ? 1 : 0);
