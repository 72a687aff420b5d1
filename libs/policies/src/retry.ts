import type { RetrySpec } from '@mesher/contracts';
import { RollingCounter } from './rolling-counter';

export type AttemptOutcome =
  | { kind: 'connect-failure' }
  | { kind: 'reset' }
  | { kind: 'timeout' }
  | { kind: 'status'; status: number };

/** Failures that are safe and usually useful to retry when the policy does not say. */
export const DEFAULT_RETRY_ON: readonly string[] = ['connect-failure', 'reset', '502', '503', '504'];
export const DEFAULT_BACKOFF_BASE_MS = 25;
export const DEFAULT_BACKOFF_MAX_MS = 250;

/** Idempotent per RFC 9110 (PATCH and POST are not); CONNECT is never retried. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function isRetryableOutcome(spec: RetrySpec, outcome: AttemptOutcome): boolean {
  const on = spec.retryOn ?? DEFAULT_RETRY_ON;
  if (outcome.kind !== 'status') return on.includes(outcome.kind);
  const s = outcome.status;
  return on.includes(String(s)) || (s >= 500 && s <= 599 && on.includes('5xx'));
}

/**
 * Only idempotent requests without a body are retried by default: a body may already be consumed
 * (streamed) and a non-idempotent request may already have had its effect upstream.
 */
export function isRetryableRequest(spec: RetrySpec, method: string, hasBody: boolean): boolean {
  if (spec.retryNonIdempotent === true) return true;
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) && !hasBody;
}

/** Delay before retry number `retryNumber` (1 = first retry): exponential with full jitter. */
export function backoffMs(spec: RetrySpec, retryNumber: number, random: () => number): number {
  const base = Math.max(0, spec.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS);
  const max = Math.max(0, spec.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS);
  const exponent = Math.min(30, Math.max(0, Math.floor(retryNumber) - 1)); // 2^30 caps any sane max
  const ceiling = Math.min(max, base * 2 ** exponent);
  // Full jitter (uniform in [0, ceiling)) keeps retrying clients from moving in lock step.
  return Math.floor(random() * ceiling);
}

/**
 * Linkerd-style retry budget: within the window, retries may reach minPerSecond * windowSeconds plus
 * ratio * requests. Under a total outage this caps the extra load instead of multiplying it.
 * Call recordRequest for original requests only, tryWithdraw before each retry.
 */
export class RetryBudget {
  private readonly counter: RollingCounter<'requests' | 'retries'>;
  private readonly reserve: number;

  constructor(
    private readonly ratio = 0.2,
    minPerSecond = 10,
    windowMs = 10_000,
  ) {
    this.counter = new RollingCounter(['requests', 'retries'], windowMs);
    this.reserve = (minPerSecond * windowMs) / 1000;
  }

  recordRequest(now: number): void {
    this.counter.add('requests', now);
  }

  tryWithdraw(now: number): boolean {
    const { requests, retries } = this.counter.totals(now);
    if (this.reserve + this.ratio * requests - retries < 1) return false;
    this.counter.add('retries', now);
    return true;
  }
}
