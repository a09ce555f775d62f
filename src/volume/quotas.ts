/**
 * Cinder quotas per project (os-quota-sets, limits): defaults from the config, per-project
 * overrides, usage counted from the rows that exist. Every create or extend checks inside its own
 * transaction after taking a per-project lock (an advisory lock on PostgreSQL; SQLite runs one
 * write transaction at a time), so concurrent creates cannot both take the last unit.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { invalidInput, overQuota, policyDenied } from './context.js';
import type { Caller, VolumeDeps } from './context.js';

export const GLOBAL_RESOURCES = ['volumes', 'snapshots', 'gigabytes', 'per_volume_gigabytes', 'backups', 'backup_gigabytes', 'groups'] as const;
/** Cinder also shows volumes_<type>, snapshots_<type> and gigabytes_<type> for every type. */
const PER_TYPE = ['volumes', 'snapshots', 'gigabytes'] as const;

export interface VolumeUsage {
  volumes: number;
  snapshots: number;
  gigabytes: number;
  /** Per type name: volumes, snapshots, gigabytes. */
  byType: Map<string, { volumes: number; snapshots: number; gigabytes: number }>;
}

export async function lockProjectQuota(deps: VolumeDeps, trx: Db, projectId: string): Promise<void> {
  if (deps.config.database.kind === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`cinder-quota:${projectId}`}))`.execute(trx);
}

/** Every quota key of the project (global and per type) with its limit. */
export async function quotaLimits(deps: VolumeDeps, db: Db, projectId: string): Promise<Record<string, number>> {
  const types = await db.selectFrom('volume_type').select('name').orderBy('name').execute();
  const out: Record<string, number> = { ...deps.config.volume.defaultQuotas };
  for (const t of types) for (const r of PER_TYPE) out[`${r}_${t.name}`] = -1;
  const rows = await db.selectFrom('volume_quota').selectAll().where('project_id', '=', projectId).execute();
  for (const r of rows) if (r.resource in out) out[r.resource] = Number(r.hard_limit);
  return out;
}

/** Volumes (at the size they are growing to), snapshots and their gigabytes, as Cinder counts them. */
export async function quotaUsage(db: Db, projectId: string): Promise<VolumeUsage> {
  const volumes = await db.selectFrom('volume_volume').innerJoin('volume_type', 'volume_type.id', 'volume_volume.volume_type_id')
    .select(['volume_volume.id', 'volume_volume.size', 'volume_volume.pending', 'volume_type.name as type_name']).where('volume_volume.project_id', '=', projectId).execute();
  const snapshots = await db.selectFrom('volume_snapshot').innerJoin('volume_volume', 'volume_volume.id', 'volume_snapshot.volume_id')
    .innerJoin('volume_type', 'volume_type.id', 'volume_volume.volume_type_id')
    .select(['volume_snapshot.size', 'volume_type.name as type_name']).where('volume_snapshot.project_id', '=', projectId).execute();
  const usage: VolumeUsage = { volumes: 0, snapshots: 0, gigabytes: 0, byType: new Map() };
  const of = (type: string) => {
    let u = usage.byType.get(type);
    if (!u) usage.byType.set(type, (u = { volumes: 0, snapshots: 0, gigabytes: 0 }));
    return u;
  };
  for (const v of volumes) {
    const pending = v.pending ? (JSON.parse(v.pending) as { kind: string; newSize?: number }) : null;
    const size = Math.max(Number(v.size), pending?.kind === 'extend' ? pending.newSize ?? 0 : 0);
    usage.volumes++;
    usage.gigabytes += size;
    of(v.type_name).volumes++;
    of(v.type_name).gigabytes += size;
  }
  for (const s of snapshots) {
    usage.snapshots++;
    usage.gigabytes += Number(s.size);
    of(s.type_name).snapshots++;
    of(s.type_name).gigabytes += Number(s.size);
  }
  return usage;
}

/**
 * Throws Cinder's 413 when adding `volumes`/`snapshots`/`gigabytes` of type `typeName` would go
 * over. Call inside the writing transaction, after lockProjectQuota.
 */
export async function checkVolumeQuota(deps: VolumeDeps, trx: Db, projectId: string, typeName: string, add: { volumes?: number; snapshots?: number; gigabytes: number; perVolumeSize?: number }): Promise<void> {
  const limits = await quotaLimits(deps, trx, projectId);
  const perVolume = limits.per_volume_gigabytes;
  if (add.perVolumeSize !== undefined && perVolume >= 0 && add.perVolumeSize > perVolume) {
    throw overQuota(`Requested volume size ${add.perVolumeSize}G is larger than maximum allowed limit ${perVolume}G.`);
  }
  const used = await quotaUsage(trx, projectId);
  const typed = used.byType.get(typeName) ?? { volumes: 0, snapshots: 0, gigabytes: 0 };
  const over = (limit: number | undefined, inUse: number, adding: number) => limit !== undefined && limit >= 0 && adding > 0 && inUse + adding > limit;
  for (const [key, inUse] of [['volumes', used.volumes], [`volumes_${typeName}`, typed.volumes]] as const) {
    if (over(limits[key], inUse, add.volumes ?? 0)) throw overQuota(`Maximum number of volumes allowed (${limits[key]}) exceeded for quota '${key}'.`);
  }
  for (const [key, inUse] of [['snapshots', used.snapshots], [`snapshots_${typeName}`, typed.snapshots]] as const) {
    if (over(limits[key], inUse, add.snapshots ?? 0)) throw overQuota(`Maximum number of snapshots allowed (${limits[key]}) exceeded`);
  }
  for (const [key, inUse] of [['gigabytes', used.gigabytes], [`gigabytes_${typeName}`, typed.gigabytes]] as const) {
    if (over(limits[key], inUse, add.gigabytes)) {
      throw overQuota(`Requested volume or snapshot exceeds allowed ${key} quota. Requested ${add.gigabytes}G, quota is ${limits[key]}G and ${inUse}G has been consumed.`);
    }
  }
}

const canRead = (caller: Caller, projectId: string) => caller.isAdmin || caller.projectId === projectId;

export async function showQuotaSet(deps: VolumeDeps, caller: Caller, projectId: string, usage: boolean) {
  if (!canRead(caller, projectId)) throw policyDenied('volume_extension:quotas:show');
  const limits = await quotaLimits(deps, deps.db, projectId);
  if (!usage) return { id: projectId, ...limits };
  const used = await quotaUsage(deps.db, projectId);
  const inUse = (key: string): number => {
    if (key === 'volumes' || key === 'snapshots' || key === 'gigabytes') return used[key];
    const m = /^(volumes|snapshots|gigabytes)_(.+)$/.exec(key);
    return m ? used.byType.get(m[2])?.[m[1] as 'volumes'] ?? 0 : 0;
  };
  return { id: projectId, ...Object.fromEntries(Object.entries(limits).map(([k, limit]) => [k, { limit, in_use: inUse(k), reserved: 0 }])) };
}

export async function defaultQuotaSet(deps: VolumeDeps, projectId: string) {
  const types = await deps.db.selectFrom('volume_type').select('name').orderBy('name').execute();
  const perType = Object.fromEntries(types.flatMap((t) => PER_TYPE.map((r) => [`${r}_${t.name}`, -1])));
  return { id: projectId, ...deps.config.volume.defaultQuotas, ...perType };
}

export async function updateQuotaSet(deps: VolumeDeps, caller: Caller, projectId: string, patch: Record<string, unknown>) {
  if (!caller.isAdmin) throw policyDenied('volume_extension:quotas:update');
  const known = await quotaLimits(deps, deps.db, projectId);
  const entries: [string, number][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'tenant_id' || key === 'id') continue;
    if (!(key in known)) throw invalidInput(`Bad key(s) in quota set: ${key}`);
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < -1) throw invalidInput(`Quota limit ${String(value)} for ${key} must be an integer of at least -1.`);
    entries.push([key, n]);
  }
  await deps.db.transaction().execute(async (tx) => {
    for (const [key, n] of entries) {
      await tx.insertInto('volume_quota').values({ project_id: projectId, resource: key, hard_limit: n })
        .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: n })).execute();
    }
  });
  return quotaLimits(deps, deps.db, projectId);
}

export async function deleteQuotaSet(deps: VolumeDeps, caller: Caller, projectId: string): Promise<void> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:quotas:delete');
  await deps.db.deleteFrom('volume_quota').where('project_id', '=', projectId).execute();
}

/** `GET /limits`: the absolute limits with usage; Cinder has no rate limits any more. */
export async function absoluteLimits(deps: VolumeDeps, projectId: string) {
  const [q, used] = [await quotaLimits(deps, deps.db, projectId), await quotaUsage(deps.db, projectId)];
  return {
    rate: [],
    absolute: {
      maxTotalVolumes: q.volumes, maxTotalSnapshots: q.snapshots, maxTotalVolumeGigabytes: q.gigabytes, maxTotalBackups: q.backups, maxTotalBackupGigabytes: q.backup_gigabytes,
      totalVolumesUsed: used.volumes, totalGigabytesUsed: used.gigabytes, totalSnapshotsUsed: used.snapshots, totalBackupsUsed: 0, totalBackupGigabytesUsed: 0,
    },
  };
}
