import type { LoadBalancerSpec, LoadBalancerStrategy } from '@mesher/contracts';
import type { LoadTracker } from './load-tracker';

export interface Pickable {
  readonly id: string;
  readonly weight: number;
}

export interface PickContext {
  now: number;
  random: () => number;
  /** SessionSticky only: the caller's session key (from the configured header or cookie). */
  sessionKey?: string;
}

export interface Balancer {
  pick<T extends Pickable>(candidates: readonly T[], ctx: PickContext): T | undefined;
  /** Outcome of a request sent to `instanceId`; only stateful strategies (SessionSticky) care. */
  reportResult?(instanceId: string, ok: boolean, ctx: PickContext): void;
}

export interface BalancerOptions {
  /** SessionSticky: most sessions remembered; the least recently used is forgotten first. */
  maxSessions?: number;
}

export const DEFAULT_SESSION_FAILURE_THRESHOLD = 3;
export const DEFAULT_MAX_STICKY_SESSIONS = 10_000;

type BalancerFactory = (spec: LoadBalancerSpec | undefined, load: LoadTracker, options: BalancerOptions) => Balancer;

/**
 * How each strategy is built. A Record keyed by the contract's union, so the compiler rejects a
 * missing or unknown strategy; it is also the list the policy validator accepts.
 */
const FACTORIES: Record<LoadBalancerStrategy, BalancerFactory> = {
  RoundRobin: () => new RoundRobinBalancer(),
  Random: () => new RandomBalancer(),
  WeightedRoundRobin: () => new WeightedRoundRobinBalancer(),
  LeastRequest: (_spec, load) => new LeastRequestBalancer(load),
  SessionSticky: (spec, _load, options) =>
    new SessionStickyBalancer(
      Math.max(1, spec?.sessionFailureThreshold ?? DEFAULT_SESSION_FAILURE_THRESHOLD),
      Math.max(1, options.maxSessions ?? DEFAULT_MAX_STICKY_SESSIONS),
    ),
};

/** Strategies createBalancer can build (the same set as the contract's LOAD_BALANCER_STRATEGIES). */
export const BALANCER_STRATEGIES = Object.keys(FACTORIES) as readonly LoadBalancerStrategy[];

/** One balancer per destination (service or route subset); it keeps per-destination state. */
export function createBalancer(
  spec: LoadBalancerSpec | undefined,
  load: LoadTracker,
  options: BalancerOptions = {},
): Balancer {
  const factory = FACTORIES[spec?.strategy ?? 'RoundRobin'];
  if (factory === undefined) throw new Error(`unknown load balancer strategy '${spec?.strategy}'`);
  return factory(spec, load, options);
}

/** Index in [0, n) from a random source; guards against a source that returns exactly 1. */
function randomIndex(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

export class RoundRobinBalancer implements Balancer {
  private next = 0;

  pick<T extends Pickable>(candidates: readonly T[]): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    // Modulo on every pick keeps the index valid when the list shrinks or grows between calls.
    const i = this.next % n;
    this.next = i + 1;
    return candidates[i];
  }
}

export class RandomBalancer implements Balancer {
  pick<T extends Pickable>(candidates: readonly T[], ctx: PickContext): T | undefined {
    return candidates.length === 0 ? undefined : candidates[randomIndex(ctx.random, candidates.length)];
  }
}

/** nginx's smooth weighted round robin: exact proportions per cycle, with picks spread out, not bunched. */
export class WeightedRoundRobinBalancer implements Balancer {
  private readonly current = new Map<string, number>();

  pick<T extends Pickable>(candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    const weights = candidates.map((c) => (Number.isFinite(c.weight) && c.weight > 0 ? c.weight : 0));
    let total = weights.reduce((a, b) => a + b, 0);
    if (total === 0) {
      // All weights 0: treat them as equal rather than refusing to route.
      weights.fill(1);
      total = weights.length;
    }
    let best: T | undefined;
    let bestWeight = -Infinity;
    candidates.forEach((c, i) => {
      const cw = (this.current.get(c.id) ?? 0) + weights[i];
      this.current.set(c.id, cw);
      if (weights[i] > 0 && cw > bestWeight) {
        best = c;
        bestWeight = cw;
      }
    });
    this.current.set(best!.id, bestWeight - total);
    // Every live id was just touched, so a larger map means stale ids: drop them.
    if (this.current.size > candidates.length) {
      const live = new Set(candidates.map((c) => c.id));
      for (const id of this.current.keys()) if (!live.has(id)) this.current.delete(id);
    }
    return best;
  }
}

/** Power of two choices on (inflight + 1) * peak-EWMA latency: near least-loaded without a global scan. */
export class LeastRequestBalancer implements Balancer {
  constructor(private readonly load: LoadTracker) {}

  pick<T extends Pickable>(candidates: readonly T[], ctx: PickContext): T | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const i = randomIndex(ctx.random, n);
    let j = randomIndex(ctx.random, n - 1);
    if (j >= i) j++; // two distinct candidates
    const a = candidates[i];
    const b = candidates[j];
    return this.load.score(b.id, ctx.now) < this.load.score(a.id, ctx.now) ? b : a;
  }
}

interface StickySession {
  instanceId: string;
  failures: number;
}

/**
 * Pins a session key to an instance. The pin moves when the instance leaves the candidates or
 * fails `failureThreshold` times in a row for that session. Sessions live in a bounded LRU.
 */
export class SessionStickyBalancer implements Balancer {
  private readonly sessions = new Map<string, StickySession>();
  private readonly fallback = new RoundRobinBalancer();

  constructor(
    private readonly failureThreshold: number,
    private readonly maxSessions: number,
  ) {}

  pick<T extends Pickable>(candidates: readonly T[], ctx: PickContext): T | undefined {
    const key = ctx.sessionKey;
    if (key === undefined || candidates.length === 0) return this.fallback.pick(candidates);
    const session = this.sessions.get(key);
    let pool = candidates;
    if (session !== undefined) {
      const pinned = candidates.find((c) => c.id === session.instanceId);
      if (pinned !== undefined && session.failures < this.failureThreshold) {
        this.touch(key, session);
        return pinned;
      }
      // Moving because of failures: avoid landing on the same instance again if there is a choice.
      if (pinned !== undefined && candidates.length > 1) pool = candidates.filter((c) => c !== pinned);
    }
    const chosen = this.fallback.pick(pool)!;
    this.touch(key, { instanceId: chosen.id, failures: 0 });
    return chosen;
  }

  reportResult(instanceId: string, ok: boolean, ctx: PickContext): void {
    const session = ctx.sessionKey === undefined ? undefined : this.sessions.get(ctx.sessionKey);
    if (session === undefined || session.instanceId !== instanceId) return;
    session.failures = ok ? 0 : session.failures + 1;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Map insertion order is the LRU order: re-inserting marks the key as most recently used. */
  private touch(key: string, session: StickySession): void {
    this.sessions.delete(key);
    this.sessions.set(key, session);
    if (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }
}
