import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldError } from '@mesher/contracts';
import { validatePolicySpec } from './policy-validation';

/** The single error for `field`, failing if there is none. */
function errorFor(errors: FieldError[], field: string): FieldError {
  const e = errors.find((x) => x.field === field);
  assert.ok(e, `expected an error for ${field}, got ${JSON.stringify(errors)}`);
  return e;
}

describe('validatePolicySpec', () => {
  test('accepts an empty policy and a full valid one', () => {
    assert.deepEqual(validatePolicySpec({}), []);
    const full = {
      loadBalancer: { strategy: 'SessionSticky', sessionHeader: 'x-session', sessionCookie: 'sid', sessionFailureThreshold: 2 },
      timeout: { requestMs: 5_000, perTryMs: 1_000 },
      retry: {
        attempts: 3,
        retryOn: ['5xx', 'reset', 'connect-failure', 'timeout', '429'],
        retryNonIdempotent: false,
        backoffBaseMs: 10,
        backoffMaxMs: 100,
        budgetRatio: 0.1,
        budgetMinPerSecond: 5,
      },
      circuitBreaker: { errorThresholdPercent: 50, requestVolumeThreshold: 20, windowMs: 10_000, sleepWindowMs: 5_000 },
      outlier: { consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 },
      rateLimit: { requestsPerSecond: 100, burst: 20, perSourceRequestsPerSecond: 10 },
      fault: {
        delay: { fixedDelayMs: 100, percent: 10 },
        abort: { httpStatus: 503, percent: 5 },
        headers: { 'x-chaos': { exact: 'on' }, 'x-user': { regex: 'test-.*', caseInsensitive: true } },
      },
      healthCheck: { path: '/health', intervalMs: 5_000, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 3 },
    };
    assert.deepEqual(validatePolicySpec(full), []);
  });

  test('rejects a non-object', () => {
    for (const bad of [null, 'x', 3, []]) {
      assert.deepEqual(validatePolicySpec(bad), [{ field: 'policy', message: 'policy must be an object' }]);
    }
  });

  test('rejects unknown keys at the top and nested, naming the path', () => {
    const errors = validatePolicySpec({ retries: {}, retry: { attempts: 2, tries: 3 } });
    assert.match(errorFor(errors, 'retries').message, /^retries is not a known field/);
    assert.match(errorFor(errors, 'retry.tries').message, /^retry\.tries is not a known field/);
    const hm = validatePolicySpec({ fault: { headers: { 'x-a': { exact: 'a', equals: 'b' } } } });
    errorFor(hm, 'fault.headers.x-a.equals');
  });

  test('keys every object inherits are unknown too (found by the admin property tests)', () => {
    const spec = JSON.parse('{"valueOf":null,"timeout":{"constructor":5,"__proto__":1},"retry":{"attempts":2,"toString":"x"}}') as unknown;
    const errors = validatePolicySpec(spec);
    for (const f of ['valueOf', 'timeout.constructor', 'timeout.__proto__', 'retry.toString']) assert.match(errorFor(errors, f).message, /is not a known field/);
  });

  test('attempts must be an integer 1..10', () => {
    for (const attempts of [0, 11, 2.5, '3']) {
      const e = errorFor(validatePolicySpec({ retry: { attempts } }), 'retry.attempts');
      assert.equal(e.message, 'retry.attempts must be an integer between 1 and 10');
    }
    assert.equal(errorFor(validatePolicySpec({ retry: {} }), 'retry.attempts').message, 'retry.attempts is required');
  });

  test('strategy must be a known load balancer', () => {
    const e = errorFor(validatePolicySpec({ loadBalancer: { strategy: 'Fastest' } }), 'loadBalancer.strategy');
    assert.match(e.message, /^loadBalancer\.strategy must be one of RoundRobin, Random, WeightedRoundRobin/);
  });

  test('percents are 0..100 and durations non-negative', () => {
    const errors = validatePolicySpec({
      circuitBreaker: { errorThresholdPercent: 101, requestVolumeThreshold: 1, windowMs: 0, sleepWindowMs: -1 },
      outlier: { consecutiveErrors: 1, baseEjectionMs: 1, maxEjectionPercent: -5 },
      timeout: { requestMs: -1 },
    });
    assert.equal(
      errorFor(errors, 'circuitBreaker.errorThresholdPercent').message,
      'circuitBreaker.errorThresholdPercent must be a number between 0 and 100',
    );
    assert.match(errorFor(errors, 'circuitBreaker.windowMs').message, /positive/);
    assert.match(errorFor(errors, 'circuitBreaker.sleepWindowMs').message, /non-negative/);
    errorFor(errors, 'outlier.maxEjectionPercent');
    errorFor(errors, 'timeout.requestMs');
    assert.equal(errors.length, 5);
  });

  test('abort httpStatus is 200..599', () => {
    const e = errorFor(validatePolicySpec({ fault: { abort: { httpStatus: 700, percent: 1 } } }), 'fault.abort.httpStatus');
    assert.equal(e.message, 'fault.abort.httpStatus must be an integer between 200 and 599');
  });

  test('header regexes must compile', () => {
    const errors = validatePolicySpec({ fault: { headers: { 'x-user': { regex: '(' } } } });
    assert.match(errorFor(errors, 'fault.headers.x-user.regex').message, /is not a valid regular expression/);
  });

  test('retryOn entries must be known conditions or status codes', () => {
    const errors = validatePolicySpec({ retry: { attempts: 2, retryOn: ['5xx', 'sometimes', 42] } });
    errorFor(errors, 'retry.retryOn.1');
    errorFor(errors, 'retry.retryOn.2');
    assert.equal(errors.length, 2);
  });

  test('cross-field: backoff base may not exceed the cap', () => {
    const errors = validatePolicySpec({ retry: { attempts: 2, backoffBaseMs: 500, backoffMaxMs: 100 } });
    assert.equal(errorFor(errors, 'retry.backoffBaseMs').message, 'retry.backoffBaseMs must not be greater than retry.backoffMaxMs');
  });

  test('sections must be objects and required fields present', () => {
    const errors = validatePolicySpec({ outlier: 5, healthCheck: { path: 'health' } });
    assert.equal(errorFor(errors, 'outlier').message, 'outlier must be an object');
    assert.match(errorFor(errors, 'healthCheck.path').message, /starting with '\/'/);
    assert.equal(errorFor(errors, 'healthCheck.intervalMs').message, 'healthCheck.intervalMs is required');
  });
});
