#!/usr/bin/env node
// bench/network/ports.mjs: the Kumo side of bench/network/run.sh. Plain fetch, no dependencies.
//
//   node ports.mjs create --url U --token T --network NET --sg SG --host H --ns-prefix P --n N --c C
//                         [--poll-ms 50] [--timeout-s 300] [--out FILE]
//     Creates N ports (at most C POSTs in flight), port i bound to H with
//     binding:profile {kumo_netns: "<P><i>"} and security_groups [SG], while polling
//     GET /network/v2.0/ports?network_id=NET&fields=id&fields=status every poll-ms until every one is
//     ACTIVE. Prints (and writes to FILE) one JSON object: ports/s = N / (all ACTIVE - first POST),
//     per-port POST -> ACTIVE latency (ACTIVE = the poll response that first showed it), POST latency.
//
//   node ports.mjs delete --url U --token T --ids-file FILE --owner OWNER [--c C] [--timeout-s 120]
//     Deletes the ports listed in FILE (the JSON written by create) through the API and waits until
//     the host has no link whose alias is kumo:OWNER:<one of those ids> (`ip -j link show`).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { positionals, values: o } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' }, token: { type: 'string' }, network: { type: 'string' }, sg: { type: 'string' },
    host: { type: 'string' }, 'ns-prefix': { type: 'string' }, n: { type: 'string', default: '100' }, c: { type: 'string', default: '8' },
    'poll-ms': { type: 'string', default: '50' }, 'timeout-s': { type: 'string' }, out: { type: 'string' },
    'ids-file': { type: 'string' }, owner: { type: 'string' },
  },
});
const mode = positionals[0];
const need = (k) => o[k] ?? die(`--${k} is required`);
function die(msg) { console.error(`ports.mjs: ${msg}`); process.exit(2); }
const NET = '/network/v2.0';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

async function api(method, path, body) {
  const res = await fetch(`${need('url')}${path}`, {
    method,
    headers: { 'x-auth-token': need('token'), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** Runs fn(i) for i in [0, n) with at most c in flight. */
async function pool(n, c, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

async function create() {
  const n = Number(o.n), c = Number(o.c), pollMs = Number(o['poll-ms']);
  const timeoutMs = Number(o['timeout-s'] ?? 300) * 1000;
  const network = need('network'), sg = need('sg'), host = need('host'), nsPrefix = need('ns-prefix');
  const posted = new Array(n);      // POST sent (ms, performance.now)
  const returned = new Array(n);    // POST answered
  const ids = new Array(n);
  const activeAt = new Map();       // port id -> first poll response that showed it ACTIVE
  const errors = [];
  let polls = 0, pollMsTotal = 0, pollMsMax = 0, creating = true;

  const t0 = performance.now();
  const poller = (async () => {
    const deadline = t0 + timeoutMs;
    for (;;) {
      const started = performance.now();
      const r = await api('GET', `${NET}/ports?network_id=${network}&fields=id&fields=status`);
      const at = performance.now();
      polls++; pollMsTotal += at - started; pollMsMax = Math.max(pollMsMax, at - started);
      if (r.status !== 200) errors.push(`poll: HTTP ${r.status}`);
      else for (const p of r.body.ports) if (p.status === 'ACTIVE' && !activeAt.has(p.id)) activeAt.set(p.id, at);
      if (!creating && ids.every((id) => id === undefined || activeAt.has(id))) return at;
      if (at > deadline) return null;
      await sleep(Math.max(0, pollMs - (performance.now() - started)));
    }
  })();
  await pool(n, c, async (i) => {
    posted[i] = performance.now();
    const r = await api('POST', `${NET}/ports`, {
      port: { network_id: network, name: `bench-${i}`, 'binding:host_id': host, 'binding:profile': { kumo_netns: `${nsPrefix}${i}` }, security_groups: [sg] },
    });
    returned[i] = performance.now();
    if (r.status !== 201) errors.push(`POST port ${i}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    else ids[i] = r.body.port.id;
  });
  creating = false;
  const tEnd = await poller;
  const created = ids.filter(Boolean).length;
  const active = ids.filter((id) => id && activeAt.has(id)).length;
  const firstPost = Math.min(...posted);
  const lat = ids.map((id, i) => (id && activeAt.has(id) ? activeAt.get(id) - posted[i] : null)).filter((x) => x !== null).sort((a, b) => a - b);
  const postLat = returned.map((t, i) => t - posted[i]).sort((a, b) => a - b);
  const wallS = tEnd === null ? null : (tEnd - firstPost) / 1000;
  const result = {
    n, c, created, active, timed_out: tEnd === null, errors: errors.slice(0, 5), error_count: errors.length,
    wall_s: wallS === null ? null : Math.round(wallS * 1000) / 1000,
    ports_per_s: wallS && active === n ? Math.round((n / wallS) * 100) / 100 : null,
    active_p50_ms: r1(pct(lat, 50)), active_p99_ms: r1(pct(lat, 99)), active_max_ms: r1(lat.at(-1) ?? null),
    post_p50_ms: r1(pct(postLat, 50)), post_p99_ms: r1(pct(postLat, 99)),
    posts_done_s: Math.round((Math.max(...returned) - firstPost)) / 1000,
    polls, poll_avg_ms: r1(polls ? pollMsTotal / polls : null), poll_max_ms: r1(pollMsMax), poll_every_ms: pollMs,
    port_ids: ids.filter(Boolean),
  };
  if (o.out) writeFileSync(o.out, JSON.stringify(result));
  const { port_ids: _, ...summary } = result;
  console.log(JSON.stringify(summary));
  if (active !== n) process.exit(1);
}

const ownedLinks = (owner, wanted) => new Promise((resolve, reject) => {
  execFile('ip', ['-j', 'link', 'show'], { maxBuffer: 64 << 20 }, (err, stdout) => {
    if (err) return reject(err);
    const prefix = `kumo:${owner}:`;
    resolve(JSON.parse(stdout || '[]').filter((l) => l.ifalias?.startsWith(prefix) && wanted.has(l.ifalias.slice(prefix.length))).map((l) => l.ifname));
  });
});

async function remove() {
  const ids = JSON.parse(readFileSync(need('ids-file'), 'utf8')).port_ids;
  const owner = need('owner');
  const timeoutMs = Number(o['timeout-s'] ?? 120) * 1000;
  const t0 = performance.now();
  const errors = [];
  await pool(ids.length, Number(o.c), async (i) => {
    const r = await api('DELETE', `${NET}/ports/${ids[i]}`);
    if (r.status !== 204 && r.status !== 404) errors.push(`DELETE ${ids[i]}: HTTP ${r.status}`);
  });
  const wanted = new Set(ids);
  let left = await ownedLinks(owner, wanted);
  while (left.length && performance.now() - t0 < timeoutMs) {
    await sleep(100);
    left = await ownedLinks(owner, wanted);
  }
  console.log(JSON.stringify({ deleted: ids.length, errors: errors.slice(0, 5), links_left: left.length, s: Math.round(performance.now() - t0) / 1000 }));
  if (left.length || errors.length) process.exit(1);
}

if (mode === 'create') await create();
else if (mode === 'delete') await remove();
else die('usage: ports.mjs create|delete ...');
