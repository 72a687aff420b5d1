/**
 * Counts events in a rolling window split into a fixed number of buckets (Hystrix style).
 * Memory is constant: old buckets are reused, never appended.
 */
export class RollingCounter<K extends string> {
  private readonly bucketMs: number;
  private readonly epochs: number[];
  private readonly counts: Array<Record<K, number>>;

  constructor(
    private readonly keys: readonly K[],
    windowMs: number,
    private readonly bucketCount = 10,
  ) {
    this.bucketMs = Math.max(1, windowMs / bucketCount);
    this.epochs = new Array<number>(bucketCount).fill(-Infinity);
    this.counts = Array.from({ length: bucketCount }, () => this.zero());
  }

  add(key: K, now: number, amount = 1): void {
    const epoch = Math.floor(now / this.bucketMs);
    const slot = ((epoch % this.bucketCount) + this.bucketCount) % this.bucketCount;
    if (this.epochs[slot] !== epoch) {
      // The slot holds a bucket that has left the window: recycle it.
      this.epochs[slot] = epoch;
      this.counts[slot] = this.zero();
    }
    this.counts[slot][key] += amount;
  }

  /** Totals over the buckets still inside the window at `now`. */
  totals(now: number): Record<K, number> {
    const epoch = Math.floor(now / this.bucketMs);
    const sum = this.zero();
    for (let s = 0; s < this.bucketCount; s++) {
      const age = epoch - this.epochs[s];
      if (age >= 0 && age < this.bucketCount) for (const k of this.keys) sum[k] += this.counts[s][k];
    }
    return sum;
  }

  reset(): void {
    this.epochs.fill(-Infinity);
  }

  private zero(): Record<K, number> {
    const r = {} as Record<K, number>;
    for (const k of this.keys) r[k] = 0;
    return r;
  }
}
