import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointFailures, endpointScript } from './endpoints.js';

const endpoints = [
  { portId: 'p1', netns: 'kumo-ctr-a', lines: ['addr replace 10.0.0.3/24 dev eth0', 'route replace default via 10.0.0.1 dev eth0'] },
  { portId: 'p2', netns: 'kumo-ctr-b', lines: ['addr replace 10.0.0.4/24 dev eth0'] },
  { portId: 'p3', netns: 'kumo-ctr-c', lines: ['addr replace 10.0.0.5/24 dev eth0'] },
];

test('endpoints: one script enters each network namespace only (nsenter --net) and marks each result', () => {
  const script = endpointScript(endpoints);
  assert.match(script, /^nsenter --net=\/run\/netns\/kumo-ctr-a ip -force -batch - <<'KUMO_ENDPOINT_EOF'\naddr replace 10\.0\.0\.3\/24 dev eth0\nroute replace default via 10\.0\.0\.1 dev eth0\nKUMO_ENDPOINT_EOF\necho "kumo-endpoint 0 \$\?" >&2\n/);
  assert.equal(script.match(/^nsenter /gm)?.length, 3);
  assert.throws(() => endpointScript([{ portId: 'x', netns: 'a;rm -rf /', lines: [] }]));
  assert.throws(() => endpointScript([{ portId: 'x', netns: 'a', lines: ['addr add $(reboot)'] }]));
});

test('endpoints: a failed batch fails its port with its own messages; endpoints the script never reached fail too', () => {
  const stderr = 'kumo-endpoint 0 0\nCannot find device "eth0"\nCommand failed -:1\nkumo-endpoint 1 1\n';
  const failures = endpointFailures(endpoints, { code: 0, stdout: '', stderr });
  assert.deepEqual([...failures.keys()], ['p2', 'p3']);
  assert.match(failures.get('p2')!, /kumo-ctr-b: Cannot find device "eth0" Command failed -:1/);
  assert.match(failures.get('p3')!, /not configured/);
  assert.equal(endpointFailures(endpoints, { code: 0, stdout: '', stderr: 'kumo-endpoint 0 0\nkumo-endpoint 1 0\nkumo-endpoint 2 0\n' }).size, 0);
});
