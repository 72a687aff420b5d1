'use strict';
// Rounds with fresh processes. The same binary runs up to 20% faster or slower from one process start
// to the next on this machine (layout in memory, not load: it holds for a whole process life and moves
// with none of the other processes running), so one start per scenario is a sample of one; a mean over
// rounds is a mean over starts.

/**
 * Runs `rounds` rounds over `items`. Each round starts every item afresh in the round's order (as
 * listed, reversed on odd rounds, so slow drift hits all alike), calls `body(running, round)` with
 * `[{ item, target }]` in that order, then stops every target. `start(item, round)` resolves with a
 * target (anything with `stop()`), or null for an item that cannot run: it is left out from then on.
 */
async function freshRounds(items, rounds, start, body) {
  let live = [...items];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? live : [...live].reverse();
    const running = [];
    try {
      for (const item of order) {
        const target = await start(item, round);
        if (target) running.push({ item, target });
      }
      live = live.filter((item) => running.some((r) => r.item === item));
      await body(running, round);
    } finally {
      for (const { target } of running) await target.stop().catch(() => undefined);
    }
  }
}

module.exports = { freshRounds };
