/** Nest injection tokens for values that are not classes. */
export const MESHER_CONFIG = Symbol('MESHER_CONFIG');
export const REGISTRY_STORE = Symbol('REGISTRY_STORE');
export const SQLITE_DATA_SOURCE = Symbol('SQLITE_DATA_SOURCE');
export const TRAFFIC_HISTORY = Symbol('TRAFFIC_HISTORY');
