import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceRecord, type HealthCheckSpec, type InstanceRecord, type RegistryState } from '@mesher/contracts';
import { buildSnapshot } from '@mesher/registry';
import { ActiveHealthChecker } from './active-health-checker';

const inst = (id: string): InstanceRecord => instanceRecord('cart', id, { endpoint: `http://${id}`, weight: 1 });
const state = (ids: string[]): RegistryState => ({
  revision: 1,
  services: [{ name: 'cart', app: null, description: null }],
  instances: ids.map(inst),
  routes: [],
  policies: [],
});
// An interval far beyond the test: rounds are driven by hand.
const spec: HealthCheckSpec = { path: '/health', intervalMs: 3_600_000, timeoutMs: 100, healthyThreshold: 2, unhealthyThreshold: 2 };

test('instances failing their checks become unhealthy after the threshold and recover after the healthy threshold', async () => {
  const up = new Map([['http://a', true], ['http://b', true]]);
  const probed: string[] = [];
  const checker = new ActiveHealthChecker(async (endpoint, path) => {
    probed.push(`${endpoint}${path}`);
    return up.get(endpoint) ?? false;
  });
  try {
    checker.sync(buildSnapshot(state(['a', 'b']), 0), () => spec);
    await checker.round('cart');
    assert.ok(probed.includes('http://a/health') && probed.includes('http://b/health'));
    assert.deepEqual([...checker.unhealthy('cart')!], []);
    up.set('http://b', false);
    await checker.round('cart');
    assert.deepEqual([...checker.unhealthy('cart')!], [], 'one failure is below the threshold of 2');
    await checker.round('cart');
    assert.deepEqual([...checker.unhealthy('cart')!], ['b']);
    up.set('http://b', true);
    await checker.round('cart');
    assert.deepEqual([...checker.unhealthy('cart')!], ['b'], 'one success is below the healthy threshold of 2');
    await checker.round('cart');
    assert.deepEqual([...checker.unhealthy('cart')!], []);
  } finally {
    checker.close();
  }
});

test('removing the policy or the instance forgets its state', async () => {
  const checker = new ActiveHealthChecker(async () => false);
  try {
    checker.sync(buildSnapshot(state(['a', 'b']), 0), () => ({ ...spec, unhealthyThreshold: 1 }));
    await checker.round('cart');
    assert.deepEqual([...checker.unhealthy('cart')!].sort(), ['a', 'b']);
    checker.sync(buildSnapshot(state(['a']), 0), () => ({ ...spec, unhealthyThreshold: 1 }));
    assert.deepEqual([...checker.unhealthy('cart')!], ['a']);
    checker.sync(buildSnapshot(state(['a']), 0), () => undefined);
    assert.equal(checker.unhealthy('cart'), undefined);
  } finally {
    checker.close();
  }
});
