import { openSync } from 'node:fs';
import type { pino as Pino } from 'pino';

type PinoModule = { pino: typeof Pino };
let loaded: PinoModule | null = null;
/** Loaded with the first enabled access log: a Mesher without one does not pay pino's ~5 MB of RSS. */
const pinoModule = (): PinoModule => (loaded ??= require('pino') as PinoModule);

/**
 * Access log: one JSON line per proxied request, written through pino to an asynchronous sonic-boom
 * destination. Lines are buffered and written by libuv in the background, so log() costs one
 * serialisation and never waits on the disk or the stdout pipe. pino flushes the buffer on process exit.
 */

export interface AccessLogEntry {
  /** Epoch ms when the request arrived. */
  time: number;
  requestId: string;
  direction: 'outbound' | 'inbound' | 'edge';
  method: string;
  path: string;
  source: string;
  destination: string;
  route: string | null;
  instance: string | null;
  attempts: number;
  status: number;
  bytes: number;
  durationMs: number;
  /** Mesher error code when Mesher produced the response itself. */
  code: string | null;
}

export interface AccessLogOptions {
  enabled: boolean;
  /** File path (opened for appending at creation, throws if it cannot be) or file descriptor; default 1 = stdout. */
  destination?: string | number;
  /** pino level threshold; lines are written at 'info', so 'warn' or 'silent' mute them. Default 'info'. */
  level?: string;
  /** Write errors; they never throw into the request path. Default: ignored. */
  onError?: (err: Error) => void;
}

export interface AccessLog {
  readonly enabled: boolean;
  /** Lines dropped because the destination fell more than 16 MiB behind. */
  readonly dropped: number;
  log(entry: AccessLogEntry): void;
  /** Resolves once everything logged so far has been handed to the OS. */
  flush(): Promise<void>;
  /** Flushes, then closes the destination (a given fd too, except 1 and 2); later log() calls are ignored. */
  close(): Promise<void>;
}

/** Bytes buffered before a write is issued: fewer, larger writes under load. */
const MIN_WRITE = 4096;
/** Buffer cap if the destination stalls: beyond it lines are dropped rather than growing the heap. */
const MAX_BUFFER = 16 * 1024 * 1024;
/** fsync is not supported on pipes and terminals; the data was still written. */
const FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP']);

const DISABLED: AccessLog = Object.freeze({
  enabled: false,
  dropped: 0,
  log(): void {},
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
});

export function createAccessLog(opts: AccessLogOptions): AccessLog {
  if (!opts.enabled) return DISABLED;

  const { pino } = pinoModule();
  const level = opts.level ?? 'info';
  if (level !== 'silent' && !Object.hasOwn(pino.levels.values, level)) throw new Error(`access log: unknown level '${level}'`);
  // A path is opened here, synchronously, once at start-up: a bad path fails the boot with a clear
  // message instead of surfacing later as an async error on a stream that never became ready.
  const dest = opts.destination ?? 1;
  const fd = typeof dest === 'number' ? dest : openForAppend(dest);
  const stream = pino.destination({ dest: fd, sync: false, minLength: MIN_WRITE, maxLength: MAX_BUFFER });
  stream.on('error', (err: Error) => opts.onError?.(err));
  let dropped = 0;
  // sonic-boom emits one 'drop' per refused write, i.e. per line.
  stream.on('drop', () => dropped++);

  const logger = pino(
    {
      level,
      // No pid/hostname and no pino timestamp: `time` is the entry's own.
      base: null,
      timestamp: false,
      // Replaces pino's level field with a marker, so access lines sharing stdout with other logs can be
      // routed by a collector. (The level formatter is the only way to lead the line with a fixed field.)
      formatters: { level: () => ({ log: 'access' }) },
    },
    stream,
  );

  let closed: Promise<void> | null = null;

  const flush = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      stream.flush((err?: Error) => {
        if (err && !FSYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) reject(err);
        else resolve();
      });
    });

  return {
    enabled: true,
    get dropped() {
      return dropped;
    },
    log(entry: AccessLogEntry): void {
      if (closed === null) logger.info(entry);
    },
    flush: () => (closed === null ? flush() : closed),
    close(): Promise<void> {
      closed ??= (async () => {
        await flush().catch(() => undefined);
        await new Promise<void>((resolve) => {
          stream.once('close', () => resolve());
          stream.once('error', () => resolve());
          stream.end();
        });
      })();
      return closed;
    },
  };
}

function openForAppend(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (err) {
    throw new Error(`access log: cannot open '${path}' for appending: ${(err as Error).message}`);
  }
}
