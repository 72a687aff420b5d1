import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATENCY_HISTOGRAM_BUCKETS, LatencyHistogram } from './latency-histogram';

/** Worst case of reporting a bucket midpoint with 16 sub-buckets per octave. */
const PRECISION = 1 / 32;

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  const error = Math.abs(actual - expected) / expected;
  assert.ok(error <= relative + 1e-12, `${what}: ${actual} vs ${expected} (error ${(error * 100).toFixed(2)}%)`);
}

/** Exact nearest-rank quantile of sorted values, the definition the histogram approximates. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

describe('LatencyHistogram', () => {
  it('is empty at first and after reset', () => {
    const h = new LatencyHistogram();
    assert.equal(h.count, 0);
    assert.equal(h.quantile(0.99), 0);
    h.record(12);
    h.record(30);
    assert.equal(h.count, 2);
    assert.equal(h.sum, 42);
    h.reset();
    assert.equal(h.count, 0);
    assert.equal(h.sum, 0);
    assert.equal(h.min, 0);
    assert.equal(h.max, 0);
    assert.equal(h.quantile(0.5), 0);
  });

  it('has a few hundred counters', () => {
    assert.ok(LATENCY_HISTOGRAM_BUCKETS > 200 && LATENCY_HISTOGRAM_BUCKETS < 400, String(LATENCY_HISTOGRAM_BUCKETS));
  });

  it('reports any value from 0.05 ms to 120 s within ~3%', () => {
    const h = new LatencyHistogram();
    // Log-spaced sweep, plus exact octave edges and the values just below them.
    const values: number[] = [];
    for (let v = 0.05; v <= 120_000; v *= 1.013) values.push(v);
    for (let e = -4; e <= 16; e++) values.push(2 ** e, 2 ** e * (1 - 1e-12), 2 ** e * (1 + 1 / 16));
    for (const v of values) {
      h.reset();
      // Outliers on both sides so the median is the bucket's estimate, not the clamped min/max.
      h.record(0.001);
      h.record(v);
      h.record(1e7);
      assertClose(h.quantile(0.5), v, PRECISION, `median for ${v}`);
    }
  });

  it('estimates quantiles of a uniform distribution', () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 10_000; i++) values.push(i / 10);
    // Recorded out of order: the result must not depend on it.
    for (let i = 0; i < values.length; i++) h.record(values[(i * 7919) % values.length]);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      assertClose(h.quantile(q), exactQuantile(values, q), PRECISION, `q${q}`);
    }
    assert.deepEqual(h.quantiles([0.99, 0.5]), [h.quantile(0.99), h.quantile(0.5)]);
    assert.equal(h.count, 10_000);
    assertClose(h.sum, (10_000 * 10_001) / 2 / 10, 1e-9, 'sum');
  });

  it('is exact at q=0 and q=1 and clamps outside its range', () => {
    const h = new LatencyHistogram();
    h.record(0.0001);
    h.record(5);
    h.record(500_000);
    assert.equal(h.quantile(0), 0.0001);
    assert.equal(h.quantile(1), 500_000);
    assert.equal(h.min, 0.0001);
    assert.equal(h.max, 500_000);
    assertClose(h.quantile(0.5), 5, PRECISION, 'middle');
    // Only the overflow bucket holds the top third: its estimate is the exact max.
    assert.equal(h.quantile(0.9), 500_000);
  });

  it('counts negative and NaN durations as zero and rejects bad quantiles', () => {
    const h = new LatencyHistogram();
    h.record(-3);
    h.record(Number.NaN);
    assert.equal(h.count, 2);
    assert.equal(h.sum, 0);
    assert.equal(h.max, 0);
    assert.throws(() => h.quantile(1.5), RangeError);
    assert.throws(() => h.quantile(Number.NaN), RangeError);
  });

  it('merges into the same result as recording everything in one', () => {
    const all = new LatencyHistogram();
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 5_000; i++) {
      const v = ((i * 2654435761) % 100_000) / 37 + 0.2;
      all.record(v);
      (i % 3 === 0 ? a : b).record(v);
    }
    a.merge(b);
    assert.equal(a.count, all.count);
    assertClose(a.sum, all.sum, 1e-12, 'sum');
    assert.equal(a.min, all.min);
    assert.equal(a.max, all.max);
    assert.deepEqual(a.quantiles([0.1, 0.5, 0.9, 0.99]), all.quantiles([0.1, 0.5, 0.9, 0.99]));
    a.merge(new LatencyHistogram());
    assert.equal(a.count, all.count);
  });
});
