import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { api, viaProxy, type HttpResult } from './support/http-client';
import fc from 'fast-check';
import { hostileBody } from './support/admin-arbitraries';
import { sleep } from './support/load';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

type ErrorBody = { statusCode: number; code: string; message: string };
type Ready = { message?: string; details: Record<string, { status: string; message?: string }> };

/** Liveness bound for one proxied request while the store is in trouble (not a speed target). */
const LIVE_MS = 1000;

/**
 * A client that keeps calling through the proxy until stopped, recording every outcome: the data plane must go on
 * serving from memory whatever happens to the SQLite file.
 */
function probe(proxy: string, url: string) {
  const results: Array<{ status: number; ms: number; at: number; error?: string }> = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const t0 = Date.now();
      try {
        const r = await viaProxy(proxy, 'GET', `${url}?probe=${i}`, { timeoutMs: 5000 });
        results.push({ status: r.status, ms: Date.now() - t0, at: Date.now() });
      } catch (e) {
        results.push({ status: 0, ms: Date.now() - t0, at: Date.now(), error: (e as Error).message });
      }
      await sleep(10);
    }
  })();
  return {
    results,
    async stop() {
      running = false;
      await done;
      return results;
    },
  };
}

function assertAllServed(results: ReadonlyArray<{ status: number; ms: number; error?: string }>, what: string, atLeast: number): void {
  assert.ok(results.length >= atLeast, `${what}: only ${results.length} probe requests completed`);
  const bad = results.filter((r) => r.status !== 200 || r.ms >= LIVE_MS);
  assert.deepEqual(bad, [], `${what}: every probe request is answered 200 within ${LIVE_MS} ms`);
}

const ready = async (admin: string) => {
  const r = await api(admin, 'GET', '/health/ready');
  return { status: r.status, body: r.json<Ready>() };
};

async function register(admin: string, up: Upstream): Promise<void> {
  const r = await api(admin, 'POST', '/v1/services/cart/instances', { endpoint: up.url, version: '1.0.0' });
  assert.equal(r.status, 201, r.body);
}

/** Holds another connection's write lock on the Mesher's database file, as a second process would. */
function lockFile(dataDir: string): Database.Database {
  const db = new Database(path.join(dataDir, 'mesher.db'), { timeout: 2000 });
  db.exec('BEGIN EXCLUSIVE');
  return db;
}

