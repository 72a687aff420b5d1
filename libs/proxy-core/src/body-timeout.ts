import type { IncomingMessage, ServerResponse } from 'node:http';
import { noteMesherError, writeMesherError } from './error-map';
import { requestHasBody } from './request-body';

interface Watch {
  req: IncomingMessage;
  res: ServerResponse;
  bytesRead: number;
  since: number;
}

/**
 * Request body idle timeout for one listener: a client whose body stops arriving for `idleMs` gets 408
 * REQUEST_TIMEOUT (or, once a response has started, a cut connection); either way the response closes,
 * which makes the handler destroy its upstream request. Node has no such timeout (`requestTimeout`
 * bounds the whole request, which would cut long uploads), so bodies are watched here.
 *
 * One sweep timer per listener instead of a timer per request; progress is read from the socket's byte
 * counter, which moves even though Node's parser consumes the socket natively. A body that stops
 * because *we* stopped reading it (backpressure from a slow upstream: the socket is paused or the
 * request's buffer is full) is not the client's fault and does not count as idle.
 */
export class BodyIdleTimer {
  private readonly watched = new Set<Watch>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sweepMs: number;
  /** Requests answered 408 or cut because their body stalled. */
  timedOut = 0;

  constructor(
    readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweepMs = Math.min(1000, Math.max(25, Math.floor(idleMs / 4)));
  }

  /** Watches the body of `req` until it is complete or the response is over; bodiless requests cost nothing. */
  watch(req: IncomingMessage, res: ServerResponse): void {
    if (this.idleMs <= 0 || req.complete || !requestHasBody(req)) return;
    const w: Watch = { req, res, bytesRead: req.socket.bytesRead, since: this.now() };
    this.watched.add(w);
    // Released with its exchange, not at the next sweep: under load a second of finished requests is a lot of memory.
    res.once('close', () => this.watched.delete(w));
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepMs);
      this.sweepTimer.unref();
    }
  }

  /** Requests whose body is being watched now. */
  get size(): number {
    return this.watched.size;
  }

  sweep(): void {
    const t = this.now();
    for (const w of this.watched) {
      const { req, res } = w;
      if (req.complete || res.writableEnded || res.destroyed || req.destroyed) {
        this.watched.delete(w);
        continue;
      }
      const socket = req.socket;
      const read = socket.bytesRead;
      if (read !== w.bytesRead || socket.isPaused() || req.readableLength >= req.readableHighWaterMark) {
        w.bytesRead = read;
        w.since = t;
        continue;
      }
      if (t - w.since < this.idleMs) continue;
      this.watched.delete(w);
      this.expire(req, res);
    }
    if (this.watched.size === 0) this.stop();
  }

  private expire(req: IncomingMessage, res: ServerResponse): void {
    this.timedOut++;
    if (res.headersSent) {
      // A response is under way: a second status line is impossible, cutting is the honest signal.
      noteMesherError(res, 'REQUEST_TIMEOUT');
      res.destroy();
      return;
    }
    res.shouldKeepAlive = false;
    writeMesherError(res, 'REQUEST_TIMEOUT', `request body stalled: no data for ${this.idleMs} ms`, 408, { connection: 'close' });
    // Node ends the connection after this response; a client that reads nothing must not keep it.
    const socket = req.socket;
    setTimeout(() => socket.destroy(), 5000).unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}
