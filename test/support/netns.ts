/**
 * Test endpoints for data-plane tests (root only): plain network namespaces that play the part
 * of a container or VM, a DHCP client, and tiny TCP servers and clients run inside them.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const isRoot = process.getuid?.() === 0;

/** Runs a command (argv, no shell), optionally feeding `input`; resolves with stdout, rejects with stderr. */
export function sh(cmd: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 20_000 }, (err, stdout, stderr) =>
      (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** Whether the command exits 0 (within its timeout). */
export const succeeds = (cmd: string, args: readonly string[], timeoutMs?: number) => sh(cmd, args, { timeoutMs }).then(() => true, () => false);

/** Polls `check` until it is true or the deadline passes; returns the last result. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 8_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const randomTag = (n = 6) => randomBytes(n).toString('hex').slice(0, n);

/** A namespace named `kt-<tag>` with loopback up; `remove()` deletes it. */
export async function endpointNamespace(tag = randomTag()): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `kt-${tag}`;
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, remove: () => sh('ip', ['netns', 'del', name]).then(() => undefined, () => undefined) };
}

let udhcpcScript: string | undefined;
process.once('exit', () => {
  if (udhcpcScript) rmSync(dirname(udhcpcScript), { recursive: true, force: true });
});

/**
 * Runs busybox udhcpc on `ifname` in `ns` until it has a lease (up to 30 discovers: a loaded host
 * starts dnsmasq late), applies it, and returns the address. With `staticRoutes` it also asks for
 * DHCP option 121 and installs those routes, as cloud-init does in an instance.
 */
export async function dhcpLease(ns: string, ifname = 'eth0', options: { staticRoutes?: boolean } = {}): Promise<{ ip: string; router: string | null; staticRoutes: string }> {
  if (!udhcpcScript) {
    udhcpcScript = join(mkdtempSync(join(tmpdir(), 'kumo-udhcpc-')), 'apply.sh');
    writeFileSync(udhcpcScript, [
      '#!/bin/sh',
      'case "$1" in bound|renew)',
      '  ip addr flush dev "$interface"',
      '  ip addr add "$ip/$mask" dev "$interface"',
      '  [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"',
      // "dest/len gateway dest/len gateway ...": the default route among them replaces the router's.
      '  set -- $staticroutes',
      '  while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done',
      '  echo "routes $staticroutes"',
      '  echo "lease $ip ${router%% *}" ;;',
      'esac',
      '',
    ].join('\n'));
    chmodSync(udhcpcScript, 0o755);
  }
  const ask = options.staticRoutes ? ['-O', 'staticroutes'] : [];
  const out = await sh('ip', ['netns', 'exec', ns, 'busybox', 'udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', '30', '-T', '1', ...ask, '-s', udhcpcScript], { timeoutMs: 45_000 });
  const m = /lease (\S+) ?(\S*)/.exec(out);
  if (!m) throw new Error(`no lease in ${ns}: ${out}`);
  return { ip: m[1], router: m[2] || null, staticRoutes: /^routes (.*)$/m.exec(out)?.[1].trim() ?? '' };
}

// busybox's ping: the package the tests install anyway (iputils-ping may be missing).
export const ping = (ns: string, ip: string, extra: string[] = []) => succeeds('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '2', ...extra, ip]);

const SERVER = `const s=require('net').createServer(c=>c.end(c.remoteAddress.replace('::ffff:',''))).listen(+process.argv[1],'0.0.0.0',()=>console.log('ready'))`;

/** A TCP server in `ns` that answers every connection with the peer address it sees. */
export async function peerEchoServer(ns: string, port: number): Promise<{ stop(): void }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server in ${ns} exited ${code}`)));
  });
  return { stop: () => child.kill('SIGKILL') };
}

const CLIENT = `const c=require('net').connect(+process.argv[2],process.argv[1]);let d='';c.setTimeout(3000,()=>{process.exit(2)});c.on('data',x=>d+=x);c.on('end',()=>{console.log(d);process.exit(0)});c.on('error',()=>process.exit(1))`;

/** Connects from `ns` to ip:port; the address the server saw, or null when no connection was made. */
export async function tcpPeerAddress(ns: string, ip: string, port: number): Promise<string | null> {
  return sh('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, ip, String(port)], { timeoutMs: 10_000 }).then((o) => o.trim(), () => null);
}
