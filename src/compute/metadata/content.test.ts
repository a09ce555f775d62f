import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDriveFiles, ec2Lookup, ec2MetaData, metaDataJson, networkDataJson, openstackFiles } from './content.js';
import type { InstanceMetadataInput } from './content.js';

const input: InstanceMetadataInput = {
  uuid: '7a4f26b4-4d98-41ff-b289-36b2789508ca', name: 'web 1', hostname: 'web-1', projectId: 'p1', launchIndex: 0, reservationId: 'r-1',
  availabilityZone: 'nova', imageId: '11111111-2222-3333-4444-555555555555', flavorName: 'm1.nano', meta: { role: 'web' },
  keys: [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAA k1' }], userData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'), adminPass: 'secret',
  securityGroups: ['default', 'web'], randomSeed: 'c2VlZA==', deviceTags: { 'fa:16:3e:00:00:01': 'front' },
  ports: [{
    id: 'port-1', networkId: 'net-1', macAddress: 'fa:16:3e:00:00:01', mtu: 1450, deviceName: 'tapport1',
    fixedIps: [
      { subnetId: 's1', ipAddress: '10.0.0.5', version: 4, cidr: '10.0.0.0/24', gateway: '10.0.0.1', dhcp: true, dns: ['10.0.0.53'], routes: [] },
      { subnetId: 's2', ipAddress: '10.1.0.5', version: 4, cidr: '10.1.0.0/16', gateway: null, dhcp: false, dns: [], routes: [{ destination: '192.168.0.0/24', nexthop: '10.1.0.1' }] },
    ],
    floatingIps: ['198.51.100.7'],
  }],
};

test('meta_data.json: what cloud-init reads, the admin password only on the config drive', () => {
  const doc = metaDataJson(input, false);
  assert.equal(doc.uuid, input.uuid);
  assert.deepEqual(doc.meta, { role: 'web' });
  assert.deepEqual(doc.public_keys, { k1: 'ssh-ed25519 AAAA k1' });
  assert.deepEqual(doc.keys, [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAA k1' }]);
  assert.deepEqual(doc.devices, [{ type: 'nic', bus: 'pci', address: '', mac: 'fa:16:3e:00:00:01', tags: ['front'] }]);
  assert.equal(doc.admin_pass, undefined);
  assert.equal(metaDataJson(input, true).admin_pass, 'secret');
});

test('network_data.json: a DHCP address as ipv4_dhcp, a static one with netmask, routes and DNS', () => {
  const doc = networkDataJson(input) as { links: Record<string, unknown>[]; networks: Record<string, unknown>[]; services: unknown[] };
  assert.deepEqual(doc.links, [{ id: 'tapport1', vif_id: 'port-1', type: 'bridge', mtu: 1450, ethernet_mac_address: 'fa:16:3e:00:00:01' }]);
  assert.deepEqual(doc.networks[0], { id: 'network0', type: 'ipv4_dhcp', link: 'tapport1', network_id: 'net-1' });
  assert.deepEqual(doc.networks[1], {
    id: 'network1', type: 'ipv4', link: 'tapport1', ip_address: '10.1.0.5', netmask: '255.255.0.0',
    routes: [{ network: '192.168.0.0', netmask: '255.255.255.0', gateway: '10.1.0.1' }], network_id: 'net-1', services: [],
  });
  assert.deepEqual(doc.services, [{ type: 'dns', address: '10.0.0.53' }]);
});

test('OpenStack versions: older ones lack the newer files; user_data is the decoded bytes', () => {
  assert.deepEqual(Object.keys(openstackFiles(input, '2012-08-10', false)).sort(), ['meta_data.json', 'user_data']);
  const latest = openstackFiles(input, 'latest', false);
  assert.deepEqual(Object.keys(latest).sort(), ['meta_data.json', 'network_data.json', 'password', 'user_data', 'vendor_data.json', 'vendor_data2.json']);
  assert.equal(latest.user_data.toString(), '#!/bin/sh\necho hi\n');
});

test('EC2 tree: leaves, directories (subdirectories with a slash), public keys as 0=name', () => {
  const tree = ec2MetaData(input);
  assert.equal(ec2Lookup(tree, ['instance-id']), 'i-7a4f26b4');
  assert.equal(ec2Lookup(tree, ['local-ipv4']), '10.0.0.5');
  assert.equal(ec2Lookup(tree, ['public-ipv4']), '198.51.100.7');
  assert.equal(ec2Lookup(tree, ['placement', 'availability-zone']), 'nova');
  assert.equal(ec2Lookup(tree, ['security-groups']), 'default\nweb');
  assert.equal(ec2Lookup(tree, ['public-keys']), '0=k1');
  assert.equal(ec2Lookup(tree, ['public-keys', '0', 'openssh-key']), 'ssh-ed25519 AAAA k1');
  assert.match(ec2Lookup(tree, [''])!, /^ami-id\n/);
  assert.ok(ec2Lookup(tree, [''])!.includes('placement/'));
  assert.equal(ec2Lookup(tree, ['no-such']), undefined);
});

test('config drive: every OpenStack version, the EC2 tree as JSON, the admin password', () => {
  const files = configDriveFiles(input);
  assert.ok('openstack/latest/meta_data.json' in files && 'openstack/2012-08-10/meta_data.json' in files);
  assert.equal(JSON.parse(String(files['openstack/latest/meta_data.json'])).admin_pass, 'secret');
  assert.equal(JSON.parse(String(files['ec2/latest/meta-data.json']))['instance-id'], 'i-7a4f26b4');
  assert.equal(String(files['ec2/2009-04-04/user-data']), '#!/bin/sh\necho hi\n');
});
