import assert from 'node:assert/strict';
import type { PolicySpec, RouteRuleRecord } from '@mesher/contracts';
import { api } from './http-client';
import type { Upstream } from './upstream';

/** Admin calls the e2e specs repeat; each asserts success so a broken setup fails at its cause. */

export async function register(admin: string, service: string, up: Upstream, version = '1.0.0', extra: Record<string, unknown> = {}): Promise<string> {
  const r = await api(admin, 'POST', `/v1/services/${service}/instances`, { endpoint: up.url, version, ...extra });
  assert.equal(r.status, 201, r.body);
  return r.json<{ id: string }>().id;
}

export async function putPolicy(admin: string, service: string, spec: PolicySpec): Promise<void> {
  const r = await api(admin, 'PUT', `/v1/policies/${service}`, spec);
  assert.equal(r.status, 200, r.body);
}

export async function createRule(admin: string, rule: Omit<RouteRuleRecord, 'id' | 'match' | 'policy'> & Partial<RouteRuleRecord>): Promise<string> {
  const r = await api(admin, 'POST', '/v1/routes', rule);
  assert.equal(r.status, 201, r.body);
  return r.json<{ id: string }>().id;
}

/**
 * Turns off the default breaker and outlier ejection, so a spec about one policy is not disturbed by
 * the others (the defaults would open or eject under the failures the spec provokes on purpose).
 */
export const QUIET: PolicySpec = {
  circuitBreaker: { errorThresholdPercent: 100, requestVolumeThreshold: 1_000_000, windowMs: 10_000, sleepWindowMs: 1_000 },
  outlier: { consecutiveErrors: 1_000_000, baseEjectionMs: 1_000, maxEjectionPercent: 0 },
};
