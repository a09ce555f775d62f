// bench/lib/kumo.mjs: what the benchmarks share: a `kumo up` on a fresh data dir with an admin
// token and a JSON fetch helper, stopped with every host object it made removed.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The p-th percentile (nearest rank) of `xs`, null when empty. */
export const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null; };
export const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);
/** What the benchmarks record of a set of timings (ms). */
export const stats = (xs) => ({ n: xs.length, p50: r1(pct(xs, 50)), p90: r1(pct(xs, 90)), p99: r1(pct(xs, 99)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)) });

/**
 * A run's output dir (/tmp/kumo-bench-NAME/<timestamp>), its results.jsonl, `emit` (one JSON line
 * there) and `log` (stderr, with the bench's name and the time).
 */
export function benchRun(name) {
  const out = join(`/tmp/kumo-bench-${name}`, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(out, { recursive: true });
  const results = join(out, 'results.jsonl');
  return {
    out,
    results,
    emit: (o) => appendFileSync(results, `${JSON.stringify(o)}\n`),
    log: (m) => process.stderr.write(`[bench/${name} ${new Date().toISOString().slice(11, 19)}] ${m}\n`),
  };
}

export async function freePort() {
  return new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
}

/** `agent`: on|off. `headers`: sent with every request (microversions). BENCH_LOG_LEVEL [warn]: Kumo's log level. */
export async function startKumo(outDir, agent, headers = {}) {
  const { purgeHostObjects } = await import(`${REPO}/dist/test/support/kumo-process.js`);
  const dir = mkdtempSync(join(outDir, `data-${agent}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(REPO, 'dist/kumo.mjs'), 'up', '--agent', agent, '--accel', 'tcg', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--log-level', process.env.BENCH_LOG_LEVEL ?? 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  for (let i = 0; !/Kumo is up/.test(output); i++) {
    if (i > 600 || child.exitCode !== null) throw new Error(`kumo did not start: ${output.slice(-2000)}`);
    await sleep(100);
  }
  const password = readFileSync(join(dir, 'secrets/admin-password'), 'utf8').trim();
  const auth = await fetch(`${url}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } }) });
  const token = auth.headers.get('x-subject-token');
  const project = (await auth.json()).token.project.id;
  const api = async (method, path, body, extra = {}) => {
    const res = await fetch(`${url}${path}`, { method, headers: { 'x-auth-token': token, ...headers, ...(body !== undefined ? { 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json' } : {}), ...extra }, body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  };
  const stop = async () => {
    child.kill('SIGTERM');
    for (let i = 0; i < 100 && child.exitCode === null; i++) await sleep(100);
    if (child.exitCode === null) child.kill('SIGKILL');
    // Kept beside the results: with BENCH_LOG_LEVEL=debug, the agent's passes.
    writeFileSync(join(outDir, `kumo-${agent}.log`), output);
    await purgeHostObjects(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, dir, api, pid: child.pid, project, stop, output: () => output };
}
