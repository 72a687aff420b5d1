import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OverloadGuard, overloadReason } from './overload-guard';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until true, for at most `ms` (bounded; the machine may be busy). */
async function eventually(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('overloadReason', () => {
  const o = { maxEventLoopDelayMs: 200, maxHeapPercent: 90 };

  test('healthy below both limits', () => {
    assert.equal(overloadReason(o, { delayMs: 199, heapUsed: 89, heapLimit: 100 }), null);
  });

  test('event-loop delay over the limit', () => {
    assert.equal(overloadReason(o, { delayMs: 450, heapUsed: 0, heapLimit: 100 }), 'event loop delay 450 ms is over the 200 ms limit');
  });

  test('heap use over the limit', () => {
    assert.equal(overloadReason(o, { delayMs: 0, heapUsed: 95, heapLimit: 100 }), 'heap use 95.0% is over the 90% limit');
  });

  test('a limit of 0 turns that check off', () => {
    const off = { maxEventLoopDelayMs: 0, maxHeapPercent: 0 };
    assert.equal(overloadReason(off, { delayMs: 1e6, heapUsed: 100, heapLimit: 100 }), null);
    assert.equal(new OverloadGuard(off).enabled, false);
  });
});

describe('OverloadGuard', () => {
  test('a real event-loop stall sheds until a calm window passes', async () => {
    const g = new OverloadGuard({ maxEventLoopDelayMs: 150, maxHeapPercent: 0, sampleIntervalMs: 200 });
    g.start();
    try {
      await eventually('a calm start', () => g.reason === null);
      assert.equal(g.admit(), true);
      const end = Date.now() + 500;
      while (Date.now() < end) {
        // a synchronous stall, as a hot loop or a huge JSON.parse would cause
      }
      await sleep(1); // the overdue sample runs first, and holds for one interval
      assert.match(g.reason ?? '', /event loop delay \d+ ms is over the 150 ms limit/);
      assert.equal(g.admit(), false);
      assert.equal(g.shed, 1);
      await eventually('calm again after a quiet window', () => g.reason === null);
      assert.equal(g.admit(), true);
    } finally {
      g.stop();
    }
  });

  test('heap use is read through the injected source', async () => {
    let used = 10;
    const g = new OverloadGuard({ maxEventLoopDelayMs: 0, maxHeapPercent: 50, sampleIntervalMs: 10 }, () => ({ used, limit: 100 }));
    g.start();
    try {
      await sleep(30);
      assert.equal(g.reason, null);
      used = 80;
      await eventually('heap over the limit', () => g.reason === 'heap use 80.0% is over the 50% limit');
      used = 10;
      await eventually('heap back under the limit', () => g.reason === null);
    } finally {
      g.stop();
    }
  });
});
