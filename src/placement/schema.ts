/**
 * The placement service's tables. Standard resource classes and traits are constants in code
 * (src/placement/standard.ts); only the CUSTOM_* ones an operator creates are rows.
 * @module
 */

export interface ResourceProviderTable {
  uuid: string;
  name: string;
  /** Moves on every change to the provider, its inventory, traits, aggregates or allocations against it: the compare-and-swap token of every claim. */
  generation: number;
  parent_provider_uuid: string | null;
  root_provider_uuid: string;
  created_at: string;
  updated_at: string;
}

export interface InventoryTable {
  provider_uuid: string;
  resource_class: string;
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
}

/** The owner of a set of allocations (a server, a container): claimed together, released together. */
export interface ConsumerTable {
  uuid: string;
  project_id: string;
  user_id: string;
  /** Placement's consumer generation (1.28): moves on every write of the consumer's allocations. */
  generation: number;
  consumer_type: string;
  created_at: string;
  updated_at: string;
}

export interface AllocationTable {
  consumer_uuid: string;
  provider_uuid: string;
  resource_class: string;
  used: number;
}

export interface CustomNameTable {
  name: string;
  created_at: string;
}

export interface ProviderTraitTable {
  provider_uuid: string;
  trait: string;
}

export interface ProviderAggregateTable {
  provider_uuid: string;
  aggregate_uuid: string;
}

export interface PlacementTables {
  placement_resource_provider: ResourceProviderTable;
  placement_inventory: InventoryTable;
  placement_consumer: ConsumerTable;
  placement_allocation: AllocationTable;
  placement_resource_class: CustomNameTable;
  placement_trait: CustomNameTable;
  placement_provider_trait: ProviderTraitTable;
  placement_provider_aggregate: ProviderAggregateTable;
}
