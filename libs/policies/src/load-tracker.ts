/** Decay time constant of the peak-EWMA latency (Finagle uses 10 s too). */
export const LATENCY_DECAY_MS = 10_000;
/**
 * Latency assumed for an instance with no samples. Small on purpose so that new (or long idle)
 * instances look cheap and get tried, which is how they get measured at all.
 */
export const DEFAULT_LATENCY_MS = 1;

interface InstanceLoad {
  inflight: number;
  /** Peak-EWMA latency in ms as of `stamp`; undefined until the first sample. */
  ewma: number | undefined;
  stamp: number;
}

/**
 * In-flight requests and peak-EWMA latency per instance id, for LeastRequest.
 * The proxy calls begin() when it sends to an instance and end() when the attempt finishes.
 */
export class LoadTracker {
  private readonly loads = new Map<string, InstanceLoad>();

  begin(id: string): void {
    this.entry(id).inflight++;
  }

  end(id: string, latencyMs: number, now: number): void {
    const e = this.entry(id);
    if (e.inflight > 0) e.inflight--;
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    if (e.ewma === undefined || latencyMs > e.ewma) {
      // Peak: a slow response counts in full at once, so a degrading instance is avoided quickly.
      e.ewma = latencyMs;
    } else {
      const w = decayWeight(now - e.stamp);
      e.ewma = e.ewma * w + latencyMs * (1 - w);
    }
    e.stamp = Math.max(e.stamp, now);
  }

  inflight(id: string): number {
    return this.loads.get(id)?.inflight ?? 0;
  }

  /** Current latency estimate: decays toward the default while idle, so a once-slow instance is retried later. */
  latency(id: string, now: number): number {
    const e = this.loads.get(id);
    if (e === undefined || e.ewma === undefined) return DEFAULT_LATENCY_MS;
    const w = decayWeight(now - e.stamp);
    return e.ewma * w + DEFAULT_LATENCY_MS * (1 - w);
  }

  /** Lower is better: (inflight + 1) * peak-EWMA latency, as in Linkerd / Finagle. */
  score(id: string, now: number): number {
    return (this.inflight(id) + 1) * this.latency(id, now);
  }

  /** Drops state of instances that left the routing table, so memory follows the live set. */
  retain(ids: Set<string>): void {
    for (const id of this.loads.keys()) if (!ids.has(id)) this.loads.delete(id);
  }

  get size(): number {
    return this.loads.size;
  }

  private entry(id: string): InstanceLoad {
    let e = this.loads.get(id);
    if (e === undefined) {
      e = { inflight: 0, ewma: undefined, stamp: 0 };
      this.loads.set(id, e);
    }
    return e;
  }
}

function decayWeight(elapsedMs: number): number {
  return Math.exp(-Math.max(0, elapsedMs) / LATENCY_DECAY_MS);
}
