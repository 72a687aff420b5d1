import {
  configOf,
  type EgressRuleRecord,
  type IngressRuleRecord,
  type InstanceRecord,
  type MeshConfig,
  type PolicySpec,
  type RegistryState,
  type RouteRuleRecord,
  type ServiceRecord,
  type StaticInstance,
} from './model';

/** One service and everything hanging off it, as the store holds it: the unit of an incremental update. */
export interface ServiceSource {
  record: ServiceRecord;
  instances: InstanceRecord[];
  routes: RouteRuleRecord[];
  policy: PolicySpec | null;
}

/**
 * What changed in the store since a position of its change log. Each touched service comes whole
 * (null: it is gone), so applying the same change twice is harmless.
 */
export interface RegistryChanges {
  /** The change-log position this brings the reader to. */
  seq: number;
  /** The configuration revision now. */
  revision: number;
  services: Map<string, ServiceSource | null>;
  /** Heartbeats only: the instance's new lastHeartbeat, nothing else changed. */
  heartbeats: Array<{ service: string; id: string; lastHeartbeat: number }>;
  /** Present when edge rules changed: the whole (small) lists. */
  ingress?: IngressRuleRecord[];
  egress?: EgressRuleRecord[];
}

/** Groups a full state by service (state order kept); instances, rules or policies of unknown services are dropped. */
export function sourcesOf(state: Pick<RegistryState, 'services' | 'instances' | 'routes' | 'policies'>): Map<string, ServiceSource> {
  const out = new Map<string, ServiceSource>();
  for (const record of state.services) out.set(record.name, { record, instances: [], routes: [], policy: null });
  for (const i of state.instances) out.get(i.service)?.instances.push(i);
  for (const r of state.routes) out.get(r.service)?.routes.push(r);
  for (const p of state.policies) {
    const s = out.get(p.service);
    if (s) s.policy = p.spec;
  }
  return out;
}

/** The part of a MeshConfig that belongs to one service (its record with static instances, its rules, its policy). */
export interface ServiceConfigSlice {
  service: (ServiceRecord & { instances: StaticInstance[] }) | null;
  routes: RouteRuleRecord[];
  policy: PolicySpec | null;
}

/** A revision stored as a change: the touched services' slices after it (a slice with no service: removed). */
export interface ConfigDelta {
  services: Record<string, ServiceConfigSlice>;
}

/** The config slice of one service (null source: the service is gone). */
export function configSliceOf(name: string, src: ServiceSource | null): ServiceConfigSlice {
  if (!src) return { service: null, routes: [], policy: null };
  const c = configOf({ services: [src.record], instances: src.instances, routes: src.routes, policies: src.policy ? [{ service: name, spec: src.policy }] : [] });
  return { service: c.services[0], routes: c.routes, policy: c.policies[name] ?? null };
}

/** A configuration cut into its services' slices (routes and policies go with the service they belong to). */
export function configSlices(c: MeshConfig): Map<string, ServiceConfigSlice> {
  const out = new Map<string, ServiceConfigSlice>();
  const of = (name: string) => {
    let s = out.get(name);
    if (!s) out.set(name, (s = { service: null, routes: [], policy: null }));
    return s;
  };
  for (const svc of c.services) of(svc.name).service = svc;
  for (const r of c.routes) of(r.service).routes.push(r);
  for (const [name, p] of Object.entries(c.policies)) of(name).policy = p;
  return out;
}

/** Applies revisions stored as deltas to a full configuration; the result is sorted like configOf's. */
export function applyConfigDeltas(base: MeshConfig, deltas: readonly ConfigDelta[]): MeshConfig {
  const services = new Map(base.services.map((s) => [s.name, s]));
  const routes = new Map(base.routes.map((r) => [r.id, r]));
  const policies = new Map(Object.entries(base.policies));
  for (const d of deltas) {
    for (const [name, slice] of Object.entries(d.services)) {
      if (slice.service) services.set(name, slice.service);
      else services.delete(name);
      for (const [id, r] of routes) if (r.service === name) routes.delete(id);
      for (const r of slice.routes) routes.set(r.id, r);
      if (slice.policy) policies.set(name, slice.policy);
      else policies.delete(name);
    }
  }
  const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return { services: byKey(services), routes: byKey(routes), policies: Object.fromEntries([...policies.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) };
}
