#!/usr/bin/env node
// bench/compute/run.mjs: servers booted by Kumo's Nova API (API call → ACTIVE, and → the guest's first
// userspace line on its console) side by side, in the same run, with the same image booted by a
// plain qemu-system-x86_64 command (exec → the same line); GET /servers/detail latency with 1,000
// servers; Kumo's RSS per running VM.
//
//   node bench/compute/run.mjs          (root, Debian 12, after `npm run build`; ~3-5 min)
//
// What it does:
//   1. builds the test VM image (test/support/vm-image.ts: a bootable qcow2, firmware → syslinux → the
//      Debian cloud kernel with a busybox initramfs that prints `KUMO-GUEST-UP` first thing);
//   2. starts `kumo up --agent on --accel tcg` on a fresh data dir; uploads the image; a 128 MiB flavor;
//      a network with DHCP;
//   3. BENCH_N rounds, alternating: Kumo creates one server (POST /servers), polled every 50 ms for
//      ACTIVE and its console log file for the marker (checked against os-getConsoleOutput), then deletes it; the bare
//      side starts QEMU with the same machine, CPU, memory, accelerator and disk (a qcow2 overlay on
//      the same base) and reads its serial output for the marker, then kills it. One VM at a time, so
//      both sides have the host to themselves;
//   4. RSS: Kumo's VmRSS with no server, then with BENCH_RSS_VMS servers ACTIVE;
//   5. a second Kumo with its agent off (servers go to ERROR: no host) gets BENCH_LIST servers with a port
//      each; GET /servers/detail is timed BENCH_LIST_REQS times.
// Results: one JSON line per measurement in /tmp/kumo-bench-compute/<timestamp>/results.jsonl and a summary.
//
// Env knobs [default]: BENCH_N [10]  BENCH_RSS_VMS [6]  BENCH_LIST [1000]  BENCH_LIST_REQS [200]  BENCH_MEM [128]
import { execFileSync, spawn } from 'node:child_process';
import { REPO, benchRun, pct, r1, sleep, startKumo as startKumoIn, stats } from '../lib/kumo.mjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const N = Number(process.env.BENCH_N ?? 10);
// 8 VCPUs on a 2-core host (Nova's allocation ratio 4): 6 servers of 1 vCPU fit beside nothing else.
const RSS_VMS = Number(process.env.BENCH_RSS_VMS ?? 6);
const LIST = Number(process.env.BENCH_LIST ?? 1000);
const LIST_REQS = Number(process.env.BENCH_LIST_REQS ?? 200);
const MEM = Number(process.env.BENCH_MEM ?? 128);
const { out: OUT, results: RESULTS, emit, log } = benchRun('compute');
const rssKib = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

if (process.getuid?.() !== 0) { log('needs root'); process.exit(2); }
const { buildTestVmImage } = await import(`${REPO}/dist/test/support/vm-image.js`);
const vm = buildTestVmImage();
const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).toString().trim();
const startKumo = (agent) => startKumoIn(OUT, agent, { 'openstack-api-version': 'compute 2.92' });

async function fixtures(k, withImage) {
  await k.api('PUT', `/compute/v2.1/os-quota-sets/${k.project}`, { quota_set: { instances: -1, cores: -1, ram: -1 } });
  await k.api('PUT', `/network/v2.0/quotas/${k.project}`, { quota: { port: -1 } });
  const flavor = (await k.api('POST', '/compute/v2.1/flavors', { flavor: { name: 'bench', ram: MEM, vcpus: 1, disk: 1 } })).flavor.id;
  const net = (await k.api('POST', '/network/v2.0/networks', { network: { name: 'bench-net' } })).network.id;
  await k.api('POST', '/network/v2.0/subnets', { subnet: { network_id: net, cidr: '10.79.0.0/20', ip_version: 4 } });
  let image = null;
  if (withImage) {
    image = (await k.api('POST', '/image/v2/images', { name: 'bench', disk_format: 'qcow2', container_format: 'bare' })).id;
    await k.api('PUT', `/image/v2/images/${image}/file`, readFileSync(vm.bootDisk));
  }
  return { flavor, net, image };
}

