import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHaproxyArgv, buildHaproxyConfig, haproxyPidFileOf, metadataProxyPaths, metadataSocketProblem } from './metadata-proxy.js';

const NET = '0c6f5b8e-1111-4222-8333-444455556666';
const paths = metadataProxyPaths(`/var/lib/kumo/network/dhcp-${NET}`);

test('metadata proxy: haproxy listens on 169.254.169.254:80 and forwards to the socket with who asked', () => {
  const lines = buildHaproxyConfig(NET, '/var/lib/kumo/metadata.sock').split('\n').map((l) => l.trim());
  for (const line of [
    'mode http',
    'option forwardfor',
    'bind 169.254.169.254:80',
    `http-request set-header X-Neutron-Network-ID ${NET}`,
    'server metadata unix@/var/lib/kumo/metadata.sock',
  ]) assert.ok(lines.includes(line), line);
  // What the client sent under the trusted names is dropped before Kumo's own are set.
  const order = (line: string) => lines.indexOf(line);
  assert.ok(order('http-request del-header X-Forwarded-For') >= 0);
  assert.ok(order('http-request del-header X-Neutron-Router-ID') >= 0);
  assert.ok(order('http-request del-header X-Neutron-Network-ID') < order(`http-request set-header X-Neutron-Network-ID ${NET}`));
  for (const t of ['connect', 'client', 'server']) assert.ok(lines.some((l) => l.startsWith(`timeout ${t} `)), t);
  assert.ok(!lines.some((l) => l.startsWith('log ') || l.startsWith('user ')), 'no syslog, stays root to reach the socket');
});

test('metadata proxy: socket paths haproxy could misparse, and ids that are not UUIDs, are refused', () => {
  assert.equal(metadataSocketProblem('/run/kumo/metadata.sock'), null);
  assert.match(metadataSocketProblem('run/metadata.sock')!, /absolute/);
  assert.match(metadataSocketProblem('/run/my dir/metadata.sock')!, /only letters/);
  assert.match(metadataSocketProblem('/run/x#y.sock')!, /only letters/);
  assert.throws(() => buildHaproxyConfig(NET, '/tmp/a b'), /only letters/);
  assert.throws(() => buildHaproxyConfig('net\nserver evil', '/tmp/m.sock'), /not a network id/);
});

test('metadata proxy: argv daemonizes with the pid file in the network state dir, and is recognised by it', () => {
  const argv = buildHaproxyArgv(paths);
  assert.deepEqual(argv, ['/usr/sbin/haproxy', '-f', `/var/lib/kumo/network/dhcp-${NET}/haproxy.cfg`, '-D', '-p', `/var/lib/kumo/network/dhcp-${NET}/haproxy.pid`]);
  assert.equal(haproxyPidFileOf(argv), paths.pidFile);
  assert.equal(haproxyPidFileOf(['/usr/sbin/dnsmasq', '-p', paths.pidFile]), null);
  assert.equal(haproxyPidFileOf(['/usr/sbin/haproxy', '-f', 'x.cfg']), null);
  assert.equal(haproxyPidFileOf([]), null);
});