describe('store faults: the data plane keeps serving, admin writes fail clearly', () => {
  let up: Upstream;

  before(async () => {
    up = await startUpstream('app');
  });
  after(async () => {
    await up?.close();
  });

  describe('a lock held by another connection', () => {
    let m: MesherProcess;

    before(async () => {
      m = await startMesher();
      await register(m.admin, up);
    });
    after(async () => {
      await m?.stop();
    });

    test('held 2 s: proxied requests go on; an admin write waits on timers and succeeds once the lock is released', async () => {
      const p = probe(m.proxy, 'http://cart/locked');
      await sleep(200);
      const db = lockFile(m.dataDir);
      let releasedAt = 0;
      try {
        const write = api(m.admin, 'POST', '/v1/services', { name: 'during-lock' }).then((r) => ({ r, at: Date.now() }));
        // Admin reads are not blocked by a writer (WAL).
        const read = await api(m.admin, 'GET', '/v1/services/cart');
        assert.equal(read.status, 200, read.body);
        await sleep(2000);
        db.exec('ROLLBACK');
        releasedAt = Date.now();
        const { r, at } = await write;
        assert.equal(r.status, 201, r.body);
        assert.ok(at >= releasedAt, 'the write completed after the lock was released, not before');
      } finally {
        if (db.inTransaction) db.exec('ROLLBACK');
        db.close();
      }
      const results = await p.stop();
      assertAllServed(results.filter((x) => x.at <= releasedAt), 'during the lock', 5);
      assertAllServed(results, 'overall', 5);
      assert.equal((await api(m.admin, 'GET', '/v1/services/during-lock')).status, 200);
      assert.equal((await ready(m.admin)).status, 200);
    });

    test('held past the retry deadline: the write gets 503 UNAVAILABLE, readiness says why, both recover when it is released', async () => {
      const p = probe(m.proxy, 'http://cart/long-lock');
      const db = lockFile(m.dataDir);
      try {
        const r = await api(m.admin, 'POST', '/v1/services', { name: 'too-late' });
        assert.equal(r.status, 503, r.body);
        const e = r.json<ErrorBody>();
        assert.equal(e.statusCode, 503);
        assert.equal(e.code, 'UNAVAILABLE');
        assert.match(e.message, /^the registry database is locked by another process: gave up after 5s/);
        const rd = await ready(m.admin);
        assert.equal(rd.status, 503);
        assert.equal(rd.body.details.registry.status, 'down');
        assert.match(rd.body.details.registry.message!, /locked by another process/);
        assert.equal(rd.body.details.proxy.status, 'up');
        assert.match(rd.body.message!, /^not ready: registry: the registry database is locked/);
      } finally {
        db.exec('ROLLBACK');
        db.close();
      }
      assertAllServed(await p.stop(), 'during a lock past the deadline', 5);
      assert.equal((await ready(m.admin)).status, 200, 'readiness recovers once nobody holds the lock');
      assert.equal((await api(m.admin, 'GET', '/v1/services/too-late')).status, 404, 'the refused write left nothing');
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'after-lock' })).status, 201);
    });

    /** Bounded soak: lock / unlock / hostile admin input in a loop while a probe keeps succeeding. */
    test('fault soak (15 s): the process never exits, every probe request is served, every write ends well', async (t) => {
      const p = probe(m.proxy, 'http://cart/soak');
      // Seeded hostile route bodies, five per lock cycle.
      const hostile = fc.sample(hostileBody(['service', 'precedence', 'route', 'match', 'tags', 'weight']), { seed: 0xfa17, numRuns: 250 });
      const until = Date.now() + 15_000;
      let cycles = 0;
      const statuses: Record<string, number> = {};
      const count = (r: HttpResult) => (statuses[r.status] = (statuses[r.status] ?? 0) + 1);
      while (Date.now() < until - 2000 && cycles < 50) {
        const db = lockFile(m.dataDir);
        let w: Promise<HttpResult>;
        try {
          w = api(m.admin, 'PUT', '/v1/policies/cart', { timeout: { requestMs: 1000 + cycles } });
          for (let i = 0; i < 5; i++) {
            const bad = await api(m.admin, 'POST', '/v1/routes', hostile[(cycles * 5 + i) % hostile.length]);
            count(bad);
            assert.ok(bad.status >= 400 && bad.status < 500, `hostile route body -> ${bad.status} ${bad.body.slice(0, 200)}`);
          }
          await sleep(1000);
        } finally {
          db.exec('ROLLBACK');
          db.close();
        }
        const r = await w;
        count(r);
        assert.equal(r.status, 200, `write during lock ${cycles}: ${r.body}`);
        assert.equal(m.proc.exitCode, null);
        cycles++;
        await sleep(200);
      }
      const results = await p.stop();
      t.diagnostic(`${cycles} lock cycles, ${results.length} probe requests (slowest ${Math.max(...results.map((x) => x.ms))} ms), admin statuses ${JSON.stringify(statuses)}`);
      assertSoak(m, cycles, results, statuses);
      assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200);
      assert.equal((await ready(m.admin)).status, 200);
      const policy = await api(m.admin, 'GET', '/v1/policies/cart');
      assert.equal(policy.json<{ spec: { timeout: { requestMs: number } } }>().spec.timeout.requestMs, 1000 + cycles - 1, 'the last write under a lock is the one in the store');
    });
  });

  test('a read-only database file: Mesher starts and routes from it; writes get 503, readiness says read-only', async () => {
    const dataDir = tempDir();
    // As root, file modes do not stop writes: run Mesher as nobody, as a real deployment would run it unprivileged.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (asUser.uid !== undefined) fs.chownSync(dataDir, asUser.uid, asUser.gid!);
    let m = await startMesher([], { dataDir, ...asUser });
    await register(m.admin, up);
    assert.equal(await m.stop(), 0);
    const file = path.join(dataDir, 'mesher.db');
    fs.chmodSync(file, 0o444);
    m = await startMesher([], { dataDir, ...asUser });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await viaProxy(m.proxy, 'GET', `http://cart/ro-${i}`);
        assert.equal(r.status, 200, r.body);
      }
      assert.equal((await api(m.admin, 'GET', '/v1/services/cart')).status, 200);
      const rd = await ready(m.admin);
      assert.equal(rd.status, 503, 'readiness reports it before any write fails');
      assert.match(rd.body.details.registry.message!, /is read-only/);
      const w = await api(m.admin, 'POST', '/v1/services', { name: 'nope' });
      assert.equal(w.status, 503, w.body);
      const e = w.json<ErrorBody>();
      assert.equal(e.code, 'UNAVAILABLE');
      assert.equal(e.message, `the registry database ${file} is read-only (attempt to write a readonly database): fix its permissions or file system and restart Mesher; routing goes on from memory`);
      assert.equal((await viaProxy(m.proxy, 'GET', 'http://cart/ro-after')).status, 200);
    } finally {
      await m.stop();
    }
  });

  describe('a full file system (a 1 MiB tmpfs)', () => {
    const mnt = tempDir('mesher-tmpfs-');
    let mounted = false;
    let m: MesherProcess | undefined;

    before(() => {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
      mounted = r.status === 0;
    });
    after(async () => {
      await m?.stop();
      if (mounted && spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
    });

    test('writes get 507 STORAGE_FULL, readiness is down, routing goes on; freeing space recovers both', async (t) => {
      if (!mounted) {
        // max_page_count is per connection, so it cannot stand in for another process's full disk; the unit test
        // in libs/persistence/src/sqlite-faults.spec.ts covers SQLITE_FULL that way instead.
        t.skip('mount -t tmpfs is not permitted here');
        return;
      }
      m = await startMesher([], { dataDir: path.join(mnt, 'data') });
      await register(m.admin, up);
      // Fill the file system: big chunks, then small ones, until ENOSPC.
      const filler = path.join(mnt, 'filler');
      const fd = fs.openSync(filler, 'w');
      for (const size of [65_536, 4096, 512, 1]) {
        const chunk = Buffer.alloc(size);
        for (let i = 0; i < 10_000; i++) {
          try {
            fs.writeSync(fd, chunk);
          } catch {
            break;
          }
        }
      }
      fs.closeSync(fd);
      const p = probe(m.proxy, 'http://cart/full');
      let refused: HttpResult | undefined;
      for (let i = 0; i < 50 && !refused; i++) {
        const r = await api(m.admin, 'POST', '/v1/services', { name: `fill-${i}`, description: 'x'.repeat(1500) });
        if (r.status !== 201) refused = r;
      }
      assert.ok(refused, 'a write was refused once the disk was full');
      assert.equal(refused.status, 507, refused.body);
      const e = refused.json<ErrorBody>();
      assert.equal(e.statusCode, 507);
      assert.equal(e.code, 'STORAGE_FULL');
      assert.match(e.message, /^no space left for the registry database .*mesher\.db \(database or disk is full\): free some disk space/);
      const rd = await ready(m.admin);
      assert.equal(rd.status, 503);
      assert.match(rd.body.details.registry.message!, /no space left/);
      assert.equal(rd.body.details.proxy.status, 'up');
      // Let the probe run a while with the disk full (bounded).
      for (let i = 0; i < 200 && p.results.length < 20; i++) await sleep(20);
      assertAllServed(await p.stop(), 'with the disk full', 20);
      fs.rmSync(filler);
      const again = await api(m.admin, 'POST', '/v1/services', { name: 'after-free' });
      assert.equal(again.status, 201, again.body);
      assert.equal((await ready(m.admin)).status, 200, 'a write that succeeds clears the fault');
      assert.equal(m.proc.exitCode, null);
    });
  });

  test('a garbage file at boot: a clear message and a non-zero exit', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'mesher.db');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) % 256)));
    const r = await runMesher(['start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `mesher: cannot start: the registry database ${file} is not a valid SQLite file: file is not a database (move it away to start with an empty registry, or restore a backup)`,
    );
    assert.doesNotMatch(r.stdout, /mesher started/);
  });
});

function assertSoak(m: MesherProcess, cycles: number, results: Array<{ status: number; ms: number; error?: string }>, statuses: Record<string, number>): void {
  assert.ok(cycles >= 5, `only ${cycles} lock cycles ran`);
  assert.equal(m.proc.exitCode, null, 'the process never exited');
  assert.equal(m.proc.signalCode, null);
  assertAllServed(results, 'during the soak', 20);
  assert.ok((statuses['200'] ?? 0) === cycles, `statuses ${JSON.stringify(statuses)}`);
}