const MARKER = 'KUMO-GUEST-UP';

/**
 * One server through the API: POST → ACTIVE (polled every 25 ms) → the marker in its console log.
 * The console is read from the VM's log file on this host, not through the API: polling the API
 * every few ms would take CPU from the TCG guest that the bare side does not lose.
 */
async function kumoBoot(k, f, name) {
  const t0 = performance.now();
  const { server } = await k.api('POST', '/compute/v2.1/servers', { server: { name, imageRef: f.image, flavorRef: f.flavor, networks: [{ uuid: f.net }] } });
  let active = null;
  while (active === null) {
    if (performance.now() - t0 > 180_000) throw new Error(`${name}: not ACTIVE within 180 s`);
    const s = (await k.api('GET', `/compute/v2.1/servers/${server.id}`)).server;
    if (s.status === 'ERROR') throw new Error(`${name} ERROR: ${JSON.stringify(s.fault)}`);
    if (s.status === 'ACTIVE') active = performance.now() - t0;
    else await sleep(25);
  }
  const log = join(k.dir, 'vms', server.id, 'console.log');
  let marker = null;
  while (marker === null) {
    if (performance.now() - t0 > 180_000) throw new Error(`${name}: no marker within 180 s`);
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // not written yet
    }
    if (text.includes(MARKER)) marker = performance.now() - t0;
    else await sleep(10);
  }
  // The API shows the same line (what `console log show` prints).
  const out = await k.api('POST', `/compute/v2.1/servers/${server.id}/action`, { 'os-getConsoleOutput': {} });
  if (!out.output.includes(MARKER)) throw new Error(`${name}: the console log file has the marker but the API's output does not`);
  return { id: server.id, active_ms: r1(active), marker_ms: r1(marker) };
}

async function kumoDelete(k, id) {
  await k.api('DELETE', `/compute/v2.1/servers/${id}`);
  for (;;) {
    try {
      await k.api('GET', `/compute/v2.1/servers/${id}`);
    } catch (err) {
      if (/→ 404/.test(String(err))) return;
      throw err;
    }
    await sleep(100);
  }
}

