/**
 * Servers as Nova shows them: the summary and detail documents at the requested microversion
 * (fields OSC reads without fallback: id, name, status, image, flavor, addresses, metadata), and
 * the list with Nova's filters, sorting and paging.
 * @module
 */
import { serverAddressesOfMany } from '../network/workload-ports.js';
import type { ServerAddress } from '../network/workload-ports.js';
import { adminOnly, invalid, isIsoDateTime, novaLinks, novaTime } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { flavorOf, hostIdOf, portsOf, serverStatus, specOf } from './servers.js';
import type { InstanceRow } from './servers.js';
import { volumesAttachedOf } from './server-volumes.js';
import type { ServerVolumeRow } from './server-volumes.js';

export interface ViewContext {
  readonly deps: ComputeDeps;
  readonly caller: Caller;
  readonly minor: number;
  /** `{publicUrl}/compute`. */
  readonly base: string;
  /** `{publicUrl}/image`, for the image links. */
  readonly imageBase: string;
}

/** What a page of servers needs besides their rows, fetched once for the page. */
interface Extras {
  metadata: Map<string, Record<string, string>>;
  tags: Map<string, string[]>;
  addresses: Record<string, ServerAddress[]>[];
  volumes: Map<string, ServerVolumeRow[]>;
}

async function extrasOf(deps: ComputeDeps, rows: readonly InstanceRow[]): Promise<Extras> {
  const ids = rows.map((r) => r.uuid);
  const metadata = new Map<string, Record<string, string>>(ids.map((id) => [id, {}]));
  const tags = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const m of await deps.db.selectFrom('compute_instance_metadata').selectAll().where('instance_id', 'in', chunk).execute()) metadata.get(m.instance_id)![m.key] = m.value;
    for (const t of await deps.db.selectFrom('compute_instance_tag').selectAll().where('instance_id', 'in', chunk).orderBy('tag').execute()) tags.get(t.instance_id)!.push(t.tag);
  }
  const addresses = await serverAddressesOfMany(deps.network, rows.map((r) => portsOf(r).map((p) => p.id)));
  return { metadata, tags, addresses, volumes: await volumesAttachedOf(deps, ids) };
}

export function summaryOf(ctx: ViewContext, row: InstanceRow) {
  return { id: row.uuid, name: row.name, links: novaLinks(ctx.base, null, 'servers', row.uuid) };
}

