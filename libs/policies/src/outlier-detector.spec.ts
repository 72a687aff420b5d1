import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutlierSpec } from '@mesher/contracts';
import { MAX_EJECTION_MS, OutlierDetector } from './outlier-detector';

const spec: OutlierSpec = { consecutiveErrors: 3, baseEjectionMs: 1_000, maxEjectionPercent: 50 };

function fail(d: OutlierDetector, id: string, now: number, times: number, total = 4): void {
  for (let i = 0; i < times; i++) d.onResult(id, false, now, total);
}

describe('OutlierDetector', () => {
  test('ejects after consecutiveErrors failures in a row', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 2);
    assert.equal(d.isEjected('a', 0), false);
    fail(d, 'a', 0, 1);
    assert.equal(d.isEjected('a', 0), true);
    assert.deepEqual(d.ejectedIds(0), ['a']);
  });

  test('anyEjected is true exactly while some ejection lasts', () => {
    const d = new OutlierDetector(spec);
    assert.equal(d.anyEjected(0), false);
    fail(d, 'a', 0, 3); // ejected until 1,000
    fail(d, 'b', 500, 3); // until 1,500
    assert.equal(d.anyEjected(1_200), true);
    assert.equal(d.isEjected('a', 1_200), false);
    assert.equal(d.anyEjected(1_500), false);
  });

  test('a success resets the consecutive count', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 2);
    d.onResult('a', true, 0, 4);
    fail(d, 'a', 0, 2);
    assert.equal(d.isEjected('a', 0), false);
  });

  test('the ejection ends by itself after baseEjectionMs', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 3);
    assert.equal(d.isEjected('a', 999), true);
    assert.equal(d.isEjected('a', 1_000), false);
    assert.deepEqual(d.ejectedIds(1_000), []);
  });

  test('ejection time grows with each ejection', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 3); // 1 x 1000, until 1000
    fail(d, 'a', 1_000, 3); // 2 x 1000, until 3000
    assert.equal(d.isEjected('a', 2_999), true);
    assert.equal(d.isEjected('a', 3_000), false);
    fail(d, 'a', 3_000, 3); // 3 x 1000
    assert.equal(d.isEjected('a', 5_999), true);
    assert.equal(d.isEjected('a', 6_000), false);
  });

  test('the multiplier decays back after a healthy period', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 3); // until 1000
    fail(d, 'a', 1_000, 3); // x2, until 3000
    fail(d, 'a', 10_000, 3); // healthy 7 s since: multiplier back to 0, so x1
    assert.equal(d.isEjected('a', 10_999), true);
    assert.equal(d.isEjected('a', 11_000), false);
  });

  test('one ejection is capped', () => {
    const d = new OutlierDetector({ ...spec, baseEjectionMs: 100_000 });
    fail(d, 'a', 0, 3); // x1 until 100 s
    fail(d, 'a', 100_000, 3); // x2 until 300 s
    fail(d, 'a', 300_000, 3); // x3 = 300 s, until 600 s
    fail(d, 'a', 600_000, 3); // x4 would be 400 s; capped to 300 s
    assert.equal(d.isEjected('a', 600_000 + MAX_EJECTION_MS - 1), true);
    assert.equal(d.isEjected('a', 600_000 + MAX_EJECTION_MS), false);
  });

  test('never ejects more than maxEjectionPercent of the instances', () => {
    const d = new OutlierDetector(spec); // 50% of 4 = 2
    fail(d, 'a', 0, 3);
    fail(d, 'b', 0, 3);
    fail(d, 'c', 0, 3);
    assert.deepEqual(d.ejectedIds(0).sort(), ['a', 'b']);
    // Once room frees up, the next failure of c ejects it.
    fail(d, 'c', 1_000, 1);
    assert.equal(d.isEjected('c', 1_000), true);
  });

  test('ejects none when the percentage allows none', () => {
    const d = new OutlierDetector({ ...spec, maxEjectionPercent: 40 }); // 40% of 2 = 0.8 -> 0
    fail(d, 'a', 0, 10, 2);
    assert.equal(d.isEjected('a', 0), false);
  });

  test('failures while ejected do not extend the ejection', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 3);
    fail(d, 'a', 500, 10);
    assert.equal(d.isEjected('a', 1_000), false);
  });

  test('retain forgets instances that are gone', () => {
    const d = new OutlierDetector(spec);
    fail(d, 'a', 0, 3);
    fail(d, 'b', 0, 2);
    d.retain(new Set(['b']));
    assert.deepEqual(d.ejectedIds(0), []);
    fail(d, 'b', 0, 1); // b's count was kept
    assert.equal(d.isEjected('b', 0), true);
  });
});
