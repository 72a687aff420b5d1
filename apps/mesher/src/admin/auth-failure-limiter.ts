/**
 * Wrong admin tokens per client address: after `maxFailures` within `windowMs` of the first one, that address is
 * refused (429) until the window ends, whatever token it sends, so guessing cannot go on at full speed.
 * At most `maxKeys` addresses are remembered; the least recently failing one is forgotten first.
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    readonly maxFailures = 10,
    readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
  ) {
    if (!(maxFailures >= 1) || !(windowMs > 0)) throw new RangeError(`maxFailures must be >= 1 and windowMs > 0, got ${maxFailures}, ${windowMs}`);
  }

  /** How long `key` must still wait (ms), or 0 when it may try. */
  retryAfterMs(key: string, now: number): number {
    const w = this.live(key, now);
    return w && w.failures >= this.maxFailures ? w.start + this.windowMs - now : 0;
  }

  recordFailure(key: string, now: number): void {
    const w = this.live(key, now) ?? { start: now, failures: 0 };
    w.failures++;
    this.windows.delete(key); // re-inserted last: Map order is the eviction order
    this.windows.set(key, w);
    if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
  }

  get size(): number {
    return this.windows.size;
  }

  /** The window of `key` if it is still running (a clock step backwards ends it too). */
  private live(key: string, now: number) {
    const w = this.windows.get(key);
    if (w && (now >= w.start + this.windowMs || now < w.start)) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }
}
