/** Nest injection tokens for values that are not classes. */
export const MESHER_CONFIG = Symbol('MESHER_CONFIG');
export const REGISTRY_STORE = Symbol('REGISTRY_STORE');
