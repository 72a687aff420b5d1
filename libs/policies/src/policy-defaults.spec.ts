import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, mergePolicy } from './policy-defaults';
import { validatePolicySpec } from './policy-validation';

describe('DEFAULT_POLICY', () => {
  test('has the documented defaults and is itself a valid policy', () => {
    assert.equal(DEFAULT_POLICY.loadBalancer?.strategy, 'RoundRobin');
    assert.deepEqual(DEFAULT_POLICY.timeout, { requestMs: 30_000 });
    assert.equal(DEFAULT_POLICY.retry?.attempts, 2);
    assert.deepEqual(DEFAULT_POLICY.retry?.retryOn, ['connect-failure']);
    assert.equal(DEFAULT_POLICY.retry?.budgetRatio, 0.2);
    assert.equal(DEFAULT_POLICY.retry?.budgetMinPerSecond, 10);
    assert.deepEqual(DEFAULT_POLICY.circuitBreaker, {
      errorThresholdPercent: 50,
      requestVolumeThreshold: 20,
      windowMs: 10_000,
      sleepWindowMs: 5_000,
    });
    assert.deepEqual(DEFAULT_POLICY.outlier, { consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 });
    assert.equal(DEFAULT_POLICY.rateLimit, undefined);
    assert.equal(DEFAULT_POLICY.fault, undefined);
    assert.equal(DEFAULT_POLICY.healthCheck, undefined);
    assert.deepEqual(validatePolicySpec(DEFAULT_POLICY), []);
  });

  test('is frozen, so no service can change it for the others', () => {
    assert.ok(Object.isFrozen(DEFAULT_POLICY));
    assert.ok(Object.isFrozen(DEFAULT_POLICY.retry));
    assert.ok(Object.isFrozen(DEFAULT_POLICY.retry?.retryOn));
  });
});

describe('mergePolicy', () => {
  test('no override gives a copy of the base', () => {
    assert.deepEqual(mergePolicy(DEFAULT_POLICY, null), DEFAULT_POLICY);
    assert.deepEqual(mergePolicy(DEFAULT_POLICY, undefined), DEFAULT_POLICY);
  });

  test('merges each section field by field and adds new sections', () => {
    const merged = mergePolicy(DEFAULT_POLICY, {
      retry: { attempts: 4 },
      loadBalancer: { strategy: 'LeastRequest' },
      rateLimit: { requestsPerSecond: 100 },
    });
    assert.equal(merged.retry?.attempts, 4);
    assert.deepEqual(merged.retry?.retryOn, ['connect-failure']); // kept from the base
    assert.equal(merged.loadBalancer?.strategy, 'LeastRequest');
    assert.deepEqual(merged.rateLimit, { requestsPerSecond: 100 });
    assert.deepEqual(merged.circuitBreaker, DEFAULT_POLICY.circuitBreaker); // untouched section
  });

  test('does not modify its inputs', () => {
    const base = { timeout: { requestMs: 1_000 } };
    const override = { timeout: { perTryMs: 200 } };
    const merged = mergePolicy(base, override);
    assert.deepEqual(merged.timeout, { requestMs: 1_000, perTryMs: 200 });
    assert.deepEqual(base, { timeout: { requestMs: 1_000 } });
    assert.deepEqual(override, { timeout: { perTryMs: 200 } });
  });
});
