import type { Registry } from 'prom-client';

/** One label combination of a SeriesHistogram: observing is a bucket search and three additions. */
export class HistogramSeries {
  /** Per bucket, not cumulative; the last slot is above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly labels: Readonly<Record<string, string>>, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/**
 * A Prometheus histogram whose series are created once and kept by the caller, for per-request
 * durations: prom-client's Histogram validates and hashes the label values again on every observe()
 * (a few microseconds of every proxied request). Exposes the same text as prom-client's Histogram
 * (cumulative `_bucket` with `le`, `+Inf`, `_sum`, `_count`) as a custom metric on a prom-client Registry.
 */
export class SeriesHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: HistogramSeries[] = [];
  private readonly byKey = new Map<string, HistogramSeries>();
  private readonly bounds: readonly number[];

  constructor(readonly name: string, readonly help: string, buckets: readonly number[], registers: Registry[]) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    for (const r of registers) r.registerMetric(this as never);
  }

  /** The series of these label values, created on first use; the caller keeps it. */
  series(labels: Record<string, string>): HistogramSeries {
    const key = JSON.stringify(labels);
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = new HistogramSeries({ ...labels }, this.bounds);
      this.byKey.set(key, s);
      this.all.push(s);
    }
    return s;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ value: acc, labels: { le: this.bounds[i], ...s.labels }, metricName: bucket });
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: bucket });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series (prom-client's Registry.resetMetrics()); the series stay valid. */
  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
