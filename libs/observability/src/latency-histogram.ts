/**
 * Fixed-size log-linear latency histogram (milliseconds).
 *
 * Each power-of-two octave is split into 16 equal sub-buckets, so a bucket is at most 1/16 of its lower
 * bound wide and the midpoint we report is within 1/32 (~3.1%) of any sample in it. Octaves cover
 * 2^-5 ms (0.031 ms) up to 2^17 ms (131 s); anything below goes to an underflow bucket and anything above
 * to an overflow bucket, whose reported values are clamped to the exact min/max we keep.
 * 22 octaves x 16 + 2 = 354 counters: memory is constant whatever the number of samples.
 */

const SUB_BITS = 4;
const SUB_BUCKETS = 1 << SUB_BITS;
const MIN_EXP = -5;
const MAX_EXP = 16;
const OCTAVES = MAX_EXP - MIN_EXP + 1;
const LOWEST = 2 ** MIN_EXP;
const HIGHEST = 2 ** (MAX_EXP + 1);
const UNDERFLOW = 0;
const OVERFLOW = OCTAVES * SUB_BUCKETS + 1;

/** Number of counters in every histogram. */
export const LATENCY_HISTOGRAM_BUCKETS = OVERFLOW + 1;

// Reading exponent and mantissa bits of the double directly is exact at bucket edges (Math.log2 can be
// off by one ulp there) and cheaper than log + pow on the hot path.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

function bucketIndex(ms: number): number {
  if (ms < LOWEST) return UNDERFLOW;
  if (ms >= HIGHEST) return OVERFLOW;
  f64[0] = ms;
  const hi = u32[HI];
  const exp = ((hi >>> 20) & 0x7ff) - 1023;
  const sub = (hi >>> (20 - SUB_BITS)) & (SUB_BUCKETS - 1);
  return (exp - MIN_EXP) * SUB_BUCKETS + sub + 1;
}

/** Representative value of a regular bucket: its midpoint. */
function bucketMidpoint(index: number): number {
  const i = index - 1;
  const exp = MIN_EXP + Math.floor(i / SUB_BUCKETS);
  const sub = i % SUB_BUCKETS;
  return 2 ** exp * (1 + (sub + 0.5) / SUB_BUCKETS);
}

export class LatencyHistogram {
  // Float64 so counts stay exact (to 2^53) in long-lived merged histograms; Uint32 could wrap.
  private readonly counts = new Float64Array(LATENCY_HISTOGRAM_BUCKETS);
  private total = 0;
  private totalMs = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;

  /** Records one sample. Negative and NaN durations count as 0 rather than poisoning sum/min. */
  record(ms: number): void {
    if (!(ms >= 0)) ms = 0;
    this.counts[bucketIndex(ms)]++;
    this.total++;
    this.totalMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Adds every sample of `other` into this histogram (all histograms share one layout). */
  merge(other: LatencyHistogram): void {
    if (other.total === 0) return;
    const a = this.counts;
    const b = other.counts;
    for (let i = 0; i < a.length; i++) a[i] += b[i];
    this.total += other.total;
    this.totalMs += other.totalMs;
    if (other.minMs < this.minMs) this.minMs = other.minMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  get count(): number {
    return this.total;
  }

  get sum(): number {
    return this.totalMs;
  }

  /** Smallest recorded sample, 0 when empty. */
  get min(): number {
    return this.total === 0 ? 0 : this.minMs;
  }

  /** Largest recorded sample, 0 when empty. */
  get max(): number {
    return this.total === 0 ? 0 : this.maxMs;
  }

  /**
   * Value at quantile q (0..1, else RangeError) by nearest rank, in ms; 0 when empty.
   * Accurate to ~3% relative; exact at q=0 and q=1 (min/max are tracked exactly).
   */
  quantile(q: number): number {
    return this.quantiles([q])[0];
  }

  /** Several quantiles in one pass over the counters; `qs` in any order. */
  quantiles(qs: readonly number[]): number[] {
    for (const q of qs) {
      if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
    }
    const out = new Array<number>(qs.length).fill(0);
    if (this.total === 0) return out;
    const order = qs.map((_, i) => i).sort((x, y) => qs[x] - qs[y]);
    let k = 0;
    let cumulative = 0;
    for (let i = 0; i < this.counts.length && k < order.length; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      cumulative += c;
      while (k < order.length && cumulative >= this.rank(qs[order[k]])) {
        out[order[k]] = this.valueAt(i, qs[order[k]]);
        k++;
      }
    }
    return out;
  }

  /** Clears all samples; the counters are reused, nothing is reallocated. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.totalMs = 0;
    this.minMs = Infinity;
    this.maxMs = -Infinity;
  }

  private rank(q: number): number {
    // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from skipping a rank.
    return Math.max(1, Math.ceil(q * this.total - 1e-9));
  }

  private valueAt(index: number, q: number): number {
    if (q <= 0) return this.minMs;
    if (q >= 1) return this.maxMs;
    if (index === UNDERFLOW) return this.minMs;
    if (index === OVERFLOW) return this.maxMs;
    const v = bucketMidpoint(index);
    return v < this.minMs ? this.minMs : v > this.maxMs ? this.maxMs : v;
  }
}
