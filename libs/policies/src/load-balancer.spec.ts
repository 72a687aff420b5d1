import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BALANCER_STRATEGIES, createBalancer, SessionStickyBalancer, type PickContext } from './load-balancer';
import { LoadTracker } from './load-tracker';
import { fixedRandom, seededRandom } from './seeded-random';

const inst = (id: string, weight = 1) => ({ id, weight });
const ctx = (extra: Partial<PickContext> = {}): PickContext => ({ now: 0, random: seededRandom(1), ...extra });

function countPicks(ids: (string | undefined)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) if (id !== undefined) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}

describe('createBalancer', () => {
  test('every strategy returns undefined for no candidates and the only one for one', () => {
    for (const strategy of BALANCER_STRATEGIES) {
      const b = createBalancer({ strategy }, new LoadTracker());
      assert.equal(b.pick([], ctx({ sessionKey: 's' })), undefined, strategy);
      const only = inst('a');
      assert.equal(b.pick([only], ctx({ sessionKey: 's' })), only, strategy);
    }
  });

  test('lists the five strategies of the contract', () => {
    assert.deepEqual([...BALANCER_STRATEGIES].sort(), [
      'LeastRequest',
      'Random',
      'RoundRobin',
      'SessionSticky',
      'WeightedRoundRobin',
    ]);
  });
});

