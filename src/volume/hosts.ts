/**
 * Volume hosts (cinder-volume@host): the controller's heartbeat with the capacity its BlockStorage
 * reports (which other services read as the host's agent last-seen time), and the choice of a host
 * for a new volume (a live one with the most free space).
 * @module
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/database.js';
import type { VolumeDeps } from './context.js';
import type { VolumeServiceTable } from './schema.js';

export type VolumeServiceRow = Selectable<VolumeServiceTable>;

export const NO_VALID_BACKEND = 'No valid backend was found. No weighed backends available';

export const isAlive = (deps: Pick<VolumeDeps, 'config' | 'now'>, s: VolumeServiceRow): boolean =>
  deps.now() - Number(s.heartbeat_at) <= deps.config.volume.serviceDownSeconds * 1000;

export async function heartbeat(deps: VolumeDeps, host: string, capacity: { totalBytes: number; freeBytes: number; volumeDir: string }): Promise<void> {
  const now = deps.now();
  await deps.db.insertInto('volume_service').values({
    host, availability_zone: deps.config.volume.availabilityZone, heartbeat_at: now, total_bytes: capacity.totalBytes, free_bytes: capacity.freeBytes, volume_dir: capacity.volumeDir,
    disabled: 0, disabled_reason: null, created_at: new Date(now).toISOString(),
  }).onConflict((oc) => oc.column('host').doUpdateSet({ heartbeat_at: now, total_bytes: capacity.totalBytes, free_bytes: capacity.freeBytes, volume_dir: capacity.volumeDir })).execute();
}

export async function volumeServices(db: Db): Promise<VolumeServiceRow[]> {
  return db.selectFrom('volume_service').selectAll().orderBy('host').execute();
}

/**
 * When each of `hosts`' agent last reported, in milliseconds since the epoch: its volume
 * controller's heartbeat, the one heartbeat an agent records. Hosts that never reported (no
 * block storage there) are absent. For other services that show a host's last-seen time.
 */
export async function agentLastSeen(deps: VolumeDeps, hosts: readonly string[]): Promise<Map<string, number>> {
  if (!hosts.length) return new Map();
  const rows = await deps.db.selectFrom('volume_service').select(['host', 'heartbeat_at']).where('host', 'in', hosts).execute();
  return new Map(rows.map((r) => [r.host, Number(r.heartbeat_at)]));
}

/**
 * The live, enabled host in `zone` with the most free bytes, or null. Volume files are sparse, so
 * free space ranks hosts rather than excluding them (thin provisioning, as Cinder's LVM-thin).
 */
export async function pickVolumeHost(deps: VolumeDeps, db: Db, zone: string): Promise<string | null> {
  const live = (await volumeServices(db)).filter((s) => !s.disabled && s.availability_zone === zone && isAlive(deps, s));
  live.sort((a, b) => Number(b.free_bytes) - Number(a.free_bytes) || a.host.localeCompare(b.host));
  return live[0]?.host ?? null;
}

/** Where the volume's file is on its host (the BlockStorage contract: `<volumeDir>/<volumeId>.raw`), for connection_info. */
export async function volumeFileOnHost(db: Db, host: string | null, volumeId: string): Promise<string | null> {
  if (!host) return null;
  const s = await db.selectFrom('volume_service').select('volume_dir').where('host', '=', host).executeTakeFirst();
  return s ? `${s.volume_dir}/${volumeId}.raw` : null;
}
