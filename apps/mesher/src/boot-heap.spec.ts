import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// Each case runs in a fresh node process: the flag is process-wide and the young generation only grows.
const CHILD = `
const v8 = require('node:v8');
const { releaseYoungGeneration } = require(${JSON.stringify(join(__dirname, 'boot-heap.js'))});
const youngBytes = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
// Bursts of objects that survive a scavenge or two, as start-up makes: what makes V8 grow the young generation.
const churn = () => { let keep = []; for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1e5) keep = []; } };
churn();
const held = youngBytes();
releaseYoungGeneration();
churn();
process.stdout.write(JSON.stringify({ held, released: youngBytes() }));
`;

function run(nodeArgs: string[]): { held: number; released: number } {
  return JSON.parse(execFileSync(process.execPath, [...nodeArgs, '-e', CHILD], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
}

const MiB = 2 ** 20;

describe('boot-heap', () => {
  it('keeps the young generation at its initial size until released, then lets it grow as V8 would', () => {
    const { held, released } = run([]);
    assert.ok(held <= 4 * MiB, `held young generation ${held / MiB} MiB`);
    assert.ok(released >= 4 * held, `after release ${released / MiB} MiB (held ${held / MiB} MiB)`);
  });

  it("leaves a user's own semi-space flags alone", () => {
    const { held } = run(['--max-semi-space-size=8']);
    assert.ok(held > 4 * MiB, `young generation ${held / MiB} MiB with --max-semi-space-size=8`);
  });
});
