import type { LoadBalancerSpec, PolicySpec } from '@mesher/contracts';
import {
  CircuitBreaker,
  createBalancer,
  DEFAULT_POLICY,
  KeyedRateLimiter,
  LoadTracker,
  mergePolicy,
  OutlierDetector,
  RetryBudget,
  TokenBucket,
  type Balancer,
} from '@mesher/policies';
import type { CompiledRoute, CompiledTarget, RegistrySnapshot, ServiceEntry } from '@mesher/registry';
import { ActiveHealthChecker } from './active-health-checker';

/** Distinct (balancer spec, subset) pairs remembered per service; past it the table starts afresh. */
const MAX_SUBSET_BALANCERS = 1024;

/**
 * Per-service data-plane state (balancer position, breaker window, ejections, token buckets).
 * It outlives snapshots: a swap reconfigures it in place when the policy changed, so a config
 * change does not reset an open breaker or hand out a fresh burst of tokens.
 */
export class ServiceRuntime {
  policy: PolicySpec = DEFAULT_POLICY;
  private policyKey = '';
  balancer!: Balancer;
  readonly load = new LoadTracker();
  breaker: CircuitBreaker | null = null;
  outlier: OutlierDetector | null = null;
  limiter: TokenBucket | null = null;
  perSource: KeyedRateLimiter | null = null;
  budget: RetryBudget = new RetryBudget();
  /** Instances failing active health checks (set by the table's checker). */
  unhealthy: ReadonlySet<string> | undefined;
  private readonly routePolicies = new WeakMap<CompiledRoute, PolicySpec>();
  /**
   * One balancer per route subset (and balancer spec): a round-robin position shared by subsets of
   * different sizes would skew every subset, and a rule's own loadBalancer must be honoured.
   */
  private readonly subsetBalancers = new Map<string, Balancer>();
  /** The same balancers by compiled subset of the snapshots in use (dropped with them). */
  private readonly targetBalancers = new WeakMap<CompiledTarget, { spec: LoadBalancerSpec | undefined; balancer: Balancer }>();
  private readonly routeLimiters = new Map<string, { key: string; bucket: TokenBucket }>();

  constructor(readonly name: string, entry: ServiceEntry, now: number) {
    this.update(entry, now);
  }

  update(entry: ServiceEntry, now: number): void {
    const policy = mergePolicy(DEFAULT_POLICY, entry.policy);
    const key = JSON.stringify(policy);
    if (key !== this.policyKey) {
      const prev = this.policy;
      this.policy = policy;
      this.policyKey = key;
      if (!this.balancer || JSON.stringify(prev.loadBalancer) !== JSON.stringify(policy.loadBalancer)) {
        this.balancer = createBalancer(policy.loadBalancer, this.load);
      }
      this.breaker = reconfigure(this.breaker, policy.circuitBreaker, (s) => new CircuitBreaker(s));
      this.outlier = reconfigure(this.outlier, policy.outlier, (s) => new OutlierDetector(s));
      const rl = policy.rateLimit;
      const rlKey = JSON.stringify(rl ?? null);
      if (rlKey !== JSON.stringify(prev.rateLimit ?? null) || (rl && !this.limiter && !this.perSource)) {
        this.limiter = rl?.requestsPerSecond ? new TokenBucket(rl.requestsPerSecond, rl.burst ?? rl.requestsPerSecond, now) : null;
        this.perSource = rl?.perSourceRequestsPerSecond
          ? new KeyedRateLimiter(rl.perSourceRequestsPerSecond, rl.burst ?? rl.perSourceRequestsPerSecond)
          : null;
      }
      const r = policy.retry;
      this.budget = new RetryBudget(r?.budgetRatio, r?.budgetMinPerSecond);
    }
    const ids = new Set(entry.allInstances.map((i) => i.id));
    this.load.retain(ids);
    this.outlier?.retain(ids);
    const routeIds = new Set(entry.routes.map((r) => r.id));
    for (const id of this.routeLimiters.keys()) if (!routeIds.has(id)) this.routeLimiters.delete(id);
  }

  /** A route's own token bucket (rateLimit in the rule's policy), kept across snapshots by rule id. */
  routeLimiter(route: CompiledRoute | null, now: number): TokenBucket | null {
    const rl = route?.policy?.rateLimit;
    if (!route || !rl?.requestsPerSecond) return null;
    const key = `${rl.requestsPerSecond}/${rl.burst ?? ''}`;
    let l = this.routeLimiters.get(route.id);
    if (!l || l.key !== key) {
      l = { key, bucket: new TokenBucket(rl.requestsPerSecond, rl.burst ?? rl.requestsPerSecond, now) };
      this.routeLimiters.set(route.id, l);
    }
    return l.bucket;
  }

  /**
   * The balancer for a route decision: the service's own when no rule chose a subset. Found by the
   * compiled subset object (per request, no key to build); a subset first seen in this snapshot is
   * looked up by its content key, so its balancer (round-robin position) survives snapshot swaps.
   */
  balancerFor(target: CompiledTarget | null, spec: LoadBalancerSpec | undefined): Balancer {
    if (!target) return this.balancer;
    const hit = this.targetBalancers.get(target);
    if (hit !== undefined && hit.spec === spec) return hit.balancer;
    const key = JSON.stringify([spec ?? null, Object.entries(target.tags).sort()]);
    let b = this.subsetBalancers.get(key);
    if (!b) {
      if (this.subsetBalancers.size >= MAX_SUBSET_BALANCERS) this.subsetBalancers.clear();
      b = createBalancer(spec, this.load);
      this.subsetBalancers.set(key, b);
    }
    this.targetBalancers.set(target, { spec, balancer: b });
    return b;
  }

  /** Service policy with the matched route's overrides on top (cached per compiled route). */
  policyFor(route: CompiledRoute | null): PolicySpec {
    if (!route || !route.policy) return this.policy;
    let p = this.routePolicies.get(route);
    if (!p) {
      p = mergePolicy(this.policy, route.policy);
      this.routePolicies.set(route, p);
    }
    return p;
  }
}

function reconfigure<T extends { update(spec: S): void }, S>(cur: T | null, spec: S | undefined, make: (s: S) => T): T | null {
  if (!spec) return null;
  if (!cur) return make(spec);
  cur.update(spec);
  return cur;
}

/** All service runtimes, kept in step with the current snapshot. */
export class RuntimeTable {
  private readonly table = new Map<string, ServiceRuntime>();
  /** The entry each runtime was last updated with: snapshots share unchanged entries, so those are skipped. */
  private readonly seen = new Map<string, ServiceEntry>();

  constructor(private readonly checker: ActiveHealthChecker = new ActiveHealthChecker()) {}

  sync(snapshot: RegistrySnapshot, now: number): void {
    for (const name of this.table.keys()) {
      if (!snapshot.services.has(name)) {
        this.table.delete(name);
        this.seen.delete(name);
      }
    }
    for (const [name, entry] of snapshot.services) {
      if (this.seen.get(name) === entry) continue;
      this.seen.set(name, entry);
      const rt = this.table.get(name);
      if (rt) rt.update(entry, now);
      else this.table.set(name, new ServiceRuntime(name, entry, now));
    }
    this.checker.sync(snapshot, (name) => this.table.get(name)?.policy.healthCheck);
    for (const [name, rt] of this.table) rt.unhealthy = this.checker.unhealthy(name);
  }

  /** Stops active health checks. */
  close(): void {
    this.checker.close();
  }

  get(name: string): ServiceRuntime | undefined {
    return this.table.get(name);
  }

  entries(): IterableIterator<[string, ServiceRuntime]> {
    return this.table.entries();
  }
}
