import type { CircuitBreakerSpec } from '@mesher/contracts';
import { RollingCounter } from './rolling-counter';

export type BreakerDecision = 'allow' | 'probe' | 'reject';
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A probe whose outcome is never reported (a lost callback) must not hold the breaker open forever;
 * after this long another probe may go. Callers should still report cancelled probes as failures.
 */
export const PROBE_LEASE_MS = 60_000;

/**
 * Hystrix-style breaker: opens when the error percentage over a rolling window reaches the threshold
 * (with enough volume), rejects for sleepWindowMs, then lets exactly one probe through at a time.
 */
export class CircuitBreaker {
  private spec: CircuitBreakerSpec;
  private window: RollingCounter<'ok' | 'fail'>;
  /** Time the breaker (re)opened; undefined while closed. */
  private openedAt: number | undefined;
  /** Start time of the outstanding probe; undefined when none is out. */
  private probeStartedAt: number | undefined;
  /** Last failure counted in the window: with none inside it, a success cannot open the circuit. */
  private lastFailAt = -Infinity;

  constructor(spec: CircuitBreakerSpec) {
    this.spec = spec;
    this.window = new RollingCounter(['ok', 'fail'], spec.windowMs);
  }

  acquire(now: number): BreakerDecision {
    if (this.openedAt === undefined) return 'allow';
    if (now - this.openedAt < this.spec.sleepWindowMs) return 'reject';
    const probeLost = this.probeStartedAt !== undefined && now - this.probeStartedAt >= this.probeLeaseMs();
    if (this.probeStartedAt !== undefined && !probeLost) return 'reject';
    this.probeStartedAt = now;
    return 'probe';
  }

  onSuccess(now: number, wasProbe: boolean): void {
    if (wasProbe) {
      if (this.probeStartedAt === undefined) return; // stale probe, already superseded
      this.close();
      return;
    }
    // Results of requests admitted before the breaker opened do not change an open breaker.
    if (this.openedAt !== undefined) return;
    this.window.add('ok', now);
    // Summing the window on every success is the breaker's whole cost on a healthy service.
    if (now - this.lastFailAt < this.spec.windowMs) this.maybeOpen(now);
  }

  onFailure(now: number, wasProbe: boolean): void {
    if (wasProbe) {
      if (this.probeStartedAt === undefined) return;
      this.probeStartedAt = undefined;
      this.openedAt = now; // another full sleep window
      return;
    }
    if (this.openedAt !== undefined) return;
    this.window.add('fail', now);
    this.lastFailAt = now;
    this.maybeOpen(now);
  }

  state(now: number): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return now - this.openedAt < this.spec.sleepWindowMs ? 'open' : 'half-open';
  }

  /** Applies a new spec; the window restarts only if its length changed (bucket size depends on it). */
  update(spec: CircuitBreakerSpec): void {
    if (spec.windowMs !== this.spec.windowMs) this.window = new RollingCounter(['ok', 'fail'], spec.windowMs);
    this.spec = spec;
  }

  private maybeOpen(now: number): void {
    const { ok, fail } = this.window.totals(now);
    const total = ok + fail;
    if (total < this.spec.requestVolumeThreshold || fail === 0) return;
    if ((fail * 100) / total >= this.spec.errorThresholdPercent) {
      this.openedAt = now;
      this.probeStartedAt = undefined;
    }
  }

  private close(): void {
    this.openedAt = undefined;
    this.probeStartedAt = undefined;
    this.window.reset(); // the failures that opened it must not re-open it at once
  }

  private probeLeaseMs(): number {
    return Math.max(this.spec.sleepWindowMs, PROBE_LEASE_MS);
  }
}
