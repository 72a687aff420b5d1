import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthFailureLimiter } from './auth-failure-limiter';

test('ten wrong tokens in a window block the address for the rest of that window, not longer', () => {
  const l = new AuthFailureLimiter(10, 60_000);
  const t0 = 1_000_000;
  for (let i = 0; i < 9; i++) {
    l.recordFailure('10.0.0.1', t0 + i * 1000);
    assert.equal(l.retryAfterMs('10.0.0.1', t0 + i * 1000), 0, `still allowed after ${i + 1} failures`);
  }
  l.recordFailure('10.0.0.1', t0 + 9000);
  assert.equal(l.retryAfterMs('10.0.0.1', t0 + 9000), 51_000, 'blocked until the window that began at the first failure ends');
  assert.equal(l.retryAfterMs('10.0.0.1', t0 + 59_999), 1);
  assert.equal(l.retryAfterMs('10.0.0.2', t0 + 9000), 0, 'another address is not affected');
  assert.equal(l.retryAfterMs('10.0.0.1', t0 + 60_000), 0, 'a new window starts clean');
  l.recordFailure('10.0.0.1', t0 + 60_000);
  assert.equal(l.retryAfterMs('10.0.0.1', t0 + 60_001), 0);
});

test('failures spread over more than one window never block', () => {
  const l = new AuthFailureLimiter(3, 1000);
  for (let i = 0; i < 30; i++) {
    l.recordFailure('a', i * 500);
    assert.equal(l.retryAfterMs('a', i * 500), 0, `at ${i * 500}`);
  }
});

test('a clock step backwards ends the window instead of extending the block', () => {
  const l = new AuthFailureLimiter(2, 60_000);
  l.recordFailure('a', 100_000);
  l.recordFailure('a', 100_001);
  assert.ok(l.retryAfterMs('a', 100_002) > 0);
  assert.equal(l.retryAfterMs('a', 50_000), 0);
});

test('memory is bounded: the least recently failing address is forgotten first', () => {
  const l = new AuthFailureLimiter(1, 60_000, 3);
  for (const k of ['a', 'b', 'c']) l.recordFailure(k, 0);
  l.recordFailure('a', 1); // a is now the most recent
  l.recordFailure('d', 2);
  assert.equal(l.size, 3);
  assert.equal(l.retryAfterMs('b', 3), 0, 'b was evicted');
  for (const k of ['a', 'c', 'd']) assert.ok(l.retryAfterMs(k, 3) > 0, `${k} is remembered`);
});

test('nonsense parameters are refused', () => {
  assert.throws(() => new AuthFailureLimiter(0, 1000), RangeError);
  assert.throws(() => new AuthFailureLimiter(5, 0), RangeError);
});
