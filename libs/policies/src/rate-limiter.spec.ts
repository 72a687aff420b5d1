import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedRateLimiter, TokenBucket } from './rate-limiter';

describe('TokenBucket', () => {
  test('starts full: a burst is admitted at once, then it refuses', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) assert.deepEqual(b.take(0), { ok: true });
    assert.equal(b.take(0).ok, false);
  });

  test('retryAfterMs is the time until one token is available', () => {
    const b = new TokenBucket(10, 1, 0); // one token per 100 ms
    assert.equal(b.take(0).ok, true);
    assert.deepEqual(b.take(0), { ok: false, retryAfterMs: 100 });
    assert.deepEqual(b.take(30), { ok: false, retryAfterMs: 70 });
    assert.equal(b.take(100).ok, true);
  });

  test('retryAfterMs is not pushed up by float noise in the refilled tokens', () => {
    const b = new TokenBucket(10, 1, 0);
    b.take(0);
    let last = b.take(2);
    for (let t = 4; t <= 18; t += 2) last = b.take(t); // 9 refills of 0.02 tokens = 0.18
    assert.deepEqual(last, { ok: false, retryAfterMs: 82 });
  });

  test('retryAfterMs is at least 1 and rounds up', () => {
    const b = new TokenBucket(3, 1, 0); // one token per 333.3 ms
    b.take(0);
    assert.deepEqual(b.take(0), { ok: false, retryAfterMs: 334 });
    assert.deepEqual(b.take(333), { ok: false, retryAfterMs: 1 });
    assert.equal(b.take(334).ok, true);
  });

  test('at twice the rate for 10 s, the admitted rate is within 5% of the limit', () => {
    const rate = 100;
    const b = new TokenBucket(rate, 10, 0);
    let admitted = 0;
    for (let t = 0; t < 10_000; t += 5) if (b.take(t).ok) admitted++; // 200 requests/s
    const admittedRate = admitted / 10;
    assert.ok(Math.abs(admittedRate - rate) <= rate * 0.05, `admitted ${admittedRate}/s`);
  });

  test('never holds more than burst tokens after a long idle time', () => {
    const b = new TokenBucket(100, 3, 0);
    let admitted = 0;
    for (let i = 0; i < 10; i++) if (b.take(60_000).ok) admitted++;
    assert.equal(admitted, 3);
  });

  test('a clock step backwards does not mint tokens', () => {
    const b = new TokenBucket(1, 1, 1_000);
    b.take(1_000);
    assert.equal(b.take(0).ok, false);
    assert.equal(b.take(1_500).ok, false);
  });

  test('rejects nonsensical parameters', () => {
    assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
    assert.throws(() => new TokenBucket(1, 0, 0), RangeError);
  });
});

describe('KeyedRateLimiter', () => {
  test('keeps an independent bucket per key', () => {
    const l = new KeyedRateLimiter(1, 2);
    assert.equal(l.take('a', 0).ok, true);
    assert.equal(l.take('a', 0).ok, true);
    assert.equal(l.take('a', 0).ok, false);
    assert.equal(l.take('b', 0).ok, true);
  });

  test('bounds the number of keys, evicting the least recently used', () => {
    const l = new KeyedRateLimiter(1, 1, 3);
    for (const k of ['a', 'b', 'c']) l.take(k, 0);
    l.take('a', 0); // a is recently used (and still empty)
    l.take('d', 0); // evicts b
    assert.equal(l.size, 3);
    assert.equal(l.take('a', 0).ok, false); // a was kept, so it is still throttled
    assert.equal(l.take('b', 0).ok, true); // b was forgotten: a fresh, full bucket
    for (let i = 0; i < 20_000; i++) l.take(`k${i}`, i);
    assert.equal(l.size, 3);
  });
});
