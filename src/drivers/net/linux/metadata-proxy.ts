/**
 * The metadata proxy of a network: what makes http://169.254.169.254/ answer on a tenant network,
 * the way Neutron serves isolated networks. In the network's DHCP namespace, 169.254.169.254/32 sits
 * on the DHCP interface (DHCP option 121 routes it via the DHCP port, see dhcp.ts) and one haproxy
 * (Debian's, as Neutron's agents use since Queens) listens there and forwards each request to Kumo's
 * metadata server on a UNIX socket, saying who asked: `X-Forwarded-For: <client address>` and
 * `X-Neutron-Network-ID: <network>`, Neutron's header names. Headers of those names that the
 * client sent are dropped first: the address and network are what the metadata server trusts.
 *
 * Pure builders for the config and argv; the driver runs them. As with dnsmasq, the argv names
 * the pid file in the network's state directory, so a restarted agent finds the proxy by pid file
 * and checks it with /proc/<pid>/cmdline; everything else is in the config file, and a changed
 * config means a restart (it changes only with the socket path).
 * @module
 */
import path from 'node:path';

export const HAPROXY_BINARY = '/usr/sbin/haproxy';
/** The link-local address instances ask for metadata (EC2's, which Nova and cloud-init use). */
export const METADATA_ADDRESS = '169.254.169.254';

export interface MetadataProxyPaths {
  readonly configFile: string;
  readonly pidFile: string;
}

export function metadataProxyPaths(networkDir: string): MetadataProxyPaths {
  return { configFile: path.join(networkDir, 'haproxy.cfg'), pidFile: path.join(networkDir, 'haproxy.pid') };
}

// haproxy's config parser splits words on blanks and treats quotes, backslashes and '#' specially.
const SAFE_SOCKET_PATH = /^\/[A-Za-z0-9_.\/@%+,=:-]+$/;

/** Why `socketPath` cannot be the metadata server's socket, or null when it can. */
export function metadataSocketProblem(socketPath: string): string | null {
  if (!path.isAbsolute(socketPath)) return `the metadata socket must be an absolute path, got ${JSON.stringify(socketPath)}`;
  if (!SAFE_SOCKET_PATH.test(socketPath)) return `the metadata socket path may hold only letters, digits and _.:/@%+,=- , got ${JSON.stringify(socketPath)}`;
  return null;
}

/** haproxy's configuration for one network: HTTP from the namespace to the metadata server's socket. */
export function buildHaproxyConfig(networkId: string, socketPath: string): string {
  const problem = metadataSocketProblem(socketPath);
  if (problem) throw new Error(problem);
  if (!/^[0-9a-f-]{36}$/.test(networkId)) throw new Error(`not a network id: ${networkId}`);
  return [
    'global',
    // No `user`: it stays root, so it can reach a socket under a 0700 data dir; it only listens on
    // one address inside one namespace. No `log`: the metadata server logs the requests.
    '    maxconn 1024',
    '',
    'defaults',
    '    mode http',
    // Instances fetch a few small documents at boot; anything slower than this is stuck.
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout http-request 30s',
    '    timeout http-keep-alive 30s',
    '    option http-server-close',
    // Appended after the http-request rules below have removed the client's own.
    '    option forwardfor',
    '',
    'listen metadata',
    `    bind ${METADATA_ADDRESS}:80`,
    '    http-request del-header X-Forwarded-For',
    '    http-request del-header X-Neutron-Router-ID',
    '    http-request del-header X-Neutron-Network-ID',
    `    http-request set-header X-Neutron-Network-ID ${networkId}`,
    `    server metadata unix@${socketPath}`,
    '',
  ].join('\n');
}

/** haproxy as a daemon (`-D`): its parent exits once it listens or has failed, so the exit status is meaningful. */
export function buildHaproxyArgv(paths: MetadataProxyPaths, binary = HAPROXY_BINARY): string[] {
  return [binary, '-f', paths.configFile, '-D', '-p', paths.pidFile];
}

/** The pid file an haproxy argv names (`-p FILE`), or null when it is not an haproxy. */
export function haproxyPidFileOf(argv: readonly string[]): string | null {
  if (argv.length === 0 || path.basename(argv[0]) !== 'haproxy') return null;
  const i = argv.indexOf('-p');
  return i > 0 && i + 1 < argv.length ? argv[i + 1] : null;
}
