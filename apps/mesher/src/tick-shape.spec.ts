import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// A fresh node process per case. It runs full GCs while no tick is queued (as idle and start-up GCs
// do), queueing ticks in between, then prints V8's view of process.nextTick: the state of the property
// stores that build each TickObject (see tick-shape.ts).
const CHILD = (pin: boolean) => `
${pin ? `require(${JSON.stringify(join(__dirname, 'tick-shape.js'))});` : ''}
for (let i = 0; i < 100; i++) process.nextTick(() => undefined);
let n = 0;
(function step() {
  if (n++ < 8) return setTimeout(() => { gc(); setTimeout(() => { process.nextTick(() => undefined); setTimeout(step, 5); }, 5); }, 5);
  %DebugPrint(process.nextTick);
})();
`;

/** The inline-cache states of nextTick's TickObject literal stores, e.g. ['MONOMORPHIC', 'MEGAMORPHIC', ...]. */
function literalStoreStates(pin: boolean): string[] {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '-e', CHILD(pin)], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return [...out.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1]);
}

describe('tick-shape', () => {
  it("without the pin, GCs with no tick queued turn nextTick's stores megamorphic (the V8 behaviour it guards against)", () => {
    const states = literalStoreStates(false);
    assert.equal(states.length, 4, `the TickObject literal's four stores: ${states.join(', ')}`);
    assert.ok(states.includes('MEGAMORPHIC'), states.join(', '));
  });

  it('with the pin, the same GCs leave every store monomorphic', () => {
    assert.deepEqual(literalStoreStates(true), ['MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC']);
  });
});
