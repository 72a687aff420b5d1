import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { AdminError } from '@mesher/contracts';

/**
 * better-sqlite3 is synchronous: while SQLite waits for a lock (busy_timeout) the whole event loop waits, proxy
 * included. So the connection waits only briefly, and writes that meet a lock are retried with timers instead.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 50;

export interface RetryTiming {
  /** Give up this long after the first attempt. */
  deadlineMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const WRITE_RETRY: RetryTiming = { deadlineMs: 5000, firstDelayMs: 10, maxDelayMs: 200 };

export type StoreFaultKind = 'locked' | 'readonly' | 'full' | 'io' | 'corrupt';

/** The SQLite result code of a failure, e.g. SQLITE_BUSY_SNAPSHOT (TypeORM copies it onto QueryFailedError). */
export function sqliteCode(e: unknown): string | null {
  const direct = (e as { code?: unknown } | null)?.code;
  const inner = (e as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  const code = typeof direct === 'string' ? direct : inner;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
}

/** What kind of store fault this is, from the primary result code (SQLITE_READONLY_DBMOVED -> readonly). */
export function faultKind(e: unknown): StoreFaultKind | null {
  const code = sqliteCode(e);
  if (!code) return null;
  switch (code.split('_').slice(0, 2).join('_')) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'locked';
    case 'SQLITE_READONLY':
      return 'readonly';
    case 'SQLITE_FULL':
      return 'full';
    case 'SQLITE_IOERR':
    case 'SQLITE_CANTOPEN':
      return 'io';
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return 'corrupt';
    default:
      return null;
  }
}

const driverMessage = (e: unknown): string => {
  const inner = (e as { driverError?: { message?: unknown } } | null)?.driverError?.message;
  return typeof inner === 'string' ? inner : (e as Error)?.message ?? String(e);
};

/** The admin error (503, or 507 for a full disk) for a store fault; null when `e` is not one. */
export function storeFaultError(e: unknown, file: string, timing: RetryTiming = WRITE_RETRY): AdminError | null {
  const kind = faultKind(e);
  const why = driverMessage(e);
  switch (kind) {
    case null:
      return null;
    case 'locked':
      return new AdminError('UNAVAILABLE', `the registry database is locked by another process: gave up after ${timing.deadlineMs / 1000}s (${why}); try again`);
    case 'readonly':
      return new AdminError('UNAVAILABLE', `the registry database ${file} is read-only (${why}): fix its permissions or file system and restart Mesher; routing goes on from memory`);
    case 'full':
      return new AdminError('STORAGE_FULL', `no space left for the registry database ${file} (${why}): free some disk space and try again; routing goes on from memory`);
    case 'io':
      return new AdminError('UNAVAILABLE', `the registry database ${file} cannot be written (${why}); routing goes on from memory`);
    case 'corrupt':
      return new AdminError('UNAVAILABLE', `the registry database ${file} is damaged (${why}): restore a backup and restart Mesher; routing goes on from memory`);
  }
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it stops failing with SQLITE_BUSY/SQLITE_LOCKED or the deadline passes, sleeping on timers
 * (doubling up to maxDelayMs) in between; any other outcome, and the last busy error, goes to the caller.
 */
export async function retryWhileLocked<T>(
  attempt: () => Promise<T>,
  timing: RetryTiming = WRITE_RETRY,
  now: () => number = Date.now,
  sleep: (ms: number) => Promise<void> = realSleep,
): Promise<T> {
  const deadline = now() + timing.deadlineMs;
  let delay = timing.firstDelayMs;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (faultKind(e) !== 'locked') throw e;
      const left = deadline - now();
      if (left <= 0) throw e;
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, timing.maxDelayMs);
    }
  }
}

/**
 * One write transaction at a time per connection. TypeORM's better-sqlite3 driver shares one connection and
 * nests an overlapping transaction() as a savepoint of the other, so a rollback of one would undo both.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

const queues = new WeakMap<object, WriteQueue>();

/** The write queue of one connection, shared by every store that writes through it. */
export function writeQueueOf(connection: object): WriteQueue {
  let q = queues.get(connection);
  if (!q) queues.set(connection, (q = new WriteQueue()));
  return q;
}

/**
 * SQLite quietly opens a file it may not write read-only; every write then fails. Said at open time, so readiness
 * reports it before the first write does. A missing file (or ':memory:') is not read-only.
 */
export function readOnlyFault(file: string): { kind: StoreFaultKind; message: string } | null {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return { kind: 'readonly', message: storeFaultError({ code: 'SQLITE_READONLY', message: `cannot write the file: ${code}` }, file)!.message };
  }
}

/** A non-blocking look at whether another connection holds the write lock right now. */
export function isWriteLocked(file: string): boolean {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return false;
  } catch (e) {
    return faultKind(e) === 'locked';
  } finally {
    db?.close();
  }
}

/**
 * Refuses to start on a file that is not an SQLite database (or is damaged), with a message that says what to do,
 * before TypeORM gets to it. A missing file is fine: it is created.
 */
export function checkDatabaseFile(file: string): void {
  if (!fs.existsSync(file)) return;
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
    const rows = db.pragma('quick_check(1)') as Array<{ quick_check: string }>;
    const verdict = rows[0]?.quick_check ?? 'no answer';
    if (verdict !== 'ok') throw Object.assign(new Error(verdict), { code: 'SQLITE_CORRUPT' });
  } catch (e) {
    const kind = faultKind(e);
    if (kind === 'corrupt') {
      throw new Error(
        `the registry database ${file} is not a valid SQLite file: ${(e as Error).message} ` +
          '(move it away to start with an empty registry, or restore a backup)',
      );
    }
    // Locks, permissions and the like are not corruption: TypeORM's open reports them, or they degrade later.
    if (kind === null) throw e;
  } finally {
    db?.close();
  }
}
