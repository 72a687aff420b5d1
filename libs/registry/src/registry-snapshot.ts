import type {
  EgressRuleRecord,
  InstanceRecord,
  PolicySpec,
  RegistryState,
  RouteRuleRecord,
  RouteTarget,
  ServiceRecord,
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
  /** The state it was built from, for rebuilds on expiry. */
  readonly state: RegistryState;
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

function isRoutable(inst: InstanceRecord, now: number): boolean {
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

/** Pure: builds the snapshot from store state; throws only on a rule that slipped past validation. */
export function buildSnapshot(state: RegistryState, now: number): RegistrySnapshot {
  const byService = new Map<string, InstanceRecord[]>();
  let expiresAt = Infinity;
  for (const inst of state.instances) {
    let list = byService.get(inst.service);
    if (!list) byService.set(inst.service, (list = []));
    list.push(inst);
    if (inst.status === 'UP' && inst.ttl > 0) {
      const exp = inst.lastHeartbeat + inst.ttl * 1000;
      if (exp > now && exp < expiresAt) expiresAt = exp;
    }
  }
  const policies = new Map(state.policies.map((p) => [p.service, p.spec]));
  const rulesByService = new Map<string, RouteRuleRecord[]>();
  for (const r of state.routes) {
    let list = rulesByService.get(r.service);
    if (!list) rulesByService.set(r.service, (list = []));
    list.push(r);
  }
  const services = new Map<string, ServiceEntry>();
  for (const svc of state.services) {
    const all = (byService.get(svc.name) ?? []).slice().sort((a, b) => a.id.localeCompare(b.id));
    const routable = all.filter((i) => isRoutable(i, now));
    const routes = (rulesByService.get(svc.name) ?? [])
      .map((r) => compileRoute(r, routable, svc.app))
      // Stable: equal precedence keeps id order so a decision is reproducible.
      .sort((a, b) => b.precedence - a.precedence || a.id.localeCompare(b.id));
    services.set(svc.name, {
      name: svc.name,
      record: svc,
      allInstances: all,
      instances: routable,
      routes,
      policy: policies.get(svc.name) ?? null,
    });
  }
  return { revision: state.revision, builtAt: now, services, expiresAt, state, ingress: compileIngress(state.ingress ?? []), egress: state.egress ?? [] };
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
