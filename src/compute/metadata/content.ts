/**
 * What a server learns about itself: the OpenStack metadata documents (meta_data.json,
 * network_data.json, vendor data, user_data) and the EC2-style tree, built once from plain data
 * and served by both the metadata service (169.254.169.254) and the config drive, as Nova's
 * InstanceMetadata does. cloud-init reads either.
 * @module
 */
import type { VmPortDetail } from '../../network/workload-ports.js';

export interface MetadataKey { readonly name: string; readonly type: string; readonly data: string }

/** A port as the guest sees it: the network service's view of a VM port, plus the device name it is plugged as. */
export type MetadataPort = VmPortDetail & { readonly deviceName: string };

export interface InstanceMetadataInput {
  readonly uuid: string;
  readonly name: string;
  readonly hostname: string;
  readonly projectId: string;
  readonly launchIndex: number;
  readonly reservationId: string;
  readonly availabilityZone: string;
  readonly imageId: string | null;
  readonly flavorName: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly keys: readonly MetadataKey[];
  /** Base64 as the user gave it, or null. */
  readonly userData: string | null;
  readonly adminPass: string | null;
  readonly securityGroups: readonly string[];
  readonly ports: readonly MetadataPort[];
  /** 512 random bytes, base64, fixed per document set. */
  readonly randomSeed: string;
  readonly deviceTags: Readonly<Record<string, string>>;
}

/** The OpenStack metadata versions Nova serves, oldest first; `latest` is the newest. */
export const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14'] as const;
export const EC2_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04'] as const;

function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

export function metaDataJson(m: InstanceMetadataInput, forConfigDrive: boolean): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    uuid: m.uuid,
    meta: m.meta,
    hostname: m.hostname,
    name: m.name,
    launch_index: m.launchIndex,
    availability_zone: m.availabilityZone,
    random_seed: m.randomSeed,
    project_id: m.projectId,
    devices: Object.entries(m.deviceTags).map(([mac, tag]) => ({ type: 'nic', bus: 'pci', address: '', mac, tags: [tag] })),
    dedicated_cpus: [],
  };
  if (m.keys.length) {
    doc.public_keys = Object.fromEntries(m.keys.map((k) => [k.name, k.data]));
    doc.keys = m.keys.map((k) => ({ name: k.name, type: k.type, data: k.data }));
  }
  // Nova puts the admin password only where only the instance can read it: the config drive.
  if (forConfigDrive && m.adminPass) doc.admin_pass = m.adminPass;
  return doc;
}

/** network_data.json: links (one per port), networks (DHCP or static per address), DNS services. */
export function networkDataJson(m: InstanceMetadataInput): Record<string, unknown> {
  const links = m.ports.map((p) => ({ id: p.deviceName, vif_id: p.id, type: 'bridge', mtu: p.mtu, ethernet_mac_address: p.macAddress }));
  const networks: Record<string, unknown>[] = [];
  const services = new Map<string, { type: string; address: string }>();
  for (const p of m.ports) {
    for (const ip of p.fixedIps) {
      const index = networks.length;
      const [, prefixText] = ip.cidr.split('/');
      const routes = [
        ...(ip.gateway ? [{ network: ip.version === 4 ? '0.0.0.0' : '::', netmask: ip.version === 4 ? '0.0.0.0' : '::', gateway: ip.gateway }] : []),
        ...ip.routes.map((r) => {
          const [net, len] = r.destination.split('/');
          return { network: net, netmask: ip.version === 4 ? prefixToNetmask(Number(len)) : len, gateway: r.nexthop };
        }),
      ];
      for (const d of ip.dns) services.set(d, { type: 'dns', address: d });
      networks.push(ip.dhcp
        ? { id: `network${index}`, type: ip.version === 4 ? 'ipv4_dhcp' : 'ipv6_dhcp', link: p.deviceName, network_id: p.networkId }
        : {
          id: `network${index}`, type: ip.version === 4 ? 'ipv4' : 'ipv6', link: p.deviceName, ip_address: ip.ipAddress,
          netmask: ip.version === 4 ? prefixToNetmask(Number(prefixText)) : prefixText, routes, network_id: p.networkId,
          services: ip.dns.map((d) => ({ type: 'dns', address: d })),
        });
    }
  }
  return { links, networks, services: [...services.values()] };
}

