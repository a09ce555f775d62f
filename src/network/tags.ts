/**
 * Neutron's standard-attr-tag: tags on networks, subnets, ports, routers and floating IPs, stored as a JSON list on
 * each row and changed only by the owner (or an admin).
 * @module
 */
import { badInput, fromJsonArray, neutronError, neutronTime } from './context.js';
import type { Caller, NetworkDeps } from './context.js';
import type { Db } from '../store/database.js';
import { getOwnNetwork } from './networks.js';
import { getPort } from './ports.js';
import { getSubnet } from './subnets.js';
import { getRouter } from './routers.js';
import { getFloatingIp } from './floating-ips.js';

export const TAGGED = {
  networks: { table: 'network_network', load: (db: Db, c: Caller, id: string) => getOwnNetwork(db, c, id) },
  subnets: { table: 'network_subnet', load: (db: Db, c: Caller, id: string) => getSubnet(db, c, id) },
  ports: { table: 'network_port', load: (db: Db, c: Caller, id: string) => getPort(db, c, id) },
  routers: { table: 'network_router', load: (db: Db, c: Caller, id: string) => getRouter(db, c, id) },
  floatingips: { table: 'network_floating_ip', load: (db: Db, c: Caller, id: string) => getFloatingIp(db, c, id) },
} as const;

export type TaggedCollection = keyof typeof TAGGED;
const MAX_TAGS = 50;

function checkTag(tag: unknown): string {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > 255 || tag.includes(',')) throw badInput(`'${String(tag)}' is not a valid tag.`);
  return tag;
}

export async function readTags(db: Db, caller: Caller, collection: TaggedCollection, id: string): Promise<string[]> {
  return fromJsonArray<string>((await TAGGED[collection].load(db, caller, id)).tags);
}

/** Applies `change` to the resource's tags and returns the new list (sorted, unique). */
export async function changeTags(
  deps: NetworkDeps, caller: Caller, collection: TaggedCollection, id: string, change: (tags: string[]) => string[],
): Promise<string[]> {
  const { table, load } = TAGGED[collection];
  return deps.db.transaction().execute(async (trx) => {
    const row = await load(trx, caller, id);
    if (collection !== 'networks' && !caller.isAdmin && row.project_id !== caller.projectId) {
      throw neutronError('ERR_FORBIDDEN', 'PolicyNotAuthorized', `The request you have made requires authorization on ${collection.slice(0, -1)} ${id}.`);
    }
    const tags = [...new Set(change(fromJsonArray<string>(row.tags)).map(checkTag))].sort();
    if (tags.length > MAX_TAGS) throw badInput(`A resource can have at most ${MAX_TAGS} tags.`);
    await trx.updateTable(table).set({ tags: JSON.stringify(tags), updated_at: neutronTime(deps.now()), revision_number: row.revision_number + 1 }).where('id', '=', id).execute();
    return tags;
  });
}

export const tagNotFound = (tag: string, id: string) => neutronError('ERR_NOT_FOUND', 'TagNotFound', `Tag ${tag} could not be found for resource ${id}.`);
