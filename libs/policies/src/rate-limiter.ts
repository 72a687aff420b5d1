export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

/** Token bucket refilled continuously from elapsed time; starts full so a cold start is not throttled. */
export class TokenBucket {
  private tokens: number;
  private stamp: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`rate must be a positive number of tokens per second, got ${ratePerSecond}`);
    }
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1, got ${burst}`);
    this.tokens = burst;
    this.stamp = now;
  }

  take(now: number): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    // The epsilon absorbs float noise (e.g. 70.00000000000001 must not become 71).
    const ms = Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond - 1e-9);
    return { ok: false, retryAfterMs: Math.max(1, ms) };
  }

  private refill(now: number): void {
    if (now <= this.stamp) return; // a clock step backwards must not mint tokens
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.stamp) * this.ratePerSecond) / 1000);
    this.stamp = now;
  }
}

/**
 * One token bucket per key (e.g. per caller service), with at most `maxKeys` buckets. The least recently
 * used bucket is evicted first; an idle bucket is full, so forgetting it changes nothing.
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
  ) {
    new TokenBucket(ratePerSecond, burst, 0); // validate the parameters up front
  }

  take(key: string, now: number): TakeResult {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
    } else {
      this.buckets.delete(key); // re-inserted below: Map order is the LRU order
    }
    this.buckets.set(key, bucket);
    if (this.buckets.size > Math.max(1, this.maxKeys)) {
      this.buckets.delete(this.buckets.keys().next().value as string);
    }
    return bucket.take(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
