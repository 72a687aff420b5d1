import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { MesherMetrics, METRICS_OVERFLOW_LABEL, type RequestMetricLabels } from './mesher-metrics';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Minimal parser for the Prometheus text format: enough to read back what we exposed. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    for (const l of (m[2] ?? '').matchAll(labelRe)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Value of the one sample with this name whose labels include `labels`; fails if not exactly one. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0].value;
}

function request(over: Partial<RequestMetricLabels> = {}): RequestMetricLabels {
  return { direction: 'outbound', source: 'web', destination: 'cart', route: 'r1', status: 200, code: null, ...over };
}

describe('MesherMetrics', () => {
  it('counts requests and their durations with bounded labels', async () => {
    const metrics = new MesherMetrics();
    for (let i = 0; i < 7; i++) metrics.observeRequest(request(), 3);
    for (let i = 0; i < 3; i++) {
      metrics.observeRequest(request({ route: null, status: 503, code: 'UPSTREAM_UNAVAILABLE' }), 40);
    }
    for (let i = 0; i < 2; i++) metrics.observeRequest(request({ direction: 'inbound', status: 404 }), 0.2);
    metrics.observeRequest(request({ status: 0 }), -1);

    const samples = parse(await metrics.exposition());
    const ok = { direction: 'outbound', source: 'web', destination: 'cart', route: 'r1', status_class: '2xx', code: '' };
    assert.equal(value(samples, 'mesher_requests_total', ok), 7);
    assert.equal(
      value(samples, 'mesher_requests_total', { ...ok, route: '', status_class: '5xx', code: 'UPSTREAM_UNAVAILABLE' }),
      3,
    );
    assert.equal(value(samples, 'mesher_requests_total', { direction: 'inbound', status_class: '4xx' }), 2);
    assert.equal(value(samples, 'mesher_requests_total', { status_class: 'other' }), 1);
    assert.equal(samples.filter((s) => s.name === 'mesher_requests_total').length, 4);

    const out = { direction: 'outbound', source: 'web', destination: 'cart' };
    assert.equal(value(samples, 'mesher_request_duration_seconds_count', out), 11);
    assert.ok(Math.abs(value(samples, 'mesher_request_duration_seconds_sum', out) - (7 * 0.003 + 3 * 0.04)) < 1e-9);
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { ...out, le: '0.0005' }), 1);
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { ...out, le: '0.005' }), 8);
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { ...out, le: '0.05' }), 11);
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { ...out, le: '30' }), 11);
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { ...out, le: '+Inf' }), 11);
    assert.equal(value(samples, 'mesher_request_duration_seconds_count', { direction: 'inbound' }), 2);
  });

  it('records N requests as counter N and histogram count N', async () => {
    const metrics = new MesherMetrics();
    const N = 10_000;
    for (let i = 0; i < N; i++) metrics.observeRequest(request({ status: 200 + (i % 3) }), i % 100);
    const samples = parse(await metrics.exposition());
    assert.equal(value(samples, 'mesher_requests_total', { status_class: '2xx' }), N);
    assert.equal(value(samples, 'mesher_request_duration_seconds_count', { source: 'web' }), N);
    // 0..99 ms round robin: 0..50 ms fall in le=0.05.
    assert.equal(value(samples, 'mesher_request_duration_seconds_bucket', { le: '0.05' }), (N * 51) / 100);
  });

  it('exposes retries, rate limits, faults, circuit state, ejections, instances and the snapshot', async () => {
    let now = 10_000;
    const metrics = new MesherMetrics({ now: () => now });
    metrics.incRetry('cart');
    metrics.incRetry('cart');
    metrics.incRateLimited('cart', 'source');
    metrics.incFault('cart', 'abort');
    metrics.incFault('cart', 'delay');
    metrics.incFault('cart', 'delay');
    metrics.setCircuitState('cart', 'open');
    metrics.setCircuitState('pay', 'half-open');
    metrics.setCircuitState('pay', 0);
    metrics.setEjected('cart', 3);
    metrics.setInstances([
      { service: 'cart', status: 'UP', count: 2 },
      { service: 'cart', status: 'DOWN', count: 1 },
    ]);
    metrics.setInstances([{ service: 'cart', status: 'UP', count: 3 }]);
    metrics.setSnapshot(42, 4_000);

    let samples = parse(await metrics.exposition());
    assert.equal(value(samples, 'mesher_retries_total', { destination: 'cart' }), 2);
    assert.equal(value(samples, 'mesher_rate_limited_total', { destination: 'cart', scope: 'source' }), 1);
    assert.equal(value(samples, 'mesher_faults_injected_total', { kind: 'abort' }), 1);
    assert.equal(value(samples, 'mesher_faults_injected_total', { kind: 'delay' }), 2);
    assert.equal(value(samples, 'mesher_circuit_state', { destination: 'cart' }), 2);
    assert.equal(value(samples, 'mesher_circuit_state', { destination: 'pay' }), 0);
    assert.equal(value(samples, 'mesher_ejected_instances', { destination: 'cart' }), 3);
    assert.equal(value(samples, 'mesher_instances', { service: 'cart', status: 'UP' }), 3);
    assert.equal(samples.filter((s) => s.name === 'mesher_instances').length, 1, 'DOWN was reset away');
    assert.equal(value(samples, 'mesher_snapshot_revision'), 42);
    assert.equal(value(samples, 'mesher_snapshot_age_seconds'), 6);

    now = 70_000;
    samples = parse(await metrics.exposition());
    assert.equal(value(samples, 'mesher_snapshot_age_seconds'), 66, 'age is computed at scrape time');
  });

  it('caps label combinations, counting the excess under ~overflow', async () => {
    const metrics = new MesherMetrics({ maxSeriesPerMetric: 3 });
    for (let i = 0; i < 10; i++) metrics.observeRequest(request({ source: `caller-${i}` }), 1);
    metrics.observeRequest(request({ source: 'caller-1' }), 1);
    const samples = parse(await metrics.exposition());
    const series = samples.filter((s) => s.name === 'mesher_requests_total');
    assert.equal(series.length, 4);
    assert.equal(value(samples, 'mesher_requests_total', { source: 'caller-1' }), 2);
    assert.equal(
      value(samples, 'mesher_requests_total', { direction: 'outbound', source: METRICS_OVERFLOW_LABEL, code: METRICS_OVERFLOW_LABEL }),
      7,
    );
    assert.equal(series.reduce((n, s) => n + s.value, 0), 11);
    assert.equal(value(samples, 'mesher_request_duration_seconds_count', { source: METRICS_OVERFLOW_LABEL }), 7);
  });

  it('uses its own registry, with default metrics only when asked', async () => {
    const a = new MesherMetrics();
    const b = new MesherMetrics({ defaultMetrics: true });
    a.incRetry('cart');
    assert.equal(globalRegistry.getSingleMetric('mesher_retries_total'), undefined);
    const textA = await a.exposition();
    const textB = await b.exposition();
    assert.equal(value(parse(textA), 'mesher_retries_total'), 1);
    assert.equal(parse(textB).filter((s) => s.name === 'mesher_retries_total').length, 0);
    assert.doesNotMatch(textA, /^process_cpu_user_seconds_total /m);
    assert.match(textB, /^process_cpu_user_seconds_total /m);
    assert.match(textB, /^nodejs_heap_size_used_bytes /m);
    assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
  });
});
