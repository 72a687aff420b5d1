import {
  sourcesOf,
  type EgressRuleRecord,
  type IngressRuleRecord,
  type InstanceRecord,
  type PolicySpec,
  type RegistryState,
  type RouteRuleRecord,
  type RouteTarget,
  type ServiceRecord,
  type ServiceSource,
} from '@mesher/contracts';
import { compileIngress, type CompiledIngress } from './edge-rules';
import { compileRouteMatch, type RequestPredicate, type RouteRequest } from './route-matcher';

export interface CompiledTarget {
  readonly tags: Readonly<Record<string, string>>;
  readonly weight: number;
  /** Routable instances of this subset, in a stable order. */
  readonly instances: readonly InstanceRecord[];
}

export interface CompiledRoute {
  readonly id: string;
  readonly precedence: number;
  readonly matches: RequestPredicate;
  readonly targets: readonly CompiledTarget[];
  readonly totalWeight: number;
  readonly policy: PolicySpec | null;
}

export interface ServiceEntry {
  readonly name: string;
  readonly record: ServiceRecord;
  /** Every known instance, whatever its status. */
  readonly allInstances: readonly InstanceRecord[];
  /** UP and not expired at build time: the default candidate set. */
  readonly instances: readonly InstanceRecord[];
  /** Highest precedence first. */
  readonly routes: readonly CompiledRoute[];
  readonly policy: PolicySpec | null;
}

/** Immutable view of the registry that the data plane reads; a new one replaces it on every change. */
export interface RegistrySnapshot {
  readonly revision: number;
  readonly builtAt: number;
  readonly services: ReadonlyMap<string, ServiceEntry>;
  /** Earliest time an included instance expires by TTL (Infinity if none): the snapshot is stale after it. */
  readonly expiresAt: number;
  /** Edge rules, most specific first. */
  readonly ingress: readonly CompiledIngress[];
  readonly egress: readonly EgressRuleRecord[];
}

/**
 * `version` compares the instance version, any other key an instance label. `app` falls back to the
 * service's app id when the instance has no such label: ServiceComb rules select by `app` (the appId).
 */
export function instanceMatchesTags(inst: InstanceRecord, tags: Readonly<Record<string, string>>, serviceApp: string | null = null): boolean {
  for (const [k, v] of Object.entries(tags)) {
    const actual = k === 'version' ? inst.version : k === 'app' ? (inst.labels.app ?? serviceApp ?? undefined) : inst.labels[k];
    if (actual !== v) return false;
  }
  return true;
}

/** UP and, with a TTL, heard from within it. */
export function isRoutable(inst: InstanceRecord, now: number): boolean {
  return inst.status === 'UP' && (inst.ttl <= 0 || inst.lastHeartbeat + inst.ttl * 1000 > now);
}

function compileRoute(rule: RouteRuleRecord, routable: readonly InstanceRecord[], serviceApp: string | null): CompiledRoute {
  const targets = rule.route.map((t: RouteTarget) => ({
    tags: { ...t.tags },
    weight: t.weight,
    instances: routable.filter((i) => instanceMatchesTags(i, t.tags, serviceApp)),
  }));
  return {
    id: rule.id,
    precedence: rule.precedence,
    matches: compileRouteMatch(rule.match),
    targets,
    totalWeight: targets.reduce((s, t) => s + t.weight, 0),
    policy: rule.policy ?? null,
  };
}

/** Earliest TTL expiry among the instances routable at `now` (Infinity if none): when routing must change next. */
export function routableExpiry(instances: readonly InstanceRecord[], now: number): number {
  let at = Infinity;
  for (const i of instances) if (i.ttl > 0 && isRoutable(i, now)) at = Math.min(at, i.lastHeartbeat + i.ttl * 1000);
  return at;
}

/** Pure: compiles one service's entry; the unit a snapshot is built from, whole or one service at a time. */
export function buildServiceEntry(src: ServiceSource, now: number): ServiceEntry {
  const svc = src.record;
  const all = src.instances.slice().sort((a, b) => a.id.localeCompare(b.id));
  const routable = all.filter((i) => isRoutable(i, now));
  const routes = src.routes
    .map((r) => compileRoute(r, routable, svc.app))
    // Stable: equal precedence keeps id order so a decision is reproducible.
    .sort((a, b) => b.precedence - a.precedence || a.id.localeCompare(b.id));
  return { name: svc.name, record: svc, allInstances: all, instances: routable, routes, policy: src.policy };
}

/** Pure: builds the snapshot from store state; throws only on a rule that slipped past validation. */
export function buildSnapshot(state: RegistryState, now: number): RegistrySnapshot {
  const services = new Map<string, ServiceEntry>();
  let expiresAt = Infinity;
  for (const [name, src] of sourcesOf(state)) {
    const entry = buildServiceEntry(src, now);
    services.set(name, entry);
    expiresAt = Math.min(expiresAt, routableExpiry(entry.instances, now));
  }
  return { revision: state.revision, builtAt: now, services, expiresAt, ingress: compileIngress(state.ingress ?? []), egress: state.egress ?? [] };
}

/** What an incremental update replaces: whole services (null: removed), and the edge rules when given. */
export interface SnapshotChange {
  revision: number;
  services: ReadonlyMap<string, ServiceSource | null>;
  ingress?: readonly IngressRuleRecord[];
  egress?: readonly EgressRuleRecord[];
}

/**
 * Pure: the next snapshot after a change. Only the changed services are compiled; every other entry (and
 * the compiled edge rules unless they changed) is the previous snapshot's own object, so the cost follows
 * the change, not the registry, and consumers can skip entries they have seen (identity).
 */
export function updateSnapshot(prev: RegistrySnapshot, change: SnapshotChange, now: number): RegistrySnapshot {
  const services = new Map(prev.services);
  for (const [name, src] of change.services) {
    if (src) services.set(name, buildServiceEntry(src, now));
    else services.delete(name);
  }
  let expiresAt = Infinity;
  for (const e of services.values()) expiresAt = Math.min(expiresAt, routableExpiry(e.instances, now));
  return {
    revision: change.revision,
    builtAt: now,
    services,
    expiresAt,
    ingress: change.ingress ? compileIngress(change.ingress) : prev.ingress,
    egress: change.egress ? change.egress : prev.egress,
  };
}

export const EMPTY_STATE: RegistryState = { revision: 0, services: [], instances: [], routes: [], policies: [] };

export interface RouteDecision {
  route: CompiledRoute | null;
  target: CompiledTarget | null;
  candidates: readonly InstanceRecord[];
}

/** First matching rule by precedence, then a weighted pick among its subsets. */
export function decideRoute(entry: ServiceEntry, req: RouteRequest, random: () => number): RouteDecision {
  for (const route of entry.routes) {
    if (!route.matches(req)) continue;
    const target = pickTarget(route, random);
    return { route, target, candidates: target ? target.instances : [] };
  }
  return { route: null, target: null, candidates: entry.instances };
}

export function pickTarget(route: CompiledRoute, random: () => number): CompiledTarget | null {
  if (route.targets.length === 0 || route.totalWeight <= 0) return null;
  let x = random() * route.totalWeight;
  for (const t of route.targets) {
    if (t.weight <= 0) continue;
    x -= t.weight;
    if (x < 0) return t;
  }
  // Floating point edge: fall back to the last subset with weight.
  for (let i = route.targets.length - 1; i >= 0; i--) if (route.targets[i].weight > 0) return route.targets[i];
  return null;
}