/** The files of one OpenStack metadata version, by path under `openstack/<version>/`. */
export function openstackFiles(m: InstanceMetadataInput, version: string, forConfigDrive: boolean): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'meta_data.json': JSON.stringify(metaDataJson(m, forConfigDrive)),
  };
  if (version >= '2013-04-04' || version === 'latest') files['password'] = '';
  if (version >= '2013-10-17' || version === 'latest') files['vendor_data.json'] = '{}';
  if (version >= '2015-10-15' || version === 'latest') files['network_data.json'] = JSON.stringify(networkDataJson(m));
  if (version >= '2016-10-06' || version === 'latest') files['vendor_data2.json'] = '{}';
  if (m.userData !== null) files['user_data'] = Buffer.from(m.userData, 'base64');
  return files;
}

/** The EC2 `meta-data/` tree as nested objects; leaves are strings. */
export function ec2MetaData(m: InstanceMetadataInput): Record<string, unknown> {
  const fixed = m.ports.flatMap((p) => p.fixedIps.filter((f) => f.version === 4).map((f) => f.ipAddress));
  const floating = m.ports.flatMap((p) => p.floatingIps);
  const shortId = m.uuid.replace(/-/g, '').slice(0, 8);
  return {
    'ami-id': m.imageId ? `ami-${m.imageId.replace(/-/g, '').slice(0, 8)}` : '',
    'ami-launch-index': String(m.launchIndex),
    'ami-manifest-path': 'FIXME',
    'block-device-mapping': { ami: 'vda', root: '/dev/vda' },
    hostname: m.hostname,
    'instance-action': 'none',
    'instance-id': `i-${shortId}`,
    'instance-type': m.flavorName,
    'local-hostname': m.hostname,
    'local-ipv4': fixed[0] ?? '',
    placement: { 'availability-zone': m.availabilityZone },
    'public-hostname': m.hostname,
    'public-ipv4': floating[0] ?? '',
    'public-keys': Object.fromEntries(m.keys.map((k, i) => [`${i}=${k.name}`, { 'openssh-key': k.data }])),
    'reservation-id': m.reservationId,
    'security-groups': m.securityGroups.join('\n'),
  };
}

/**
 * An EC2 metadata path (below `meta-data/`) answered as the EC2 service does: a leaf's text, or a
 * directory's entries one per line (subdirectories end in `/`; public keys list as `0=name`).
 * Undefined when there is no such path.
 */
export function ec2Lookup(tree: Record<string, unknown>, pathParts: readonly string[]): string | undefined {
  let node: unknown = tree;
  for (const part of pathParts) {
    if (!part) continue;
    if (!node || typeof node !== 'object') return undefined;
    const dir = node as Record<string, unknown>;
    // public-keys/0 means the key listed as 0=name.
    const key = part in dir ? part : Object.keys(dir).find((k) => k.split('=')[0] === part);
    if (key === undefined) return undefined;
    node = dir[key];
  }
  if (typeof node === 'string') return node;
  if (!node || typeof node !== 'object') return undefined;
  return Object.entries(node as Record<string, unknown>).map(([k, v]) => (typeof v === 'object' && v !== null && !k.includes('=') ? `${k}/` : k)).join('\n');
}

/** The files of a config drive, as Nova lays them out: every OpenStack version and the EC2 tree as JSON. */
export function configDriveFiles(m: InstanceMetadataInput): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {};
  for (const version of [...OPENSTACK_VERSIONS, 'latest']) {
    for (const [name, content] of Object.entries(openstackFiles(m, version, true))) files[`openstack/${version}/${name}`] = content;
  }
  const ec2 = JSON.stringify(ec2MetaData(m));
  for (const version of ['2009-04-04', 'latest']) {
    files[`ec2/${version}/meta-data.json`] = ec2;
    if (m.userData !== null) files[`ec2/${version}/user-data`] = Buffer.from(m.userData, 'base64');
  }
  return files;
}
