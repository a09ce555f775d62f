/**
 * The database's table types: each service declares its own tables, merged here.
 * @module
 */
import type { IdentityTables } from '../identity/schema.js';
import type { NetworkTables } from '../network/schema.js';
import type { ContainerTables } from '../container/schema.js';
import type { ImageTables } from '../image/schema.js';
import type { ComputeTables } from '../compute/schema.js';
import type { PlacementTables } from '../placement/schema.js';
import type { VolumeTables } from '../volume/schema.js';

export interface RevisionTable {
  /** The counter's name, e.g. `identity`. */
  name: string;
  /** Moves forward on every write that can change the outcome of a cached read. */
  value: number;
}

export interface Database extends IdentityTables, NetworkTables, ContainerTables, PlacementTables, ComputeTables, ImageTables, VolumeTables {
  kumo_revision: RevisionTable;
}
