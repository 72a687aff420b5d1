import { ApiError, get } from './api';
import { authHeaders, reportUnauthorized } from './auth';
import type { TrafficSnapshot } from './types';

/**
 * Live traffic for every page: the SSE stream read with fetch (EventSource cannot send the bearer header),
 * falling back to polling GET /v1/traffic, and to "unavailable" when this Mesher has no traffic API (404).
 * Keeps the last few minutes of snapshots so the live charts have a past when a page opens.
 */

export type FeedStatus = 'connecting' | 'live' | 'polling' | 'unavailable' | 'offline';

const KEEP = 300; // snapshots, one per second: five minutes of live charts
const RETRY_MS = [1000, 2000, 5000, 10_000];
const UNAVAILABLE_RECHECK_MS = 30_000;
const POLL_MS = 2000;

type Listener = () => void;

class TrafficFeed {
  latest: TrafficSnapshot | null = null;
  readonly history: TrafficSnapshot[] = [];
  status: FeedStatus = 'connecting';
  detail = '';
  private readonly listeners = new Set<Listener>();
  private abort: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private running = false;

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    if (!this.running) this.start();
    return () => this.listeners.delete(fn);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** Stops everything (on 401, until the user logs in again). */
  stop(): void {
    this.running = false;
    this.abort?.abort();
    this.abort = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  restart(): void {
    this.stop();
    this.start();
  }

  private set(status: FeedStatus, detail = ''): void {
    if (status === this.status && detail === this.detail) return;
    this.status = status;
    this.detail = detail;
    this.emit();
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  private push(snap: TrafficSnapshot): void {
    if (!snap || !Array.isArray(snap.edges)) return;
    snap.instances ??= [];
    this.latest = snap;
    this.history.push(snap);
    if (this.history.length > KEEP) this.history.splice(0, this.history.length - KEEP);
    this.failures = 0;
    this.emit();
  }

  private later(fn: () => void, ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms);
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    const abort = new AbortController();
    this.abort = abort;
    let res: Response;
    try {
      res = await fetch('/v1/traffic/stream', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: abort.signal });
    } catch {
      if (!abort.signal.aborted) this.retry('the admin API did not answer');
      return;
    }
    if (res.status === 401) {
      this.stop();
      reportUnauthorized();
      return;
    }
    if (res.status === 404 || res.status === 405 || !res.body) {
      // No stream: maybe the plain snapshot exists (poll it), maybe no traffic API at all.
      void res.body?.cancel();
      return this.poll();
    }
    if (!res.ok) {
      void res.body.cancel();
      return this.retry(`the stream answered ${res.status}`);
    }
    this.set('live');
    try {
      await this.read(res.body, abort.signal);
    } catch {
      // dropped connection: reconnect below
    }
    if (!abort.signal.aborted) this.retry('the stream ended');
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      // Events end with a blank line; a partial event stays in the buffer.
      let end: number;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = block
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (!data) continue;
        try {
          this.push(JSON.parse(data) as TrafficSnapshot);
        } catch {
          // a malformed event is skipped, the next one comes in a second
        }
      }
    }
  }

  private async poll(): Promise<void> {
    if (!this.running) return;
    try {
      this.push(await get<TrafficSnapshot>('/v1/traffic'));
      this.set('polling');
      this.later(() => void this.poll(), POLL_MS);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.stop();
      if (e instanceof ApiError && e.status === 404) {
        this.set('unavailable', 'this Mesher has no traffic statistics API (GET /v1/traffic answered 404)');
        // A newer Mesher may be started behind the same address: look again now and then.
        this.later(() => void this.connect(), UNAVAILABLE_RECHECK_MS);
        return;
      }
      this.retry(e instanceof Error ? e.message : String(e));
    }
  }

  private retry(why: string): void {
    const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)];
    this.set('offline', `${why}; retrying in ${Math.round(wait / 1000)} s`);
    this.later(() => void this.connect(), wait);
  }
}

export const feed = new TrafficFeed();
