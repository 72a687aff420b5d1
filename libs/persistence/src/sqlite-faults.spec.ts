import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { AdminError } from '@mesher/contracts';
import { openDataSource } from './data-source';
import { checkDatabaseFile, faultKind, isWriteLocked, readOnlyFault, retryWhileLocked, storeFaultError, WriteQueue } from './sqlite-faults';
import { SqliteRegistryStore } from './sqlite-registry.store';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
/** The shape TypeORM gives a driver failure: QueryFailedError with the driver's error inside. */
const wrapped = (code: string, message: string) => Object.assign(new Error(`SqliteError: ${message}`), { driverError: { code, message } });

/** A clock that only moves when the code under test sleeps. */
function fakeTime() {
  let t = 1_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

describe('store fault classification', () => {
  test('primary and extended result codes map to a fault kind, direct or wrapped by TypeORM', () => {
    assert.equal(faultKind(busy()), 'locked');
    assert.equal(faultKind(wrapped('SQLITE_BUSY_SNAPSHOT', 'x')), 'locked');
    assert.equal(faultKind(wrapped('SQLITE_LOCKED', 'x')), 'locked');
    assert.equal(faultKind(wrapped('SQLITE_READONLY_DBMOVED', 'x')), 'readonly');
    assert.equal(faultKind(wrapped('SQLITE_FULL', 'x')), 'full');
    assert.equal(faultKind(wrapped('SQLITE_IOERR_WRITE', 'x')), 'io');
    assert.equal(faultKind(wrapped('SQLITE_NOTADB', 'x')), 'corrupt');
    assert.equal(faultKind(wrapped('SQLITE_CONSTRAINT_UNIQUE', 'x')), null);
    assert.equal(faultKind(new AdminError('NOT_FOUND', 'no')), null);
    assert.equal(faultKind(null), null);
  });

  test('a full disk is STORAGE_FULL (507); locked and read-only are UNAVAILABLE (503), each with a clear message', () => {
    const full = storeFaultError(wrapped('SQLITE_FULL', 'database or disk is full'), '/d/mesher.db')!;
    assert.equal(full.code, 'STORAGE_FULL');
    assert.match(full.message, /no space left for the registry database \/d\/mesher\.db \(database or disk is full\)/);
    const locked = storeFaultError(busy(), '/d/mesher.db')!;
    assert.equal(locked.code, 'UNAVAILABLE');
    assert.match(locked.message, /^the registry database is locked by another process: gave up after 5s/);
    const ro = storeFaultError(wrapped('SQLITE_READONLY', 'attempt to write a readonly database'), '/d/mesher.db')!;
    assert.equal(ro.code, 'UNAVAILABLE');
    assert.match(ro.message, /\/d\/mesher\.db is read-only \(attempt to write a readonly database\)/);
    assert.equal(storeFaultError(new Error('other'), '/d/mesher.db'), null);
  });
});

describe('retryWhileLocked (injected clock and sleep)', () => {
  const timing = { deadlineMs: 1000, firstDelayMs: 10, maxDelayMs: 80 };

  test('retries a busy attempt with doubling, capped delays until it succeeds', async () => {
    const t = fakeTime();
    let calls = 0;
    const out = await retryWhileLocked(async () => (++calls < 6 ? Promise.reject(busy()) : 'done'), timing, t.now, t.sleep);
    assert.equal(out, 'done');
    assert.equal(calls, 6);
    assert.deepEqual(t.sleeps, [10, 20, 40, 80, 80]);
  });

  test('gives up at the deadline with the last busy error, never sleeping past it', async () => {
    const t = fakeTime();
    let calls = 0;
    await assert.rejects(
      retryWhileLocked(async () => Promise.reject(Object.assign(busy(), { n: ++calls })), timing, t.now, t.sleep),
      (e: { code: string; n: number }) => e.code === 'SQLITE_BUSY' && e.n === calls,
    );
    assert.equal(t.sleeps.reduce((a, b) => a + b, 0), 1000);
    assert.ok(calls > 10 && calls < 20, `attempts ${calls}`);
  });

  test('any other failure goes to the caller at once', async () => {
    const t = fakeTime();
    let calls = 0;
    await assert.rejects(
      retryWhileLocked(async () => {
        calls++;
        throw new AdminError('CONFLICT', 'taken');
      }, timing, t.now, t.sleep),
      /taken/,
    );
    assert.equal(calls, 1);
    assert.deepEqual(t.sleeps, []);
  });
});

test('WriteQueue runs one job at a time, in order, and a failed job does not block the next', async () => {
  const q = new WriteQueue();
  const log: string[] = [];
  const job = (name: string, fail = false) => async () => {
    log.push(`start ${name}`);
    await new Promise((r) => setImmediate(r));
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([q.run(job('a')), q.run(job('b', true)), q.run(job('c'))]);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});

describe('on real files', () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mesher-faults-'));

  test('checkDatabaseFile: a missing or valid file passes; garbage is refused with a message naming the file', () => {
    const d = dir();
    const file = path.join(d, 'mesher.db');
    checkDatabaseFile(file);
    const db = new Database(file);
    db.exec('CREATE TABLE t(a)');
    db.close();
    checkDatabaseFile(file);
    fs.writeFileSync(file, Buffer.from('this is not a database at all, just text '.repeat(200)));
    assert.throws(() => checkDatabaseFile(file), (e: Error) => {
      assert.match(e.message, new RegExp(`^the registry database ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a valid SQLite file: file is not a database`));
      assert.match(e.message, /move it away/);
      return true;
    });
  });

  test('readOnlyFault: nothing for a writable or missing file', () => {
    const d = dir();
    const file = path.join(d, 'mesher.db');
    assert.equal(readOnlyFault(file), null);
    fs.writeFileSync(file, '');
    assert.equal(readOnlyFault(file), null);
  });

  test('a write meeting another connection\'s lock waits on timers and succeeds once it is released', async () => {
    const d = dir();
    const ds = await openDataSource(d);
    const store = new SqliteRegistryStore(ds);
    const other = new Database(path.join(d, 'mesher.db'));
    try {
      other.exec('BEGIN EXCLUSIVE');
      assert.equal(isWriteLocked(path.join(d, 'mesher.db')), true);
      // The event loop keeps turning while the write waits: count timer ticks meanwhile.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const write = store.createService({ name: 'cart', app: null, description: null }, 'test');
      await new Promise((r) => setTimeout(r, 400));
      other.exec('COMMIT');
      assert.deepEqual(await write, { name: 'cart', app: null, description: null });
      clearInterval(ticker);
      assert.ok(ticks >= 10, `the loop ran ${ticks} timer ticks during the lock`);
      assert.equal(isWriteLocked(path.join(d, 'mesher.db')), false);
      assert.deepEqual(await store.getService('cart'), { name: 'cart', app: null, description: null });
      await store.ping();
    } finally {
      other.close();
      await store.close();
    }
  });

  test('a lock that outlasts the deadline gives UNAVAILABLE, readiness (ping) fails until the lock is gone', async () => {
    const d = dir();
    const ds = await openDataSource(d);
    const store = new SqliteRegistryStore(ds, Date.now, { deadlineMs: 300, firstDelayMs: 10, maxDelayMs: 50 });
    const other = new Database(path.join(d, 'mesher.db'));
    try {
      other.exec('BEGIN EXCLUSIVE');
      await assert.rejects(store.createService({ name: 'cart', app: null, description: null }, 'test'), (e: AdminError) => {
        assert.equal(e.code, 'UNAVAILABLE');
        assert.match(e.message, /^the registry database is locked by another process: gave up after 0\.3s \(database is locked\)/);
        return true;
      });
      // Reads still work under the lock (WAL).
      assert.equal((await store.loadState()).services.length, 0);
      await assert.rejects(store.ping(), /locked by another process/);
      other.exec('ROLLBACK');
      await store.ping();
      assert.equal((await store.createService({ name: 'cart', app: null, description: null }, 'test')).name, 'cart');
    } finally {
      other.close();
      await store.close();
    }
  });

  test('a full database gives STORAGE_FULL; ping reports it until a write succeeds again', async () => {
    const d = dir();
    const ds = await openDataSource(d);
    const store = new SqliteRegistryStore(ds);
    try {
      const pages = (await ds.query('PRAGMA page_count')) as Array<{ page_count: number }>;
      // max_page_count caps this connection's file: the next page it needs fails with SQLITE_FULL.
      await ds.query(`PRAGMA max_page_count = ${pages[0].page_count}`);
      const failures: AdminError[] = [];
      for (let i = 0; i < 200 && failures.length === 0; i++) {
        await store.createService({ name: `svc-${i}`, app: null, description: 'x'.repeat(2000) }, 'test').catch((e: AdminError) => failures.push(e));
      }
      assert.equal(failures.length, 1, 'a write failed');
      const err = failures[0];
      assert.equal(err.code, 'STORAGE_FULL');
      assert.match(err.message, /no space left for the registry database .*mesher\.db \(database or disk is full\)/);
      await assert.rejects(store.ping(), /no space left/);
      await ds.query('PRAGMA max_page_count = 1073741823');
      await store.createService({ name: 'after', app: null, description: null }, 'test');
      await store.ping();
    } finally {
      await store.close();
    }
  });
});
