import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultSpec } from '@mesher/contracts';
import { decideFault } from './fault-injection';
import { seededRandom } from './seeded-random';

describe('decideFault', () => {
  test('no spec, no fault', () => {
    assert.deepEqual(decideFault(undefined, {}, () => 0), { delayMs: 0, abortStatus: null });
  });

  test('0% never and 100% always', () => {
    const never: FaultSpec = { abort: { httpStatus: 503, percent: 0 }, delay: { fixedDelayMs: 10, percent: 0 } };
    const always: FaultSpec = { abort: { httpStatus: 503, percent: 100 }, delay: { fixedDelayMs: 10, percent: 100 } };
    const random = seededRandom(9);
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(decideFault(never, {}, random), { delayMs: 0, abortStatus: null });
      assert.deepEqual(decideFault(always, {}, random), { delayMs: 10, abortStatus: 503 });
    }
    // Edges of the random source: 0 must not hit 0%, and just below 1 must still hit 100%.
    assert.deepEqual(decideFault(never, {}, () => 0), { delayMs: 0, abortStatus: null });
    assert.deepEqual(decideFault(always, {}, () => 0.999999), { delayMs: 10, abortStatus: 503 });
  });

  test('30% abort over 5,000 requests lands within 3 points', () => {
    const spec: FaultSpec = { abort: { httpStatus: 500, percent: 30 } };
    const random = seededRandom(2024);
    let aborted = 0;
    for (let i = 0; i < 5000; i++) if (decideFault(spec, {}, random).abortStatus === 500) aborted++;
    const pct = (aborted / 5000) * 100;
    assert.ok(Math.abs(pct - 30) <= 3, `aborted ${pct}%`);
  });

  test('delay and abort are drawn independently', () => {
    const spec: FaultSpec = { delay: { fixedDelayMs: 50, percent: 50 }, abort: { httpStatus: 503, percent: 50 } };
    const random = seededRandom(11);
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const d = decideFault(spec, {}, random);
      const k = `${d.delayMs}/${d.abortStatus}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    // Independent 50% draws: each of the four combinations about a quarter of the time.
    for (const k of ['0/null', '50/null', '0/503', '50/503']) {
      assert.ok(Math.abs((seen.get(k) ?? 0) - 1000) < 100, `${k}: ${seen.get(k)}`);
    }
  });

  test('only requests whose headers match are affected', () => {
    const spec: FaultSpec = {
      abort: { httpStatus: 418, percent: 100 },
      headers: { 'X-Chaos': { exact: 'on' }, 'x-user': { regex: 'test-.*' } },
    };
    const hit = decideFault(spec, { 'x-chaos': 'on', 'x-user': 'test-7' }, () => 0);
    assert.equal(hit.abortStatus, 418);
    assert.equal(decideFault(spec, { 'x-chaos': 'on' }, () => 0).abortStatus, null);
    assert.equal(decideFault(spec, { 'x-chaos': 'off', 'x-user': 'test-7' }, () => 0).abortStatus, null);
    assert.equal(decideFault(spec, { 'x-chaos': ['on'], 'x-user': 'test-7' }, () => 0).abortStatus, 418);
  });
});
