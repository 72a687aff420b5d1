import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthState } from './health-check-state';

describe('HealthState', () => {
  test('goes unhealthy only after unhealthyThreshold failures in a row', () => {
    const h = new HealthState(2, 3);
    assert.equal(h.healthy, true);
    assert.equal(h.record(false), true);
    assert.equal(h.record(false), true);
    assert.equal(h.record(true), true); // streak broken: counting starts again
    assert.equal(h.record(false), true);
    assert.equal(h.record(false), true);
    assert.equal(h.record(false), false);
    assert.equal(h.healthy, false);
  });

  test('recovers only after healthyThreshold successes in a row', () => {
    const h = new HealthState(2, 1, false);
    assert.equal(h.record(true), false);
    assert.equal(h.record(false), false);
    assert.equal(h.record(true), false);
    assert.equal(h.record(true), true);
  });

  test('long streaks do not overflow or delay the next flip', () => {
    const h = new HealthState(2, 2);
    for (let i = 0; i < 10_000; i++) h.record(true);
    h.record(false);
    assert.equal(h.record(false), false);
  });
});