function detailOf(ctx: ViewContext, row: InstanceRow, extras: Extras, index: number): Record<string, unknown> {
  const { minor, caller } = ctx;
  const flavor = flavorOf(row);
  const spec = specOf(row);
  const status = serverStatus(row);
  const out: Record<string, unknown> = {
    id: row.uuid,
    name: row.name,
    status,
    tenant_id: row.project_id,
    user_id: row.user_id,
    metadata: extras.metadata.get(row.uuid) ?? {},
    hostId: hostIdOf(row),
    image: row.image_id ? { id: row.image_id, links: [{ rel: 'bookmark', href: `${ctx.imageBase}/images/${row.image_id}` }] } : '',
    flavor: minor >= 47
      ? { vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk, ephemeral: flavor.ephemeral, swap: flavor.swap, original_name: flavor.name, extra_specs: flavor.extra_specs }
      : { id: flavor.id, links: novaLinks(ctx.base, null, 'flavors', flavor.id).slice(1) },
    created: novaTime(Date.parse(row.created_at)),
    updated: novaTime(Date.parse(row.updated_at)),
    addresses: extras.addresses[index] ?? {},
    accessIPv4: row.access_ipv4 ?? '',
    accessIPv6: row.access_ipv6 ?? '',
    links: novaLinks(ctx.base, null, 'servers', row.uuid),
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': row.availability_zone ?? '',
    config_drive: spec.config_drive ? 'True' : '',
    key_name: row.key_name,
    'OS-SRV-USG:launched_at': row.launched_at ? row.launched_at.replace('Z', '').replace(/(\.\d{3})?$/, '.000000') : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': row.task_state,
    'OS-EXT-STS:vm_state': row.vm_state,
    'OS-EXT-STS:power_state': row.power_state,
    // Volumes being detached are gone from Nova's view already; delete_on_termination from 2.3.
    'os-extended-volumes:volumes_attached': (extras.volumes.get(row.uuid) ?? []).filter((v) => v.state !== 'detaching')
      .map((v) => ({ id: v.volume_id, ...(minor >= 3 ? { delete_on_termination: v.delete_on_termination === 1 } : {}) })),
  };
  // Nova leaves the key out when the server has no security group.
  if (spec.security_groups.length) out.security_groups = spec.security_groups.map((name) => ({ name }));
  if (status === 'BUILD' || status === 'ACTIVE') out.progress = status === 'ACTIVE' ? 100 : 0;
  if (caller.isAdmin) {
    out['OS-EXT-SRV-ATTR:host'] = row.host;
    out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${row.uuid.slice(0, 8)}`;
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = row.host;
    if (minor >= 3) {
      out['OS-EXT-SRV-ATTR:reservation_id'] = spec.reservation_id;
      out['OS-EXT-SRV-ATTR:launch_index'] = spec.launch_index;
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      out['OS-EXT-SRV-ATTR:user_data'] = row.user_data;
    }
  }
  if (minor >= 3 && (caller.isAdmin || minor >= 90)) out['OS-EXT-SRV-ATTR:hostname'] = row.hostname;
  if (minor >= 9) out.locked = row.locked === 1;
  if (minor >= 16) out.host_status = row.host ? 'UP' : '';
  if (minor >= 19) out.description = row.description;
  if (minor >= 26) out.tags = extras.tags.get(row.uuid) ?? [];
  if (minor >= 63) out.trusted_image_certificates = null;
  if (minor >= 73) out.locked_reason = row.locked_reason;
  if (row.fault && (status === 'ERROR' || status === 'DELETED')) {
    const fault = JSON.parse(row.fault) as { code: number; message: string; details?: string; created: string };
    // Nova hides the details of 500 faults from non-admins.
    out.fault = { code: fault.code, message: fault.message, created: novaTime(Date.parse(fault.created)), ...(caller.isAdmin || fault.code !== 500 ? { details: fault.details ?? '' } : {}) };
  }
  return out;
}

export async function renderServers(ctx: ViewContext, rows: readonly InstanceRow[]): Promise<Record<string, unknown>[]> {
  const extras = await extrasOf(ctx.deps, rows);
  return rows.map((row, i) => detailOf(ctx, row, extras, i));
}

export async function renderServer(ctx: ViewContext, row: InstanceRow): Promise<Record<string, unknown>> {
  return (await renderServers(ctx, [row]))[0];
}

/** What Nova's update and rebuild responses leave out before 2.75, where they became the full show view. */
const NOT_IN_ACTION_VIEW = /^(OS-EXT-AZ|OS-EXT-STS|OS-SRV-USG|OS-EXT-SRV-ATTR):|^(config_drive|key_name|os-extended-volumes:volumes_attached|security_groups|host_status|server_groups)$/;

/**
 * The server as `PUT /servers/{id}` and the rebuild action answer it: before 2.75 without the
 * extension attributes, and addresses without type and MAC; a rebuild's answer has key_name from
 * 2.54 and user_data from 2.57 (what a rebuild may change).
 */
export async function renderServerAfterChange(ctx: ViewContext, row: InstanceRow, rebuild = false): Promise<Record<string, unknown>> {
  const full = await renderServer(ctx, row);
  if (ctx.minor >= 75) return full;
  const out = Object.fromEntries(Object.entries(full).filter(([k]) => !NOT_IN_ACTION_VIEW.test(k)));
  if (rebuild && ctx.minor >= 54) out.key_name = row.key_name;
  if (rebuild && ctx.minor >= 57) out.user_data = row.user_data;
  const addresses = full.addresses as Record<string, { version: number; addr: string }[]>;
  out.addresses = Object.fromEntries(Object.entries(addresses).map(([net, list]) => [net, list.map(({ version, addr }) => ({ version, addr }))]));
  return out;
}

// ---- listing ----

type Q = Record<string, string | string[] | undefined>;
const last = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const SORT_KEYS: Record<string, (r: InstanceRow) => string | number | null> = {
  access_ip_v4: (r) => r.access_ipv4, access_ip_v6: (r) => r.access_ipv6, availability_zone: (r) => r.availability_zone,
  config_drive: (r) => String(specOf(r).config_drive), created_at: (r) => r.created_at, display_description: (r) => r.description,
  display_name: (r) => r.name, host: (r) => r.host, hostname: (r) => r.hostname, image_ref: (r) => r.image_id, instance_type_id: (r) => flavorOf(r).id,
  kernel_id: () => '', key_name: (r) => r.key_name, launch_index: (r) => specOf(r).launch_index, launched_at: (r) => r.launched_at, locked: (r) => r.locked,
  locked_by: () => null, node: (r) => r.host, power_state: (r) => r.power_state, progress: () => 0, project_id: (r) => r.project_id, ramdisk_id: () => '',
  root_device_name: () => '/dev/vda', task_state: (r) => r.task_state, terminated_at: () => null, updated_at: (r) => r.updated_at, user_id: (r) => r.user_id,
  uuid: (r) => r.uuid, vm_state: (r) => r.vm_state,
};
const ADMIN_SORT_KEYS = new Set(['host', 'node']);

/** Nova's status filter names the API statuses; some map to several vm_states. */
function matchesStatus(row: InstanceRow, wanted: string[]): boolean {
  return wanted.some((w) => serverStatus(row) === w.toUpperCase());
}

export async function listServers(ctx: ViewContext, q: Q): Promise<{ rows: InstanceRow[]; next: string | null }> {
  const { deps, caller } = ctx;
  const allTenants = last(q.all_tenants) !== undefined && !['0', 'false', 'f', 'no', 'off'].includes(String(last(q.all_tenants)).toLowerCase());
  if (allTenants && !caller.isAdmin) throw adminOnly('os_compute_api:servers:index:get_all_tenants');
  let query = deps.db.selectFrom('compute_instance').selectAll();
  const projectFilter = last(q.project_id) ?? last(q.tenant_id);
  if (!caller.isAdmin || !allTenants) query = query.where('project_id', '=', caller.isAdmin && projectFilter ? projectFilter : caller.projectId);
  else if (projectFilter) query = query.where('project_id', '=', projectFilter);
  if (last(q.host) !== undefined) {
    if (!caller.isAdmin) throw adminOnly('os_compute_api:servers:index');
    query = query.where('host', '=', last(q.host)!);
  }
  let rows = await query.execute();
  const name = last(q.name);
  if (name !== undefined) {
    // Nova's name filter is a regular expression (matched anywhere).
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      throw invalid(`Invalid input for query parameters name. Value: ${name}. It is not a valid regular expression`);
    }
    rows = rows.filter((r) => re.test(r.name));
  }
  if (q.status !== undefined) rows = rows.filter((r) => matchesStatus(r, all(q.status)));
  if (last(q.image) !== undefined) rows = rows.filter((r) => r.image_id === last(q.image)!.split('/').at(-1));
  if (last(q.flavor) !== undefined) rows = rows.filter((r) => flavorOf(r).id === last(q.flavor)!.split('/').at(-1));
  if (last(q.availability_zone) !== undefined) rows = rows.filter((r) => r.availability_zone === last(q.availability_zone));
  if (last(q['changes-since']) !== undefined || last(q['changes-before']) !== undefined) {
    const since = last(q['changes-since']);
    const before = last(q['changes-before']);
    for (const [k, v] of [['changes-since', since], ['changes-before', before]] as const) {
      if (v !== undefined && !isIsoDateTime(v)) throw invalid(`Invalid input for query parameters ${k}. Value: ${v}. '${v}' is not a 'date-time'`);
    }
    rows = rows.filter((r) => (since === undefined || Date.parse(r.updated_at) >= Date.parse(since)) && (before === undefined || Date.parse(r.updated_at) <= Date.parse(before)));
  }
  if (last(q.locked) !== undefined && ctx.minor >= 73) {
    const want = ['true', '1', 't', 'yes'].includes(last(q.locked)!.toLowerCase());
    rows = rows.filter((r) => (r.locked === 1) === want);
  }
  const tagFilters = ['tags', 'tags-any', 'not-tags', 'not-tags-any'].filter((k) => q[k] !== undefined);
  if (tagFilters.length) {
    const tagRows = rows.length ? await deps.db.selectFrom('compute_instance_tag').selectAll().where('instance_id', 'in', rows.map((r) => r.uuid)).execute() : [];
    const tagsOf = (id: string) => tagRows.filter((t) => t.instance_id === id).map((t) => t.tag);
    const csv = (k: string) => all(q[k]).flatMap((v) => v.split(',')).filter(Boolean);
    if (q.tags !== undefined) rows = rows.filter((r) => csv('tags').every((t) => tagsOf(r.uuid).includes(t)));
    if (q['tags-any'] !== undefined) rows = rows.filter((r) => csv('tags-any').some((t) => tagsOf(r.uuid).includes(t)));
    if (q['not-tags'] !== undefined) rows = rows.filter((r) => !csv('not-tags').every((t) => tagsOf(r.uuid).includes(t)));
    if (q['not-tags-any'] !== undefined) rows = rows.filter((r) => !csv('not-tags-any').some((t) => tagsOf(r.uuid).includes(t)));
  }
  if (q.ip !== undefined || q.ip6 !== undefined) {
    const addrs = await serverAddressesOfMany(deps.network, rows.map((r) => portsOf(r).map((p) => p.id)));
    const ipRe = (v: string | undefined) => (v === undefined ? undefined : new RegExp(v.replace(/\./g, '\\.')));
    const ip = ipRe(last(q.ip));
    const ip6 = ipRe(last(q.ip6));
    rows = rows.filter((_, i) => Object.values(addrs[i]).flat().some((a) => (ip && a.version === 4 && ip.test(a.addr)) || (ip6 && a.version === 6 && ip6.test(a.addr))));
  }

  const keys = all(q.sort_key);
  const dirs = all(q.sort_dir);
  for (const k of keys) {
    if (!(k in SORT_KEYS)) throw invalid(`Invalid input for query parameters sort_key. Value: ${k}.`);
    if (ADMIN_SORT_KEYS.has(k) && !caller.isAdmin) throw adminOnly('os_compute_api:servers:index');
  }
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw invalid(`Invalid input for query parameters sort_dir. Value: ${d}. '${d}' is not one of ['asc', 'desc']`);
  const order = keys.length ? keys : ['created_at'];
  rows.sort((a, b) => {
    for (let i = 0; i < order.length; i++) {
      const dir = (dirs[i] ?? 'desc') === 'asc' ? 1 : -1;
      const x = SORT_KEYS[order[i]](a) ?? '';
      const y = SORT_KEYS[order[i]](b) ?? '';
      if (x !== y) return (x < y ? -1 : 1) * dir;
    }
    return a.uuid < b.uuid ? 1 : a.uuid > b.uuid ? -1 : 0;
  });
  const marker = last(q.marker);
  if (marker !== undefined) {
    const at = rows.findIndex((r) => r.uuid === marker);
    if (at < 0) throw invalid(`marker [${marker}] not found`);
    rows = rows.slice(at + 1);
  }
  const limitText = last(q.limit);
  let next: string | null = null;
  if (limitText !== undefined) {
    if (!/^\d+$/.test(limitText)) throw invalid(`Invalid input for query parameters limit. Value: ${limitText}. '${limitText}' is not a valid integer`);
    const limit = Number(limitText);
    if (rows.length > limit) {
      rows = rows.slice(0, limit);
      next = rows.at(-1)?.uuid ?? null;
    }
  }
  return { rows, next };
}
