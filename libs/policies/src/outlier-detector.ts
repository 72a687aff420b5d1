import type { OutlierSpec } from '@mesher/contracts';

/**
 * Upper bound on one ejection (Envoy's default max_ejection_time), so a flapping instance
 * is not ejected for hours. A larger baseEjectionMs still wins.
 */
export const MAX_EJECTION_MS = 300_000;

interface InstanceOutlier {
  consecutiveErrors: number;
  /** Ejection multiplier: how many recent ejections count toward the next ejection time. */
  ejections: number;
  /** End of the current (or last) ejection; 0 if never ejected. */
  ejectedUntil: number;
}

/**
 * Envoy-style passive outlier detection: `consecutiveErrors` failures in a row eject an instance for
 * baseEjectionMs * (times ejected), while never ejecting more than maxEjectionPercent of the instances.
 */
export class OutlierDetector {
  private spec: OutlierSpec;
  private readonly instances = new Map<string, InstanceOutlier>();
  /** The latest end of any ejection: before it, some instance may be ejected. */
  private ejectionsEnd = 0;

  constructor(spec: OutlierSpec) {
    this.spec = spec;
  }

  onResult(instanceId: string, ok: boolean, now: number, totalInstances: number): void {
    let s = this.instances.get(instanceId);
    if (ok) {
      if (s !== undefined) s.consecutiveErrors = 0;
      return;
    }
    if (s === undefined) {
      s = { consecutiveErrors: 0, ejections: 0, ejectedUntil: 0 };
      this.instances.set(instanceId, s);
    }
    // Failures of requests that were in flight when it was ejected say nothing new.
    if (s.ejectedUntil > now) return;
    s.consecutiveErrors++;
    if (s.consecutiveErrors < Math.max(1, this.spec.consecutiveErrors)) return;
    if (!this.roomToEject(now, totalInstances)) return; // keep counting; eject when room frees up
    s.ejections = this.decayedEjections(s, now) + 1;
    s.ejectedUntil = now + this.ejectionMs(s.ejections);
    if (s.ejectedUntil > this.ejectionsEnd) this.ejectionsEnd = s.ejectedUntil;
    s.consecutiveErrors = 0;
  }

  /** False when no instance can be ejected at `now`: the pool needs no filtering. */
  anyEjected(now: number): boolean {
    return this.ejectionsEnd > now;
  }

  isEjected(instanceId: string, now: number): boolean {
    return (this.instances.get(instanceId)?.ejectedUntil ?? 0) > now;
  }

  ejectedIds(now: number): string[] {
    const ids: string[] = [];
    for (const [id, s] of this.instances) if (s.ejectedUntil > now) ids.push(id);
    return ids;
  }

  /** Drops state of instances that left the routing table. */
  retain(ids: Set<string>): void {
    for (const id of this.instances.keys()) if (!ids.has(id)) this.instances.delete(id);
  }

  update(spec: OutlierSpec): void {
    this.spec = spec;
  }

  private roomToEject(now: number, totalInstances: number): boolean {
    const max = Math.floor((this.spec.maxEjectionPercent * totalInstances) / 100);
    return this.ejectedIds(now).length + 1 <= max;
  }

  /** The multiplier drops by one per baseEjectionMs spent healthy since the last ejection ended. */
  private decayedEjections(s: InstanceOutlier, now: number): number {
    if (s.ejections === 0 || this.spec.baseEjectionMs <= 0) return 0;
    const healthyFor = Math.max(0, now - s.ejectedUntil);
    return Math.max(0, s.ejections - Math.floor(healthyFor / this.spec.baseEjectionMs));
  }

  private ejectionMs(ejections: number): number {
    const base = this.spec.baseEjectionMs;
    return Math.min(base * ejections, Math.max(base, MAX_EJECTION_MS));
  }
}
