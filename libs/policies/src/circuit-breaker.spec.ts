import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CircuitBreakerSpec } from '@mesher/contracts';
import { CircuitBreaker, PROBE_LEASE_MS } from './circuit-breaker';

const spec: CircuitBreakerSpec = {
  errorThresholdPercent: 50,
  requestVolumeThreshold: 10,
  windowMs: 10_000,
  sleepWindowMs: 5_000,
};

/** Runs `ok` successes and `fail` failures through the breaker at `now`. */
function feed(b: CircuitBreaker, now: number, ok: number, fail: number): void {
  for (let i = 0; i < ok; i++) b.onSuccess(now, false);
  for (let i = 0; i < fail; i++) b.onFailure(now, false);
}

function openedBreaker(at = 0): CircuitBreaker {
  const b = new CircuitBreaker(spec);
  feed(b, at, 0, 10);
  assert.equal(b.state(at), 'open');
  return b;
}

describe('CircuitBreaker', () => {
  test('starts closed and allows requests', () => {
    const b = new CircuitBreaker(spec);
    assert.equal(b.state(0), 'closed');
    assert.equal(b.acquire(0), 'allow');
  });

  test('does not open below the request volume, however bad the error rate', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 0, 9);
    assert.equal(b.state(0), 'closed');
    assert.equal(b.acquire(0), 'allow');
  });

  test('opens when volume and error percentage both reach their thresholds', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 5, 4);
    assert.equal(b.state(0), 'closed'); // 9 requests: below volume
    b.onFailure(0, false); // 10 requests, 5 failures = 50%
    assert.equal(b.state(0), 'open');
  });

  test('a success that brings the volume to the threshold opens it when the failures are enough', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 0, 5);
    feed(b, 9_000, 4, 0);
    assert.equal(b.state(9_000), 'closed'); // 9 requests: below volume
    b.onSuccess(9_999, false); // 10 requests, 5 failures = 50%, the failures still inside the window
    assert.equal(b.state(9_999), 'open');
  });

  test('a success after the failures have left the window does not open it', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 0, 5);
    feed(b, 9_000, 4, 0);
    b.onSuccess(10_000, false); // the 5 failures at 0 are out of the 10 s window
    assert.equal(b.state(10_000), 'closed');
  });

  test('stays closed just under the error threshold', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 11, 9); // 45%
    assert.equal(b.state(0), 'closed');
  });

  test('only counts results inside the rolling window', () => {
    const b = new CircuitBreaker(spec);
    feed(b, 0, 0, 6);
    feed(b, 11_000, 0, 4); // the first 6 failures have left the window
    assert.equal(b.state(11_000), 'closed');
  });

  test('rejects while open, then admits a single probe after the sleep window', () => {
    const b = openedBreaker();
    assert.equal(b.acquire(1), 'reject');
    assert.equal(b.acquire(4_999), 'reject');
    assert.equal(b.state(5_000), 'half-open');
    assert.equal(b.acquire(5_000), 'probe');
    assert.equal(b.acquire(5_001), 'reject'); // one probe at a time
    assert.equal(b.acquire(9_000), 'reject');
  });

  test('a probe success closes it with a fresh window', () => {
    const b = openedBreaker();
    assert.equal(b.acquire(5_000), 'probe');
    b.onSuccess(5_100, true);
    assert.equal(b.state(5_100), 'closed');
    assert.equal(b.acquire(5_100), 'allow');
    b.onFailure(5_200, false); // the old failures must not count any more
    assert.equal(b.state(5_200), 'closed');
  });

  test('a probe failure re-opens it for another sleep window', () => {
    const b = openedBreaker();
    assert.equal(b.acquire(5_000), 'probe');
    b.onFailure(6_000, true);
    assert.equal(b.state(6_000), 'open');
    assert.equal(b.acquire(10_999), 'reject');
    assert.equal(b.acquire(11_000), 'probe');
  });

  test('late results of requests admitted before opening do not close it', () => {
    const b = openedBreaker();
    feed(b, 100, 50, 0);
    assert.equal(b.state(100), 'open');
  });

  test('a probe never reported does not keep it open forever', () => {
    const b = openedBreaker();
    assert.equal(b.acquire(5_000), 'probe');
    assert.equal(b.acquire(5_000 + PROBE_LEASE_MS - 1), 'reject');
    assert.equal(b.acquire(5_000 + PROBE_LEASE_MS), 'probe');
  });

  test('update applies new thresholds', () => {
    const b = new CircuitBreaker(spec);
    b.update({ ...spec, requestVolumeThreshold: 2 });
    feed(b, 0, 0, 2);
    assert.equal(b.state(0), 'open');
  });
});
