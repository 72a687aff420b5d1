import type { PolicySpec } from '@mesher/contracts';
import type { RouteDecision, RouteRequest, ServiceEntry } from '@mesher/registry';

export interface ExplainAttempt {
  instance: string;
  endpoint: string;
  outcome: string;
  ms: number;
}

/** Why a request went where it went; built only for requests that ask (x-mesher-explain: 1). */
export interface Explanation {
  requestId: string;
  at: number;
  service: string;
  source: string;
  rules: Array<{ id: string; precedence: number; matched: boolean }>;
  matchedRule: string | null;
  subset: { tags: Record<string, string>; weight: number; totalWeight: number; instances: number } | null;
  candidates: number;
  balancer: string;
  policies: { rateLimit: string; fault: string; breaker: string; timeoutMs: number | null; retryAttempts: number };
  attempts: ExplainAttempt[];
  outcome: { status: number; code: string | null } | null;
  timings: Record<string, number>;
}

export function startExplanation(
  requestId: string,
  at: number,
  entry: ServiceEntry,
  req: RouteRequest,
  decision: RouteDecision,
  policy: PolicySpec,
): Explanation {
  return {
    requestId,
    at,
    service: entry.name,
    source: req.source ?? 'unknown',
    rules: entry.routes.map((r) => ({ id: r.id, precedence: r.precedence, matched: r.matches(req) })),
    matchedRule: decision.route ? decision.route.id : null,
    subset:
      decision.route && decision.target
        ? { tags: { ...decision.target.tags }, weight: decision.target.weight, totalWeight: decision.route.totalWeight, instances: decision.target.instances.length }
        : null,
    candidates: decision.candidates.length,
    balancer: policy.loadBalancer?.strategy ?? 'RoundRobin',
    policies: {
      rateLimit: 'not limited',
      fault: 'none',
      breaker: policy.circuitBreaker ? 'closed' : 'off',
      timeoutMs: policy.timeout?.requestMs ?? null,
      retryAttempts: policy.retry?.attempts ?? 1,
    },
    attempts: [],
    outcome: null,
    timings: {},
  };
}

/** The last explanations, for GET /v1/explain; bounded so it can stay on. */
export class ExplainLog {
  private readonly items: Explanation[] = [];

  constructor(private readonly max = 200) {}

  add(e: Explanation): void {
    this.items.push(e);
    if (this.items.length > this.max) this.items.shift();
  }

  get(requestId: string): Explanation | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) if (this.items[i].requestId === requestId) return this.items[i];
    return undefined;
  }

  recent(): Explanation[] {
    return this.items.slice().reverse();
  }
}
