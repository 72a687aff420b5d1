import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { seededRandom } from '@mesher/policies';
import { TRAFFIC_OVERFLOW_KEY, TrafficStats, type TrafficSample, type WindowStats } from './traffic-stats';

/** A whole minute, so slot arithmetic in the expectations is easy to follow. */
const T0 = 28_333_334 * 60_000;
const MIN = 60_000;

function sample(over: Partial<TrafficSample> = {}): TrafficSample {
  return { source: 'web', destination: 'cart', instanceId: 'cart-1', status: 200, durationMs: 10, error: false, ...over };
}

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

function assertQuantiles(w: { p50: number; p90: number; p99: number }, durations: number[], tolerance: number): void {
  for (const [q, got] of [[0.5, w.p50], [0.9, w.p90], [0.99, w.p99]] as const) {
    const want = exactQuantile(durations, q);
    const error = Math.abs(got - want) / want;
    assert.ok(error <= tolerance, `p${q * 100}: ${got} vs ${want} (${(error * 100).toFixed(2)}%)`);
  }
}

function edge(stats: TrafficStats, now: number, source = 'web', destination = 'cart') {
  return stats.snapshot(now).edges.find((e) => e.source === source && e.destination === destination);
}

function getGc(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * JS heap plus typed-array backing stores, which V8 keeps outside the heap (histogram counters).
 * Backing stores are freed by a task after the GC, hence the pause and second GC before reading.
 */
async function usedMemoryAfterGc(gc: () => void): Promise<number> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('TrafficStats', () => {
  it('computes 1m and 5m windows per edge and per instance', () => {
    const stats = new TrafficStats();
    const recorded: Array<{ t: number; ms: number; error: boolean; instanceId: string | null }> = [];
    // 10 requests/s for 5 minutes; every 10th an error; every 25th failed before picking an instance.
    for (let i = 0; i < 3000; i++) {
      const t = T0 + i * 100;
      const s = {
        t,
        ms: 5 + (i % 40),
        error: i % 10 === 0,
        instanceId: i % 25 === 0 ? null : i % 2 === 0 ? 'cart-1' : 'cart-2',
      };
      recorded.push(s);
      stats.record(sample({ durationMs: s.ms, error: s.error, instanceId: s.instanceId }), t);
    }
    const now = T0 + 5 * MIN;
    const snap = stats.snapshot(now);
    assert.equal(snap.at, now);
    assert.equal(snap.edges.length, 1);

    const check = (w: WindowStats, from: number, spanSeconds: number, filter: (s: (typeof recorded)[0]) => boolean) => {
      const inWindow = recorded.filter((s) => s.t >= from && filter(s));
      assert.equal(w.requests, inWindow.length);
      assert.equal(w.errors, inWindow.filter((s) => s.error).length);
      assert.equal(w.errorRatio, w.errors / w.requests);
      assert.ok(Math.abs(w.rps - inWindow.length / spanSeconds) < 1e-9, `rps ${w.rps}`);
      assertQuantiles(w, inWindow.map((s) => s.ms), 0.032);
    };
    // 1m: the current 5 s slot and the 11 before it; 5m: the current minute and the 4 before it.
    const e = snap.edges[0];
    assert.deepEqual([e.source, e.destination], ['web', 'cart']);
    check(e.windows['1m'], now - 55_000, 55, () => true);
    check(e.windows['5m'], now - 4 * MIN, 240, () => true);
    assert.equal(e.windows['1m'].requests, 550);
    assert.equal(e.windows['1m'].rps, 10);
    assert.equal(e.windows['5m'].rps, 10);
    assert.equal(e.windows['5m'].errorRatio, 0.1);

    assert.deepEqual(snap.instances.map((i) => i.instanceId).sort(), ['cart-1', 'cart-2']);
    for (const inst of snap.instances) {
      assert.equal(inst.destination, 'cart');
      check(inst.windows['1m'], now - 55_000, 55, (s) => s.instanceId === inst.instanceId);
      check(inst.windows['5m'], now - 4 * MIN, 240, (s) => s.instanceId === inst.instanceId);
    }
  });

  it('slides old traffic out of the 1m window, then the 5m window, then prunes the idle key', () => {
    const stats = new TrafficStats();
    for (let i = 0; i < 100; i++) stats.record(sample(), T0 + i * 100);

    let e = edge(stats, T0 + 9_999);
    assert.equal(e?.windows['1m'].requests, 100);

    e = edge(stats, T0 + 70_000);
    assert.equal(e?.windows['1m'].requests, 0);
    assert.equal(e?.windows['1m'].rps, 0);
    assert.equal(e?.windows['1m'].p99, 0);
    assert.equal(e?.windows['5m'].requests, 100);

    assert.equal(edge(stats, T0 + 5 * MIN + 1_000), undefined, 'nothing left in the 5m window');
    assert.equal(stats.usage().edges, 1, 'not idle long enough to be pruned yet');

    stats.snapshot(T0 + 6 * MIN + 10_000);
    const usage = stats.usage();
    assert.equal(usage.edges, 0);
    assert.equal(usage.instances, 0);
    assert.equal(usage.histogramsInUse, 0);
  });

  it('reports p50/p90/p99 of a known distribution within a few percent', () => {
    const stats = new TrafficStats();
    const rnd = seededRandom(7);
    const durations: number[] = [];
    // Log-normal latencies (median 20 ms, heavy tail), 20,000 over 50 s within one minute.
    for (let i = 0; i < 20_000; i++) {
      const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
      const ms = 20 * Math.exp(0.8 * z);
      durations.push(ms);
      stats.record(sample({ durationMs: ms }), T0 + Math.floor(i / 400) * 1_000);
    }
    const e = edge(stats, T0 + 55_000);
    assert.ok(e);
    assert.equal(e.windows['1m'].requests, 20_000);
    assertQuantiles(e.windows['1m'], durations, 0.032);
    assertQuantiles(e.windows['5m'], durations, 0.032);

    const [rollup] = stats.drainMinuteRollups(T0 + MIN);
    assert.equal(rollup.requests, 20_000);
    assertQuantiles(rollup, durations, 0.032);
    const sum = durations.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(rollup.sumMs - sum) < 1e-6 * sum);
  });

  it('drains each completed minute once, exactly, while its tail is still in the 1m window', () => {
    const stats = new TrafficStats();
    const minute0: number[] = [];
    // Minute 0: 2 requests/s, every 10th an error. Minute 1: 2 requests/s for 30 s.
    for (let i = 0; i < 120; i++) {
      const ms = 1 + (i % 60);
      minute0.push(ms);
      stats.record(sample({ durationMs: ms, error: i % 10 === 0 }), T0 + i * 500);
    }
    for (let i = 0; i < 60; i++) stats.record(sample({ durationMs: 100 }), T0 + MIN + i * 500);
    stats.record(sample({ source: 'admin', durationMs: 3 }), T0 + 1_000);

    assert.deepEqual(stats.drainMinuteRollups(T0 + 59_999), [], 'minute 0 is not complete yet');

    // At 1:30 the 5 s slots from 0:35 to 0:55 of minute 0 are still in the 1m ring, the rest folded.
    const rollups = stats.drainMinuteRollups(T0 + MIN + 30_000);
    assert.equal(rollups.length, 2);
    const web = rollups.find((r) => r.source === 'web');
    assert.ok(web);
    assert.equal(web.minute, T0);
    assert.equal(web.destination, 'cart');
    assert.equal(web.requests, 120);
    assert.equal(web.errors, 12);
    assert.equal(web.sumMs, minute0.reduce((a, b) => a + b, 0));
    assertQuantiles(web, minute0, 0.032);
    assert.deepEqual(
      rollups.find((r) => r.source === 'admin'),
      { minute: T0, source: 'admin', destination: 'cart', requests: 1, errors: 0, p50: 3, p90: 3, p99: 3, sumMs: 3 },
    );

    assert.deepEqual(stats.drainMinuteRollups(T0 + MIN + 35_000), [], 'already drained');
    // Folding the drained minute's tail later neither re-sends it nor counts it twice in the 5m window.
    assert.equal(edge(stats, T0 + 2 * MIN + 5_000)?.windows['5m'].requests, 180);
    const next = stats.drainMinuteRollups(T0 + 2 * MIN + 5_000);
    assert.deepEqual(
      next.map((r) => [r.minute, r.source, r.requests, r.p99]),
      [[T0 + MIN, 'web', 60, 100]],
    );
    assert.deepEqual(stats.drainMinuteRollups(T0 + 3 * MIN), []);
    assert.equal(stats.usage().droppedRollups, 0);
  });

  it('keeps undrained minutes for a while, then counts them as dropped', () => {
    const stats = new TrafficStats();
    for (let s = 0; s < 600; s++) stats.record(sample(), T0 + s * 1_000);
    const rollups = stats.drainMinuteRollups(T0 + 10 * MIN + 1_000);
    // Six minute slots: minutes 4..9 survive, 0..3 were overwritten undrained.
    assert.deepEqual(
      rollups.map((r) => (r.minute - T0) / MIN),
      [4, 5, 6, 7, 8, 9],
    );
    assert.ok(rollups.every((r) => r.requests === 60));
    assert.equal(stats.usage().droppedRollups, 4);
  });

  it('caps the number of keys, sending the excess to an overflow key, and makes room once keys go idle', () => {
    const stats = new TrafficStats({ maxEdges: 10, maxInstances: 5 });
    for (let i = 0; i < 100; i++) stats.record(sample({ source: `src-${i}`, instanceId: `i-${i}` }), T0);
    const usage = stats.usage();
    assert.equal(usage.edges, 11);
    assert.equal(usage.instances, 6);
    assert.equal(usage.overflowSamples, 90 + 95);

    const snap = stats.snapshot(T0 + 1_000);
    const overflow = snap.edges.find((e) => e.source === TRAFFIC_OVERFLOW_KEY);
    assert.equal(overflow?.destination, TRAFFIC_OVERFLOW_KEY);
    assert.equal(overflow?.windows['1m'].requests, 90);
    assert.equal(snap.edges.reduce((n, e) => n + e.windows['1m'].requests, 0), 100);
    assert.equal(snap.instances.find((i) => i.instanceId === TRAFFIC_OVERFLOW_KEY)?.windows['1m'].requests, 95);

    // Seven minutes later the old keys are idle: a new key is admitted instead of overflowing.
    stats.record(sample({ source: 'late', instanceId: 'late-1' }), T0 + 7 * MIN);
    assert.equal(stats.usage().edges, 1);
    assert.equal(stats.usage().instances, 1);
    assert.equal(edge(stats, T0 + 7 * MIN, 'late')?.windows['1m'].requests, 1);
  });

  it('caps latency histograms but still counts requests', () => {
    const stats = new TrafficStats({ maxHistograms: 3 });
    // Five 5 s slots with 10 samples each, one edge, no instance: five histograms wanted.
    for (let i = 0; i < 50; i++) stats.record(sample({ instanceId: null }), T0 + Math.floor(i / 10) * 5_000);
    const usage = stats.usage();
    assert.equal(usage.histograms, 3);
    assert.equal(usage.samplesWithoutLatency, 20);
    const e = edge(stats, T0 + 25_000);
    assert.equal(e?.windows['1m'].requests, 50);
    assert.ok(Math.abs((e?.windows['1m'].p50 ?? 0) - 10) / 10 < 0.032);
  });

  it('puts samples whose clock went backwards into the newest slot', () => {
    const stats = new TrafficStats();
    stats.record(sample(), T0 + 10_000);
    stats.record(sample(), T0 + 2_000);
    stats.record(sample({ durationMs: -5 }), T0 + 10_500);
    const e = edge(stats, T0 + 10_600);
    assert.equal(e?.windows['1m'].requests, 3);
    assert.equal(e?.windows['1m'].p50, 10);
  });

  it('stays bounded over 1,000,000 samples with churning keys', async () => {
    const stats = new TrafficStats();
    const rnd = seededRandom(1);
    const gc = getGc();
    const SAMPLES = 1_000_000;
    const STEP_MS = 7; // ~1 h 57 min of traffic
    const PHASE_MS = 10 * MIN; // every 10 minutes a new set of callers appears and the old one goes idle
    let now = T0;
    let nextTick = T0 + MIN;
    let drained = 0;
    let maxEdges = 0;
    let maxInstances = 0;
    let maxHistograms = 0;
    let heapAfterWarmup = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const phase = Math.floor((now - T0) / PHASE_MS);
      const destination = `dst-${Math.floor(rnd() * 10)}`;
      stats.record(
        {
          source: `svc-${phase}-${Math.floor(rnd() * 10)}`,
          destination,
          instanceId: `${destination}-${Math.floor(rnd() * 4)}`,
          status: 200,
          durationMs: 1 + rnd() * 200,
          error: rnd() < 0.01,
        },
        now,
      );
      if (now >= nextTick) {
        // What the proxy does: a dashboard snapshot and a rollup drain every minute.
        stats.snapshot(now);
        for (const r of stats.drainMinuteRollups(now)) drained += r.requests;
        const u = stats.usage();
        maxEdges = Math.max(maxEdges, u.edges);
        maxInstances = Math.max(maxInstances, u.instances);
        maxHistograms = Math.max(maxHistograms, u.histograms);
        nextTick += MIN;
      }
      if (i === 300_000 && gc !== null) heapAfterWarmup = await usedMemoryAfterGc(gc);
      now += STEP_MS;
    }
    const end = stats.usage();
    // 100 edges per phase, plus the previous phase's until they have been idle 6 minutes.
    assert.ok(maxEdges <= 200, `edges ${maxEdges}`);
    assert.ok(maxInstances <= 40, `instances ${maxInstances}`);
    // 12 five-second + 6 minute slots per key at most.
    assert.ok(maxHistograms <= 18 * (200 + 40), `histograms ${maxHistograms}`);
    assert.equal(end.overflowSamples, 0);
    assert.equal(end.samplesWithoutLatency, 0);

    // Every sample ends up in exactly one drained minute: nothing lost, nothing counted twice.
    for (const r of stats.drainMinuteRollups(now + 2 * MIN)) drained += r.requests;
    assert.equal(drained, SAMPLES);
    assert.equal(stats.usage().droppedRollups, 0);

    if (gc !== null) {
      const growth = (await usedMemoryAfterGc(gc)) - heapAfterWarmup;
      assert.ok(growth < 4 * 1024 * 1024, `memory grew ${(growth / 1048576).toFixed(1)} MB after warm-up`);
    }
  });
});
