/**
 * The metadata of one server, gathered from the compute and network services for the metadata
 * service and the config drive.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { tapName } from '../../drivers/net/index.js';
import { vmPortDetails } from '../../network/workload-ports.js';
import type { ComputeDeps } from '../context.js';
import { flavorOf, portsOf, specOf } from '../servers.js';
import type { InstanceRow } from '../servers.js';
import type { InstanceMetadataInput } from './content.js';

export async function instanceMetadata(deps: ComputeDeps, row: InstanceRow, adminPass: string | null = null): Promise<InstanceMetadataInput> {
  const spec = specOf(row);
  const meta = Object.fromEntries((await deps.db.selectFrom('compute_instance_metadata').selectAll().where('instance_id', '=', row.uuid).orderBy('key').execute()).map((m) => [m.key, m.value]));
  const ports = await vmPortDetails(deps.network, portsOf(row).map((p) => p.id));
  return {
    uuid: row.uuid,
    name: row.name,
    hostname: row.hostname,
    projectId: row.project_id,
    launchIndex: spec.launch_index,
    reservationId: spec.reservation_id,
    availabilityZone: row.availability_zone ?? 'nova',
    imageId: row.image_id,
    flavorName: flavorOf(row).name,
    meta,
    keys: row.key_name && row.key_data ? [{ name: row.key_name, type: 'ssh', data: row.key_data }] : [],
    userData: row.user_data,
    adminPass,
    securityGroups: spec.security_groups,
    ports: ports.map((p) => ({ ...p, deviceName: tapName(p.id) })),
    randomSeed: randomBytes(512).toString('base64'),
    deviceTags: Object.fromEntries(ports.filter((p) => spec.port_tags[p.id]).map((p) => [p.macAddress, spec.port_tags[p.id]])),
  };
}
