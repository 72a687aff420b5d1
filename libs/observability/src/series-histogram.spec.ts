import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { SeriesHistogram } from './series-histogram';

const BUCKETS = [0.001, 0.01, 0.1, 1];

describe('SeriesHistogram', () => {
  it("exposes the same text as prom-client's Histogram for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new SeriesHistogram('d_seconds', 'Durations.', BUCKETS, [ours]);
    const p = new Histogram({ name: 'd_seconds', help: 'Durations.', labelNames: ['edge', 'dir'], buckets: BUCKETS, registers: [theirs] });
    const a = h.series({ edge: 'web>cart', dir: 'outbound' });
    const b = h.series({ edge: 'x "quoted"\\ \n', dir: 'inbound' });
    // Values on, below, between and above the bounds, zero included.
    const values = [0, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 1.5, 30, 0.0001];
    for (const v of values) {
      a.observe(v);
      p.observe({ edge: 'web>cart', dir: 'outbound' }, v);
    }
    for (const v of values.slice(0, 4)) {
      b.observe(v);
      p.observe({ edge: 'x "quoted"\\ \n', dir: 'inbound' }, v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it('a series with no observations exports zeros, and reset zeroes every series', async () => {
    const reg = new Registry();
    const h = new SeriesHistogram('d_seconds', 'Durations.', BUCKETS, [reg]);
    const s = h.series({ edge: 'a' });
    h.series({ edge: 'b' });
    assert.equal(h.series({ edge: 'a' }), s, 'the same label values are the same series');
    s.observe(0.5);
    let text = await reg.metrics();
    assert.match(text, /^d_seconds_bucket\{le="1",edge="a"\} 1$/m);
    assert.match(text, /^d_seconds_count\{edge="b"\} 0$/m);
    reg.resetMetrics();
    s.observe(0.05);
    text = await reg.metrics();
    assert.match(text, /^d_seconds_bucket\{le="0\.01",edge="a"\} 0$/m);
    assert.match(text, /^d_seconds_bucket\{le="0\.1",edge="a"\} 1$/m);
    assert.match(text, /^d_seconds_count\{edge="a"\} 1$/m);
    assert.match(text, /^d_seconds_sum\{edge="a"\} 0\.05$/m);
  });
});
