import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RetrySpec } from '@mesher/contracts';
import { backoffMs, isRetryableOutcome, isRetryableRequest, RetryBudget } from './retry';
import { seededRandom } from './seeded-random';

const spec: RetrySpec = { attempts: 3 };

describe('isRetryableOutcome', () => {
  test('defaults: connect failures, resets, 502/503/504', () => {
    assert.equal(isRetryableOutcome(spec, { kind: 'connect-failure' }), true);
    assert.equal(isRetryableOutcome(spec, { kind: 'reset' }), true);
    for (const status of [502, 503, 504]) assert.equal(isRetryableOutcome(spec, { kind: 'status', status }), true);
    assert.equal(isRetryableOutcome(spec, { kind: 'status', status: 500 }), false);
    assert.equal(isRetryableOutcome(spec, { kind: 'status', status: 200 }), false);
    assert.equal(isRetryableOutcome(spec, { kind: 'timeout' }), false);
  });

  test("'5xx' means any 500-599, a code means that code, 'timeout' makes per-try timeouts retryable", () => {
    const s: RetrySpec = { attempts: 3, retryOn: ['5xx', '429', 'timeout'] };
    assert.equal(isRetryableOutcome(s, { kind: 'status', status: 500 }), true);
    assert.equal(isRetryableOutcome(s, { kind: 'status', status: 599 }), true);
    assert.equal(isRetryableOutcome(s, { kind: 'status', status: 429 }), true);
    assert.equal(isRetryableOutcome(s, { kind: 'status', status: 404 }), false);
    assert.equal(isRetryableOutcome(s, { kind: 'timeout' }), true);
    assert.equal(isRetryableOutcome(s, { kind: 'connect-failure' }), false);
  });
});

describe('isRetryableRequest', () => {
  test('idempotent methods without a body are retried', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'get']) {
      assert.equal(isRetryableRequest(spec, m, false), true, m);
    }
  });

  test('POST and PATCH are never retried unless opted in', () => {
    assert.equal(isRetryableRequest(spec, 'POST', false), false);
    assert.equal(isRetryableRequest(spec, 'PATCH', false), false);
    assert.equal(isRetryableRequest({ ...spec, retryNonIdempotent: true }, 'POST', true), true);
  });

  test('a request with a body is not retried, even PUT, unless opted in', () => {
    assert.equal(isRetryableRequest(spec, 'PUT', true), false);
    assert.equal(isRetryableRequest(spec, 'GET', true), false);
    assert.equal(isRetryableRequest({ ...spec, retryNonIdempotent: true }, 'PUT', true), true);
  });
});

describe('backoffMs', () => {
  test('stays within [0, min(max, base * 2^(n-1))) with full jitter', () => {
    const random = seededRandom(5);
    const ceilings = [25, 50, 100, 200, 250, 250, 250];
    ceilings.forEach((ceiling, i) => {
      const samples = Array.from({ length: 500 }, () => backoffMs(spec, i + 1, random));
      assert.ok(samples.every((ms) => ms >= 0 && ms < ceiling), `retry ${i + 1}`);
      assert.ok(Math.max(...samples) > ceiling * 0.9, 'jitter spans the range');
    });
  });

  test('uses the configured base and cap; huge retry numbers do not overflow', () => {
    const s: RetrySpec = { attempts: 3, backoffBaseMs: 100, backoffMaxMs: 1_000 };
    assert.equal(backoffMs(s, 1, () => 0.5), 50);
    assert.equal(backoffMs(s, 3, () => 0.5), 200);
    assert.equal(backoffMs(s, 10_000, () => 0.5), 500);
    assert.equal(backoffMs({ attempts: 3, backoffBaseMs: 0 }, 10_000, () => 0.5), 0);
  });
});

describe('RetryBudget', () => {
  test('under total outage retries stay within ratio * requests + min * seconds', () => {
    const budget = new RetryBudget(0.2, 10, 10_000);
    let requests = 0;
    let retries = 0;
    // 1000 failing requests/s for 10 s, each wanting 2 retries.
    for (let t = 0; t < 10_000; t++) {
      budget.recordRequest(t);
      requests++;
      for (let r = 0; r < 2; r++) if (budget.tryWithdraw(t)) retries++;
    }
    assert.ok(retries <= 0.2 * requests + 10 * 10, `retries ${retries}`);
    assert.ok(retries >= 0.2 * requests, `the budget is actually usable: ${retries}`);
  });

  test('the minimum allows retries for low traffic', () => {
    const budget = new RetryBudget(0.2, 10, 10_000);
    let granted = 0;
    for (let i = 0; i < 200; i++) if (budget.tryWithdraw(0)) granted++;
    assert.equal(granted, 100); // 10/s over a 10 s window, with no requests at all
  });

  test('spent budget comes back as the window rolls on', () => {
    const budget = new RetryBudget(0, 1, 10_000);
    for (let i = 0; i < 10; i++) assert.equal(budget.tryWithdraw(0), true);
    assert.equal(budget.tryWithdraw(0), false);
    assert.equal(budget.tryWithdraw(10_000), true);
  });
});
