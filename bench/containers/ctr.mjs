#!/usr/bin/env node
// bench/containers/ctr.mjs: the Kumo side of bench/containers/run.sh. Plain fetch, plus the test
// support's registry helpers (dist/test/support/registry.js, so `npm run build` first).
//
//   node ctr.mjs image --repo REPO --ready-file F
//     Starts a loopback docker-registry, pushes busybox:latest (busybox-static rootfs, as
//     test/integration/container-e2e.test.ts does), writes "127.0.0.1:PORT" to F, and keeps the
//     registry up until SIGTERM/SIGINT (then stops it and removes its storage).
//
//   node ctr.mjs create --url U --token T --network NET --image IMG --prefix P --n N --c C [--poll-ms 250] [--timeout-s 600]
//                       [--loop open|closed] [--out F]
//     POST /container/v1/containers?run=true, while polling GET /container/v1/containers every poll-ms until all N are
//     Running. containers/s = N / (all Running - first POST). --loop open (default): at most C POSTs in flight, so all N
//     are asked for within moments and wait in Kumo's queue. --loop closed: C workers, each POSTs one container and waits
//     until its own container (GET /containers/{id} every poll-ms) is Running before the next, like the bare script's C
//     workers; create->Running is then the latency of one container with C in the system.
//
//   node ctr.mjs delete --url U --token T --prefix P [--c C] [--timeout-s 600]
//     DELETE ...?force=True for every container named P*, then polls the list until none is left.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pct, r1 } from '../lib/kumo.mjs';

const { positionals, values: o } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' }, token: { type: 'string' }, network: { type: 'string' }, image: { type: 'string' },
    prefix: { type: 'string' }, n: { type: 'string', default: '200' }, c: { type: 'string', default: '8' },
    'poll-ms': { type: 'string', default: '250' }, 'timeout-s': { type: 'string', default: '600' }, out: { type: 'string' },
    repo: { type: 'string' }, 'ready-file': { type: 'string' }, 'conmon-match': { type: 'string' }, loop: { type: 'string', default: 'open' }, 'times-out': { type: 'string' },
  },
});
const mode = positionals[0];
function die(msg) { console.error(`ctr.mjs: ${msg}`); process.exit(2); }
const need = (k) => o[k] ?? die(`--${k} is required`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const HDR = { 'OpenStack-API-Version': 'container 1.40' };

async function api(method, path, body) {
  const res = await fetch(`${need('url')}${path}`, {
    method,
    headers: { 'x-auth-token': need('token'), ...HDR, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed = {};
  try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = { raw: text.slice(0, 300) }; }
  return { status: res.status, body: parsed };
}
async function pool(n, c, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => { while (next < n) await fn(next++); }));
}
async function listMine(prefix) {
  const r = await api('GET', '/container/v1/containers');
  if (r.status !== 200) throw new Error(`list: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body.containers.filter((c) => c.name?.startsWith(prefix));
}

async function image() {
  const repo = need('repo');
  const { startRegistry, pushBusyboxImage } = await import(`${repo}/dist/test/support/registry.js`);
  const scratch = mkdtempSync(join(tmpdir(), 'kumo-bench-ctr-'));
  const registry = await startRegistry();
  let done = false;
  const stop = async () => { if (done) return; done = true; await registry.stop().catch(() => undefined); rmSync(scratch, { recursive: true, force: true }); process.exit(0); };
  process.on('SIGTERM', stop); process.on('SIGINT', stop);
  try {
    await pushBusyboxImage(registry, scratch);
  } catch (e) { console.error(e); await stop(); }
  writeFileSync(need('ready-file'), registry.host);
  setInterval(() => {}, 1 << 30);
}

async function create() {
  const n = Number(o.n), c = Number(o.c), pollMs = Number(o['poll-ms']), timeoutMs = Number(o['timeout-s']) * 1000;
  const network = need('network'), img = need('image'), prefix = need('prefix');
  const posted = new Array(n), returned = new Array(n), ids = new Array(n);
  const closed = o.loop === 'closed';
  if (!closed && o.loop !== 'open') die('--loop is open or closed');
  const runningAt = new Map(), errored = new Map(), errors = [];
  let polls = 0, pollTotal = 0, pollMax = 0, creating = true;
  const t0 = performance.now();
  const poller = (async () => {
    if (closed) {
      while (creating) await sleep(pollMs);
      return runningAt.size ? Math.max(...runningAt.values()) : null;
    }
    for (;;) {
      const s = performance.now();
      let rows = [];
      try { rows = await listMine(prefix); } catch (e) { errors.push(String(e)); }
      const at = performance.now();
      polls++; pollTotal += at - s; pollMax = Math.max(pollMax, at - s);
      for (const r of rows) {
        if (r.status === 'Running' && !runningAt.has(r.uuid)) runningAt.set(r.uuid, at);
        if (r.status === 'Error' && !errored.has(r.uuid)) errored.set(r.uuid, `${r.name}: ${r.status_reason}`);
      }
      if (!creating && ids.every((id) => id === undefined || runningAt.has(id) || errored.has(id))) return at;
      if (at - t0 > timeoutMs) return null;
      await sleep(Math.max(0, pollMs - (performance.now() - s)));
    }
  })();
  await pool(n, c, async (i) => {
    posted[i] = performance.now();
    const r = await api('POST', '/container/v1/containers?run=true', { name: `${prefix}${i}`, image: img, command: ['sleep', '3600'], nets: [{ network }] });
    returned[i] = performance.now();
    if (r.status !== 202 && r.status !== 201) errors.push(`POST ${i}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    else ids[i] = r.body.uuid;
    if (closed && ids[i]) {
      // Like `appcontainer show` in a loop: the worker asks for its own container, so the wait measures
      // that container, not the cost of listing all the others.
      for (;;) {
        const s = performance.now();
        const g = await api('GET', `/container/v1/containers/${ids[i]}`);
        const at = performance.now();
        polls++; pollTotal += at - s; pollMax = Math.max(pollMax, at - s);
        if (g.status === 200 && g.body.status === 'Running') { runningAt.set(ids[i], at); break; }
        if (g.status === 200 && g.body.status === 'Error') { errored.set(ids[i], `${g.body.name}: ${g.body.status_reason}`); break; }
        if (at - t0 > timeoutMs) throw new Error(`container ${i} not Running in time`);
        await sleep(Math.max(0, pollMs - (performance.now() - s)));
      }
    }
  }).catch((e) => errors.push(String(e)));
  creating = false;
  const tEnd = await poller;
  const running = ids.filter((id) => id && runningAt.has(id)).length;
  const first = Math.min(...posted);
  const lat = ids.map((id, i) => (id && runningAt.has(id) ? runningAt.get(id) - posted[i] : null)).filter((x) => x !== null).sort((a, b) => a - b);
  const postLat = returned.map((t, i) => t - posted[i]).sort((a, b) => a - b);
  const wall = tEnd === null ? null : (tEnd - first) / 1000;
  const result = {
    n, c, loop: o.loop, created: ids.filter(Boolean).length, running, errored: errored.size, error_samples: [...errored.values()].slice(0, 3),
    timed_out: tEnd === null, errors: errors.slice(0, 5), error_count: errors.length,
    wall_s: wall === null ? null : Math.round(wall * 1000) / 1000,
    containers_per_s: wall && running === n ? Math.round((n / wall) * 100) / 100 : null,
    running_p50_ms: r1(pct(lat, 50)), running_p99_ms: r1(pct(lat, 99)), running_max_ms: r1(lat.at(-1)),
    post_p50_ms: r1(pct(postLat, 50)), post_p99_ms: r1(pct(postLat, 99)),
    posts_done_s: Math.round(Math.max(...returned) - first) / 1000,
    polls, poll_avg_ms: r1(polls ? pollTotal / polls : null), poll_max_ms: r1(pollMax), poll_every_ms: pollMs,
  };
  if (o.out) writeFileSync(o.out, JSON.stringify(result));
  // Per container, in epoch ms (to line up with Kumo's log): when it was POSTed and seen Running.
  if (o['times-out']) {
    const epoch = (t) => (t === undefined ? null : Math.round(performance.timeOrigin + t));
    writeFileSync(o['times-out'], ids.map((id, i) => JSON.stringify({ i, id: id ?? null, posted: epoch(posted[i]), returned: epoch(returned[i]), running: epoch(runningAt.get(id)) })).join('\n') + '\n');
  }
  console.log(JSON.stringify(result));
  if (running !== n) process.exit(1);
}