describe('RoundRobin', () => {
  test('is the default and alternates in order', () => {
    const b = createBalancer(undefined, new LoadTracker());
    const c = [inst('a'), inst('b'), inst('c')];
    const seq = Array.from({ length: 6 }, () => b.pick(c, ctx())?.id);
    assert.deepEqual(seq, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('stays in range when the candidate list shrinks or grows', () => {
    const b = createBalancer({ strategy: 'RoundRobin' }, new LoadTracker());
    const three = [inst('a'), inst('b'), inst('c')];
    b.pick(three, ctx());
    b.pick(three, ctx());
    const two = [inst('a'), inst('b')];
    for (let i = 0; i < 5; i++) assert.ok(b.pick(two, ctx()) !== undefined);
    const seq = Array.from({ length: 4 }, () => b.pick(two, ctx())?.id);
    assert.deepEqual(countPicks(seq), { a: 2, b: 2 });
  });
});

describe('Random', () => {
  test('spreads picks evenly over candidates', () => {
    const b = createBalancer({ strategy: 'Random' }, new LoadTracker());
    const c = [inst('a'), inst('b'), inst('c'), inst('d')];
    const random = seededRandom(42);
    const counts = countPicks(Array.from({ length: 8000 }, () => b.pick(c, { now: 0, random })?.id));
    for (const id of ['a', 'b', 'c', 'd']) assert.ok(Math.abs(counts[id] - 2000) < 150, `${id}: ${counts[id]}`);
  });

  test('copes with a random source returning exactly 1', () => {
    const b = createBalancer({ strategy: 'Random' }, new LoadTracker());
    assert.equal(b.pick([inst('a'), inst('b')], ctx({ random: () => 1 }))?.id, 'b');
  });
});

describe('WeightedRoundRobin', () => {
  test('smooth sequence and exact proportions over one cycle (nginx example 5:1:1)', () => {
    const b = createBalancer({ strategy: 'WeightedRoundRobin' }, new LoadTracker());
    const c = [inst('a', 5), inst('b', 1), inst('c', 1)];
    const seq = Array.from({ length: 7 }, () => b.pick(c, ctx())?.id);
    assert.deepEqual(seq, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  test('exact proportions over many cycles', () => {
    const b = createBalancer({ strategy: 'WeightedRoundRobin' }, new LoadTracker());
    const c = [inst('a', 3), inst('b', 2), inst('c', 1)];
    const counts = countPicks(Array.from({ length: 600 }, () => b.pick(c, ctx())?.id));
    assert.deepEqual(counts, { a: 300, b: 200, c: 100 });
  });

  test('weight 0 is never picked, unless all weights are 0', () => {
    const b = createBalancer({ strategy: 'WeightedRoundRobin' }, new LoadTracker());
    const c = [inst('a', 0), inst('b', 2)];
    const seq = Array.from({ length: 10 }, () => b.pick(c, ctx())?.id);
    assert.ok(seq.every((id) => id === 'b'));
    const zeros = [inst('a', 0), inst('b', 0)];
    const counts = countPicks(Array.from({ length: 10 }, () => b.pick(zeros, ctx())?.id));
    assert.deepEqual(counts, { a: 5, b: 5 });
  });

  test('follows a changed candidate list', () => {
    const b = createBalancer({ strategy: 'WeightedRoundRobin' }, new LoadTracker());
    for (let i = 0; i < 5; i++) b.pick([inst('a', 1), inst('b', 1)], ctx());
    const c = [inst('x', 1), inst('y', 3)];
    const counts = countPicks(Array.from({ length: 8 }, () => b.pick(c, ctx())?.id));
    assert.deepEqual(counts, { x: 2, y: 6 });
  });
});

describe('LeastRequest (P2C, peak EWMA)', () => {
  test('picks two distinct candidates and keeps the lower score', () => {
    const load = new LoadTracker();
    const b = createBalancer({ strategy: 'LeastRequest' }, load);
    load.begin('a');
    load.begin('a');
    // First draw selects a (index 0); second draw 0 would be a again, so it is shifted to b.
    assert.equal(b.pick([inst('a'), inst('b')], ctx({ random: fixedRandom(0, 0) }))?.id, 'b');
  });

  test('sends most traffic to the less loaded, faster instances', () => {
    const load = new LoadTracker();
    const b = createBalancer({ strategy: 'LeastRequest' }, load);
    const c = [inst('fast'), inst('slow'), inst('busy')];
    load.end('fast', 10, 0);
    load.end('slow', 200, 0);
    load.end('busy', 10, 0);
    for (let i = 0; i < 50; i++) load.begin('busy');
    const random = seededRandom(7);
    const counts = countPicks(Array.from({ length: 3000 }, () => b.pick(c, { now: 0, random })?.id));
    // fast wins both pairs it is in (2/3 of draws); slow only beats busy: (200 vs 51*10).
    assert.ok(counts.fast > 1900, JSON.stringify(counts));
    assert.ok((counts.busy ?? 0) === 0, JSON.stringify(counts));
  });

  test('load shifts as in-flight requests pile up', () => {
    const load = new LoadTracker();
    const b = createBalancer({ strategy: 'LeastRequest' }, load);
    const c = [inst('a'), inst('b')];
    const random = seededRandom(3);
    // Requests that never finish: P2C must keep the two in-flight counts level.
    for (let i = 0; i < 100; i++) load.begin(b.pick(c, { now: 0, random })!.id);
    assert.ok(Math.abs(load.inflight('a') - load.inflight('b')) <= 1);
  });
});

describe('SessionSticky', () => {
  const c = [inst('a'), inst('b'), inst('c')];

  test('the same session stays on its instance; different sessions spread', () => {
    const b = createBalancer({ strategy: 'SessionSticky' }, new LoadTracker());
    const first = b.pick(c, ctx({ sessionKey: 's1' }))!.id;
    for (let i = 0; i < 10; i++) assert.equal(b.pick(c, ctx({ sessionKey: 's1' }))?.id, first);
    const other = b.pick(c, ctx({ sessionKey: 's2' }))!.id;
    assert.notEqual(other, first);
  });

  test('moves after sessionFailureThreshold failures in a row, to a different instance', () => {
    const b = createBalancer({ strategy: 'SessionSticky', sessionFailureThreshold: 2 }, new LoadTracker());
    const s = ctx({ sessionKey: 'user-1' });
    const pinned = b.pick(c, s)!.id;
    b.reportResult!(pinned, false, s);
    assert.equal(b.pick(c, s)?.id, pinned); // one failure is below the threshold
    b.reportResult!(pinned, false, s);
    const moved = b.pick(c, s)!.id;
    assert.notEqual(moved, pinned);
    assert.equal(b.pick(c, s)?.id, moved); // and sticks to the new one
  });

  test('does not move back onto the failing instance even when round robin points at it', () => {
    const b = createBalancer({ strategy: 'SessionSticky', sessionFailureThreshold: 1 }, new LoadTracker());
    const two = [inst('a'), inst('b')];
    const s = ctx({ sessionKey: 'k' });
    assert.equal(b.pick(two, s)?.id, 'a');
    assert.equal(b.pick(two, ctx())?.id, 'b'); // round robin now points at a again
    b.reportResult!('a', false, s);
    assert.equal(b.pick(two, s)?.id, 'b');
  });

  test('a success resets the failure count; the default threshold is 3', () => {
    const b = createBalancer({ strategy: 'SessionSticky' }, new LoadTracker());
    const s = ctx({ sessionKey: 'user-1' });
    const pinned = b.pick(c, s)!.id;
    b.reportResult!(pinned, false, s);
    b.reportResult!(pinned, false, s);
    b.reportResult!(pinned, true, s);
    b.reportResult!(pinned, false, s);
    b.reportResult!(pinned, false, s);
    assert.equal(b.pick(c, s)?.id, pinned);
    b.reportResult!(pinned, false, s);
    assert.notEqual(b.pick(c, s)?.id, pinned);
  });

  test('moves when the pinned instance is no longer a candidate', () => {
    const b = createBalancer({ strategy: 'SessionSticky' }, new LoadTracker());
    const s = ctx({ sessionKey: 'k' });
    const pinned = b.pick(c, s)!.id;
    const rest = c.filter((x) => x.id !== pinned);
    const moved = b.pick(rest, s)!.id;
    assert.notEqual(moved, pinned);
    assert.equal(b.pick(c, s)?.id, moved); // the new pin holds even when the old instance returns
  });

  test('without a session key it falls back to round robin', () => {
    const b = createBalancer({ strategy: 'SessionSticky' }, new LoadTracker());
    const seq = Array.from({ length: 3 }, () => b.pick(c, ctx())?.id);
    assert.deepEqual(seq, ['a', 'b', 'c']);
  });

  test('remembers a bounded number of sessions, forgetting the least recently used', () => {
    const b = createBalancer({ strategy: 'SessionSticky' }, new LoadTracker(), { maxSessions: 2 }) as SessionStickyBalancer;
    const pin = (key: string, cands = c) => b.pick(cands, ctx({ sessionKey: key }))!.id;
    const k1 = pin('k1'); // a
    pin('k2'); // b
    pin('k1'); // touch k1: k2 is now the oldest
    pin('k3'); // c, evicts k2
    assert.equal(b.sessionCount, 2);
    assert.equal(pin('k1'), k1);
    assert.equal(pin('k2'), 'a'); // re-pinned by round robin, no longer on b
  });
});
