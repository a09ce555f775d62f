#!/usr/bin/env node
// bench/containers/stages.mjs: where one container's create -> Running time goes, by stage, in
// slices of a round (the first containers against the last: what grows with the count on the host).
//
//   node bench/containers/stages.mjs OUT_DIR [ROUND] [SLICES]
//
// Reads OUT_DIR/times-rROUND.jsonl (ctr.mjs create --times-out: when each container was POSTed and
// seen Running, epoch ms) and OUT_DIR/kumo.log, which must be at the debug level: the container
// controller's "bringing up", "ports bound; waiting for the network", "ports active"; the image
// store's "root filesystem mounted"; the runtime's "container created" and "container started"; and
// the network controller's "reconciled" passes. Prints p50/p99 ms of each stage per slice.
import { readFileSync } from 'node:fs';
import { pct } from '../lib/kumo.mjs';

const [dir, round = '1', slicesArg = '5'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: stages.mjs OUT_DIR [ROUND] [SLICES]');
  process.exit(2);
}
const times = readFileSync(`${dir}/times-r${round}.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const stageOf = {
  'bringing up': 'seen',
  'ports bound; waiting for the network': 'bound',
  'ports active': 'active',
  'root filesystem mounted': 'mounted',
  'container created': 'created',
  'container started': 'started',
};
const byContainer = new Map();
const networkPasses = [];
for (const line of readFileSync(`${dir}/kumo.log`, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  let entry;
  try { entry = JSON.parse(line); } catch { continue; }
  if (entry.msg === 'reconciled' && entry.controller === 'network') networkPasses.push({ end: entry.time, ms: entry.ms });
  const stage = stageOf[entry.msg];
  const id = entry.container ?? entry.id;
  if (!stage || !id) continue;
  const at = byContainer.get(id) ?? {};
  at[stage] ??= entry.time;
  byContainer.set(id, at);
}
const spans = [['posted', 'seen'], ['seen', 'bound'], ['bound', 'active'], ['active', 'mounted'], ['mounted', 'created'], ['created', 'started'], ['started', 'running'], ['posted', 'running']];
const slices = Number(slicesArg);
const size = Math.ceil(times.length / slices);
console.log('first   ' + spans.map(([a, b]) => `${a}>${b}`.padStart(16)).join('') + '   network passes (count, p50/p99 ms)');
for (let s = 0; s < slices; s++) {
  const rows = times.slice(s * size, (s + 1) * size).filter((t) => t.id).map((t) => ({ ...byContainer.get(t.id), posted: t.posted, running: t.running }));
  if (!rows.length) continue;
  const cell = ([a, b]) => {
    const d = rows.filter((r) => r[a] != null && r[b] != null).map((r) => r[b] - r[a]);
    return `${pct(d, 50)}/${pct(d, 99)}`.padStart(16);
  };
  const from = rows[0].posted;
  const to = rows.at(-1).running;
  const passes = networkPasses.filter((p) => p.end >= from && p.end <= to).map((p) => p.ms);
  console.log(`${String(s * size).padStart(5)}   ` + spans.map(cell).join('') + `   ${passes.length}, ${pct(passes, 50)}/${pct(passes, 99)}`);
}
