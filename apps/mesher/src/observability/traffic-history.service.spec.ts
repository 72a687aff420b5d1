import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrafficStats } from '@mesher/observability';
import { openDataSource, TrafficHistoryStore } from '@mesher/persistence';
import { TrafficHistoryWriter } from './traffic-history.service';

const MIN = 60_000;

test('rollups reach SQLite after a minute boundary and are pruned after the retention (injected clock)', async () => {
  const ds = await openDataSource(fs.mkdtempSync(path.join(os.tmpdir(), 'hist-')));
  try {
    const stats = new TrafficStats();
    const store = new TrafficHistoryStore(ds);
    const writer = new TrafficHistoryWriter(stats, store, 10 * MIN);
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN); // a minute boundary
    for (let i = 0; i < 100; i++) {
      stats.record({ source: 'web', destination: 'cart', instanceId: 'i1', status: i < 10 ? 503 : 200, durationMs: 20, error: i < 10 }, t0 + i * 100);
    }
    // Still inside the minute: nothing is complete yet.
    assert.equal(await writer.flush(t0 + 30_000), 0);
    assert.deepEqual(await store.query(t0 - MIN, t0 + MIN), []);
    // Past the boundary the minute is written once.
    assert.equal(await writer.flush(t0 + MIN + 1000), 1);
    assert.equal(await writer.flush(t0 + MIN + 2000), 0);
    const rows = await store.query(t0, t0 + MIN, 'cart');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].minute, t0);
    assert.equal(rows[0].source, 'web');
    assert.equal(rows[0].requests, 100);
    assert.equal(rows[0].errors, 10);
    assert.ok(Math.abs(rows[0].p50 - 20) < 1, `p50 ${rows[0].p50}`);
    assert.deepEqual(await store.query(t0, t0 + MIN, 'other'), []);
    // Within retention nothing goes; after it, the row is pruned.
    assert.equal(await writer.prune(t0 + 5 * MIN), 0);
    assert.equal(await writer.prune(t0 + 11 * MIN), 1);
    assert.deepEqual(await store.query(t0 - MIN, t0 + MIN), []);
  } finally {
    await ds.destroy();
  }
});
