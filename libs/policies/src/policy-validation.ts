import { compileHeaderMatch } from './header-match';
// Not the contract's LOAD_BALANCER_STRATEGIES value: this lib imports only types from contracts, and
// BALANCER_STRATEGIES is compiler-checked against the same union.
import { BALANCER_STRATEGIES } from './load-balancer';

import type { FieldError } from '@mesher/contracts';

/** Checks one value at `field`, appending errors; the value is known to be present. */
type Check = (value: unknown, field: string, errors: FieldError[]) => void;

interface Field {
  check: Check;
  required?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A check from a predicate and the phrase that follows the field name in the message. */
const rule =
  (ok: (v: unknown) => boolean, mustBe: string): Check =>
  (v, field, errors) => {
    if (!ok(v)) errors.push({ field, message: `${field} must be ${mustBe}` });
  };

const integerBetween = (min: number, max: number) =>
  rule((v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max, `an integer between ${min} and ${max}`);
const integerAtLeast = (min: number) =>
  rule((v) => Number.isInteger(v) && (v as number) >= min, `an integer >= ${min}`);
const numberBetween = (min: number, max: number) =>
  rule((v) => isNumber(v) && v >= min && v <= max, `a number between ${min} and ${max}`);
const percent = numberBetween(0, 100);
const nonNegativeMs = rule((v) => isNumber(v) && v >= 0, 'a non-negative number of milliseconds');
const positiveMs = rule((v) => isNumber(v) && v > 0, 'a positive number of milliseconds');
const positiveNumber = rule((v) => isNumber(v) && v > 0, 'a positive number');
const nonNegativeNumber = rule((v) => isNumber(v) && v >= 0, 'a non-negative number');
const atLeastOne = rule((v) => isNumber(v) && v >= 1, 'a number >= 1');
const boolean = rule((v) => typeof v === 'boolean', 'a boolean');
const nonEmptyString = rule((v) => typeof v === 'string' && v.length > 0, 'a non-empty string');
const oneOf = (values: readonly string[]) =>
  rule((v) => typeof v === 'string' && values.includes(v), `one of ${values.join(', ')}`);

const RETRY_CONDITIONS = ['connect-failure', 'reset', 'timeout', '5xx'];
const retryCondition = rule(
  (v) => typeof v === 'string' && (RETRY_CONDITIONS.includes(v) || /^[1-5][0-9][0-9]$/.test(v)),
  `one of ${RETRY_CONDITIONS.join(', ')} or an HTTP status code such as '503'`,
);

const arrayOf =
  (item: Check): Check =>
  (v, field, errors) => {
    if (!Array.isArray(v)) {
      errors.push({ field, message: `${field} must be an array` });
      return;
    }
    v.forEach((x, i) => item(x, `${field}.${i}`, errors));
  };

const recordOf =
  (value: Check): Check =>
  (v, field, errors) => {
    if (!isObject(v)) {
      errors.push({ field, message: `${field} must be an object` });
      return;
    }
    for (const [k, x] of Object.entries(v)) value(x, `${field}.${k}`, errors);
  };

/** An object with known fields: unknown keys, missing required fields and bad values are reported. */
const object =
  (fields: Record<string, Field>, extra?: Check): Check =>
  (v, field, errors) => {
    if (!isObject(v)) {
      errors.push({ field, message: `${field} must be an object` });
      return;
    }
    const path = (k: string) => (field === '' ? k : `${field}.${k}`);
    for (const k of Object.keys(v)) {
      // Own keys only: `k in fields` would take constructor, toString, __proto__ ... for known fields.
      if (!Object.hasOwn(fields, k)) {
        errors.push({ field: path(k), message: `${path(k)} is not a known field (expected one of ${Object.keys(fields).join(', ')})` });
      }
    }
    for (const [k, f] of Object.entries(fields)) {
      if (v[k] === undefined) {
        if (f.required) errors.push({ field: path(k), message: `${path(k)} is required` });
      } else {
        f.check(v[k], path(k), errors);
      }
    }
    extra?.(v, field, errors);
  };

const opt = (check: Check): Field => ({ check });
const req = (check: Check): Field => ({ check, required: true });

const regexCompiles: Check = (v, field, errors) => {
  if (typeof v !== 'string') {
    errors.push({ field, message: `${field} must be a string` });
    return;
  }
  try {
    compileHeaderMatch({ regex: v });
  } catch (e) {
    errors.push({ field, message: `${field} is not a valid regular expression: ${(e as Error).message}` });
  }
};

const headerMatch = object({
  exact: opt(rule((v) => typeof v === 'string', 'a string')),
  prefix: opt(rule((v) => typeof v === 'string', 'a string')),
  regex: opt(regexCompiles),
  caseInsensitive: opt(boolean),
});

/** Cross-field rule: `a` must not be greater than `b` when both are valid numbers. */
const notGreater =
  (a: string, b: string): Check =>
  (v, field, errors) => {
    const o = v as Record<string, unknown>;
    if (isNumber(o[a]) && isNumber(o[b]) && o[a] > o[b]) {
      errors.push({ field: `${field}.${a}`, message: `${field}.${a} must not be greater than ${field}.${b}` });
    }
  };

const policySpec = object({
  loadBalancer: opt(
    object({
      strategy: req(oneOf(BALANCER_STRATEGIES)),
      sessionHeader: opt(nonEmptyString),
      sessionCookie: opt(nonEmptyString),
      sessionFailureThreshold: opt(integerBetween(1, 1000)),
    }),
  ),
  timeout: opt(
    object({
      requestMs: opt(nonNegativeMs),
      perTryMs: opt(nonNegativeMs),
    }),
  ),
  retry: opt(
    object(
      {
        attempts: req(integerBetween(1, 10)),
        retryOn: opt(arrayOf(retryCondition)),
        retryNonIdempotent: opt(boolean),
        backoffBaseMs: opt(nonNegativeMs),
        backoffMaxMs: opt(nonNegativeMs),
        budgetRatio: opt(numberBetween(0, 1)),
        budgetMinPerSecond: opt(nonNegativeNumber),
      },
      notGreater('backoffBaseMs', 'backoffMaxMs'),
    ),
  ),
  circuitBreaker: opt(
    object({
      errorThresholdPercent: req(percent),
      requestVolumeThreshold: req(integerAtLeast(1)),
      windowMs: req(positiveMs),
      sleepWindowMs: req(nonNegativeMs),
    }),
  ),
  outlier: opt(
    object({
      consecutiveErrors: req(integerAtLeast(1)),
      baseEjectionMs: req(nonNegativeMs),
      maxEjectionPercent: req(percent),
    }),
  ),
  rateLimit: opt(
    object({
      requestsPerSecond: opt(positiveNumber),
      burst: opt(atLeastOne),
      perSourceRequestsPerSecond: opt(positiveNumber),
    }),
  ),
  fault: opt(
    object({
      delay: opt(object({ fixedDelayMs: req(nonNegativeMs), percent: req(percent) })),
      abort: opt(object({ httpStatus: req(integerBetween(200, 599)), percent: req(percent) })),
      headers: opt(recordOf(headerMatch)),
    }),
  ),
  healthCheck: opt(
    object({
      path: req(rule((v) => typeof v === 'string' && v.startsWith('/'), "a string starting with '/'")),
      intervalMs: req(positiveMs),
      timeoutMs: req(positiveMs),
      healthyThreshold: req(integerAtLeast(1)),
      unhealthyThreshold: req(integerAtLeast(1)),
    }),
  ),
});

/** Validates an untrusted policy document; returns [] when it is a valid PolicySpec. */
export function validatePolicySpec(input: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(input)) return [{ field: 'policy', message: 'policy must be an object' }];
  policySpec(input, '', errors);
  return errors;
}
