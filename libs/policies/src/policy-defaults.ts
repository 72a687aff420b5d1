import type { PolicySpec } from '@mesher/contracts';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * What a service without a policy gets. Retries are conservative (connect failures only: the request
 * never reached the upstream). No rate limit, fault or active health check unless configured.
 * Frozen, because it is shared by every service.
 */
export const DEFAULT_POLICY: Readonly<PolicySpec> = deepFreeze({
  loadBalancer: { strategy: 'RoundRobin' },
  timeout: { requestMs: 30_000 },
  retry: {
    attempts: 2,
    retryOn: ['connect-failure'],
    retryNonIdempotent: false,
    backoffBaseMs: 25,
    backoffMaxMs: 250,
    budgetRatio: 0.2,
    budgetMinPerSecond: 10,
  },
  circuitBreaker: { errorThresholdPercent: 50, requestVolumeThreshold: 20, windowMs: 10_000, sleepWindowMs: 5_000 },
  outlier: { consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
} satisfies PolicySpec);

const SECTIONS = [
  'loadBalancer',
  'timeout',
  'retry',
  'circuitBreaker',
  'outlier',
  'rateLimit',
  'fault',
  'healthCheck',
] as const satisfies readonly (keyof PolicySpec)[];

/**
 * Section-wise shallow merge: for each section the override's fields replace the base's fields,
 * fields it does not set are kept (e.g. `{ retry: { attempts: 3 } }` keeps the base retryOn).
 * Nested values (retryOn, fault.delay, fault.headers) are replaced whole, not merged.
 */
export function mergePolicy(base: PolicySpec, override: PolicySpec | null | undefined): PolicySpec {
  const result: PolicySpec = { ...base };
  if (!override) return result;
  for (const key of SECTIONS) {
    const o = override[key];
    if (o === undefined || o === null) continue;
    const b = base[key];
    (result as Record<string, unknown>)[key] = b === undefined || b === null ? { ...o } : { ...b, ...o };
  }
  return result;
}
