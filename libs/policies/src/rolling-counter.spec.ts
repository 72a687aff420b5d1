import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RollingCounter } from './rolling-counter';

describe('RollingCounter', () => {
  test('sums the buckets inside the window and forgets older ones', () => {
    const c = new RollingCounter(['ok', 'fail'], 1000); // 10 buckets of 100 ms
    c.add('ok', 0);
    c.add('fail', 50);
    c.add('fail', 950);
    assert.deepEqual(c.totals(999), { ok: 1, fail: 2 });
    // At 1000 the first bucket [0, 100) has left the window.
    assert.deepEqual(c.totals(1000), { ok: 0, fail: 1 });
    assert.deepEqual(c.totals(5000), { ok: 0, fail: 0 });
  });

  test('reuses slots instead of growing', () => {
    const c = new RollingCounter(['n'], 1000);
    for (let t = 0; t < 100_000; t += 7) c.add('n', t);
    // 1000 ms of adds every 7 ms, give or take the partially elapsed current bucket.
    const { n } = c.totals(99_999);
    assert.ok(n > 125 && n <= 143, String(n));
  });

  test('reset clears everything', () => {
    const c = new RollingCounter(['n'], 1000);
    c.add('n', 10);
    c.reset();
    assert.deepEqual(c.totals(10), { n: 0 });
  });
});