/** conmon processes whose command line contains `match` (Kumo's data dir): containers still on the host. */
function conmons(match) {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('conmon') || cmd.includes('/conmon\0')) { if (cmd.includes(match)) n++; }
    } catch { /* gone */ }
  }
  return n;
}

async function remove() {
  const prefix = need('prefix'), c = Number(o.c), timeoutMs = Number(o['timeout-s']) * 1000;
  const rows = await listMine(prefix);
  const t0 = performance.now();
  const errors = [];
  await pool(rows.length, c, async (i) => {
    const r = await api('DELETE', `/container/v1/containers/${rows[i].uuid}?force=True`);
    if (r.status !== 204 && r.status !== 404) errors.push(`DELETE ${rows[i].name}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  });
  const deletesDone = performance.now();
  let left = await listMine(prefix);
  while (left.length && performance.now() - t0 < timeoutMs) { await sleep(Number(o['poll-ms'])); left = await listMine(prefix); }
  const wall = (performance.now() - t0) / 1000;
  // The list empties when the rows go; the host side (conmon/runc, netns, veth) may lag behind.
  let hostS = null, conmonLeft = null;
  if (o['conmon-match']) {
    conmonLeft = conmons(o['conmon-match']);
    while (conmonLeft && performance.now() - t0 < timeoutMs) { await sleep(50); conmonLeft = conmons(o['conmon-match']); }
    hostS = Math.round(performance.now() - t0) / 1000;
  }
  const out = { deleted: rows.length, host_clean_s: hostS, conmon_left: conmonLeft,
    host_containers_per_s: hostS && !conmonLeft ? Math.round((rows.length / hostS) * 100) / 100 : null, left: left.length, errors: errors.slice(0, 5), error_count: errors.length,
    wall_s: Math.round(wall * 1000) / 1000, deletes_done_s: Math.round(deletesDone - t0) / 1000,
    containers_per_s: left.length ? null : Math.round((rows.length / wall) * 100) / 100 };
  console.log(JSON.stringify(out));
  if (left.length || errors.length) process.exit(1);
}

if (mode === 'image') await image();
else if (mode === 'create') await create();
else if (mode === 'delete') await remove();
else die('usage: ctr.mjs image|create|delete ...');
