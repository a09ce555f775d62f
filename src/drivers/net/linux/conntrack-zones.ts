/**
 * Conntrack zones for owned bridges: each network gets its own zone so that two projects using
 * the same addresses never see each other's connections as established. A zone must not change
 * while the network lives (that would drop its connections' state), so assignments are kept in
 * the state dir and only new networks get new numbers.
 * @module
 */
import { createHash } from 'node:crypto';

const ZONE_COUNT = 65535;

/**
 * Keeps the zones of networks still wanted and gives new ones a free zone. The search starts at a
 * hash of owner and network, so two Kumo instances on one host rarely pick the same numbers.
 */
export function assignZones(existing: Readonly<Record<string, number>>, networkIds: readonly string[], owner: string): Map<string, number> {
  const wanted = new Set(networkIds);
  const result = new Map<string, number>();
  const used = new Set<number>();
  for (const [id, zone] of Object.entries(existing)) {
    if (wanted.has(id) && Number.isInteger(zone) && zone >= 1 && zone <= ZONE_COUNT && !used.has(zone)) {
      result.set(id, zone);
      used.add(zone);
    }
  }
  for (const id of [...wanted].sort()) {
    if (result.has(id)) continue;
    const start = createHash('sha256').update(`${owner}:${id}`).digest().readUInt32BE(0) % ZONE_COUNT;
    for (let i = 0; i < ZONE_COUNT; i++) {
      const zone = ((start + i) % ZONE_COUNT) + 1;
      if (!used.has(zone)) {
        result.set(id, zone);
        used.add(zone);
        break;
      }
    }
  }
  return result;
}
