import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LATENCY_MS, LATENCY_DECAY_MS, LoadTracker } from './load-tracker';

describe('LoadTracker', () => {
  test('counts in-flight requests per instance and never goes below zero', () => {
    const t = new LoadTracker();
    t.begin('a');
    t.begin('a');
    t.begin('b');
    assert.equal(t.inflight('a'), 2);
    t.end('a', 10, 0);
    assert.equal(t.inflight('a'), 1);
    t.end('b', 10, 0);
    t.end('b', 10, 0);
    assert.equal(t.inflight('b'), 0);
  });

  test('unknown instances score with the small default latency', () => {
    const t = new LoadTracker();
    assert.equal(t.score('new', 0), DEFAULT_LATENCY_MS);
    t.begin('new');
    assert.equal(t.score('new', 0), 2 * DEFAULT_LATENCY_MS);
  });

  test('peak: a higher sample is taken at once, a lower one decays in with elapsed time', () => {
    const t = new LoadTracker();
    t.end('a', 100, 0);
    t.end('a', 500, 0);
    assert.equal(t.latency('a', 0), 500);
    // Same instant: no time has passed, so the lower sample has no weight yet.
    t.end('a', 100, 0);
    assert.equal(t.latency('a', 0), 500);
    // One time constant later the EWMA moves (1 - 1/e) of the way toward the sample.
    t.end('a', 100, LATENCY_DECAY_MS);
    const expected = 500 * Math.exp(-1) + 100 * (1 - Math.exp(-1));
    assert.ok(Math.abs(t.latency('a', LATENCY_DECAY_MS) - expected) < 1e-9);
  });

  test('an idle instance drifts back toward the default so it gets retried', () => {
    const t = new LoadTracker();
    t.end('slow', 1000, 0);
    assert.ok(t.latency('slow', 0) === 1000);
    assert.ok(t.latency('slow', 10 * LATENCY_DECAY_MS) < 2 * DEFAULT_LATENCY_MS);
  });

  test('score is (inflight + 1) * latency', () => {
    const t = new LoadTracker();
    t.end('a', 20, 0);
    t.begin('a');
    t.begin('a');
    assert.equal(t.score('a', 0), 3 * 20);
  });

  test('retain drops state of instances that are gone', () => {
    const t = new LoadTracker();
    t.begin('a');
    t.begin('b');
    t.end('c', 5, 0);
    t.retain(new Set(['b']));
    assert.equal(t.size, 1);
    assert.equal(t.inflight('a'), 0);
    assert.equal(t.inflight('b'), 1);
  });
});