/** The same image with plain QEMU: exec → the marker on its serial port. */
async function bareBoot(round) {
  const dir = mkdtempSync(join(OUT, `bare-${round}-`));
  const overlay = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', vm.bootDisk, '-F', 'qcow2', overlay]);
  const t0 = performance.now();
  const q = spawn('qemu-system-x86_64', ['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', String(MEM), '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
    // A virtio NIC as the server has (its driver's probe is part of the guest's boot), on user networking: no tap needed.
    '-drive', `file=${overlay},format=qcow2,if=virtio`, '-serial', 'stdio', '-nic', 'user,model=virtio-net-pci'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  const marker = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare boot: no marker within 180 s')), 180_000);
    q.stdout.on('data', (d) => {
      seen += d;
      if (seen.includes(MARKER)) { clearTimeout(timer); resolve(performance.now() - t0); }
    });
    q.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bare QEMU exited ${code}: ${seen.slice(-500)}`)); });
  });
  q.removeAllListeners('exit');
  q.kill('SIGKILL');
  await new Promise((r) => q.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { marker_ms: r1(marker) };
}

const kumo = await startKumo('on');
let lister;
try {
  const f = await fixtures(kumo, true);
  log(`Kumo ${commit} up (pid ${kumo.pid}); warm-up boot (caches the image on the host)`);
  const warm = await kumoBoot(kumo, f, 'bench-warm');
  await kumoDelete(kumo, warm.id);
  await bareBoot('warm');
  const kumoRuns = [];
  const bareRuns = [];
  for (let i = 0; i < N; i++) {
    const first = i % 2 === 0 ? 'kumo' : 'bare';
    for (const side of first === 'kumo' ? ['kumo', 'bare'] : ['bare', 'kumo']) {
      if (side === 'kumo') {
        const r = await kumoBoot(kumo, f, `bench-${i}`);
        await kumoDelete(kumo, r.id);
        kumoRuns.push(r);
        emit({ kind: 'kumo', round: i, ...r });
      } else {
        const r = await bareBoot(i);
        bareRuns.push(r);
        emit({ kind: 'bare', round: i, ...r });
      }
    }
    log(`round ${i}: kumo active ${kumoRuns.at(-1).active_ms} ms, marker ${kumoRuns.at(-1).marker_ms} ms; bare marker ${bareRuns.at(-1).marker_ms} ms`);
  }

  const rssBefore = rssKib(kumo.pid);
  const ids = [];
  for (let i = 0; i < RSS_VMS; i++) ids.push((await kumo.api('POST', '/compute/v2.1/servers', { server: { name: `rss-${i}`, imageRef: f.image, flavorRef: f.flavor, networks: [{ uuid: f.net }] } })).server.id);
  for (const id of ids) {
    for (let t = 0; ; t++) {
      const s = (await kumo.api('GET', `/compute/v2.1/servers/${id}`)).server;
      if (s.status === 'ACTIVE') break;
      if (s.status === 'ERROR' || t > 3000) throw new Error(`rss server ${id}: ${s.status} ${JSON.stringify(s.fault ?? null)}`);
      await sleep(100);
    }
  }
  await sleep(2000);
  const rssAfter = rssKib(kumo.pid);
  for (const id of ids) await kumoDelete(kumo, id);
  const rss = { vms: RSS_VMS, before_mib: r1(rssBefore / 1024), with_vms_mib: r1(rssAfter / 1024), per_vm_mib: r1((rssAfter - rssBefore) / 1024 / RSS_VMS) };
  emit({ kind: 'rss', ...rss });

  await kumo.stop();
  lister = await startKumo('off');
  const lf = await fixtures(lister, false);
  // Servers need an image record: an empty one is enough where no host will boot them.
  const img = (await lister.api('POST', '/image/v2/images', { name: 'list', disk_format: 'qcow2', container_format: 'bare' })).id;
  await lister.api('PUT', `/image/v2/images/${img}/file`, new Uint8Array(1024));
  log(`creating ${LIST} servers (no host: they go to ERROR) for the list`);
  for (let i = 0; i < LIST; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, LIST - i) }, (_, j) => lister.api('POST', '/compute/v2.1/servers', { server: { name: `list-${i + j}`, imageRef: img, flavorRef: lf.flavor, networks: [{ uuid: lf.net }] } })));
  }
  const times = [];
  let count = 0;
  for (let i = 0; i < LIST_REQS; i++) {
    const t0 = performance.now();
    count = (await lister.api('GET', '/compute/v2.1/servers/detail')).servers.length;
    times.push(performance.now() - t0);
  }
  const list = { servers: count, ...stats(times) };
  emit({ kind: 'list', ...list });

  const ka = stats(kumoRuns.map((r) => r.active_ms));
  const km = stats(kumoRuns.map((r) => r.marker_ms));
  const bm = stats(bareRuns.map((r) => r.marker_ms));
  const summary = {
    date: new Date().toISOString(), commit, n: N, mem_mib: MEM, accel: 'tcg',
    kumo_create_to_active_ms: ka, kumo_create_to_marker_ms: km, bare_exec_to_marker_ms: bm,
    overhead_p50: r1((km.p50 / bm.p50 - 1) * 100) + '%', rss, list_detail_ms: list,
  };
  emit({ kind: 'summary', ...summary });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\nraw: ${RESULTS}\n`);
} finally {
  await kumo.stop().catch(() => undefined);
  await lister?.stop().catch(() => undefined);
}
