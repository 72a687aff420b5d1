import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceRecord, MesherErrorCode } from '@mesher/contracts';
import { ERROR_STATUS, mesherErrorOf, writeMesherError } from './error-map';
import type { Explanation } from './explain';

/** outbound: the local app's calls; inbound: calls to the local app; edge: calls from outside the mesh. */
export type Direction = 'outbound' | 'inbound' | 'edge';

/** What observers (metrics, traffic stats, access log) learn about each finished request. */
export interface CompletedExchange {
  direction: Direction;
  requestId: string;
  method: string;
  path: string;
  source: string;
  destination: string;
  route: string | null;
  instance: string | null;
  attempts: number;
  status: number;
  bytes: number;
  startedAt: number;
  durationMs: number;
  code: MesherErrorCode | null;
}

export interface RequestObserver {
  onComplete(e: CompletedExchange): void;
  onRetry?(destination: string): void;
  onRateLimited?(destination: string, scope: 'service' | 'source' | 'route'): void;
  onFault?(destination: string, kind: 'delay' | 'abort'): void;
}

/** Per-request state, shared by the passes; completes exactly once whatever happens. */
export class Exchange {
  requestId = '';
  source = '';
  destination = '';
  path = '';
  route: string | null = null;
  instance: InstanceRecord | null = null;
  attempts = 0;
  bytes = 0;
  code: MesherErrorCode | null = null;
  completed = false;
  /** Set when the caller asked for a decision explanation. */
  explain: Explanation | null = null;
  /** Status of a Mesher-produced error, reported even when the client left before it was sent. */
  errorStatus = 0;
  /** The upstream response being relayed, if any. */
  upstream: IncomingMessage | null = null;
  readonly startedAt: number;
  readonly t0: number;
  private onDone: Array<(ok: boolean) => void> = [];

  constructor(
    readonly direction: Direction,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly observer: RequestObserver | undefined,
    now: number,
  ) {
    this.startedAt = now;
    this.t0 = performance.now();
  }

  /** Runs once at completion; `ok` is false for Mesher errors and 5xx. */
  finally(fn: (ok: boolean) => void): void {
    this.onDone.push(fn);
  }

  fail(code: MesherErrorCode, message: string, status: number = ERROR_STATUS[code], headers?: Record<string, string>): void {
    this.code = code;
    this.errorStatus = status;
    if (this.explain) {
      this.explain.outcome = { status, code };
      headers = { ...headers, 'x-mesher-explain': JSON.stringify(this.explain) };
    }
    writeMesherError(this.res, code, message, status, headers);
  }

  /** Called from the response's 'close' (it fires after a finished response and after a cut one), once. */
  complete(): void {
    if (this.completed) return;
    const res = this.res;
    // 499: the client went away before the response was complete (nginx's convention).
    const status = this.errorStatus || (res.writableFinished ? res.statusCode : 499);
    this.completed = true;
    // The client went away mid-response: end the upstream response too, or the upstream socket stays
    // open streaming a body no one reads.
    const up = this.upstream;
    if (up !== null && !up.complete) up.destroy();
    // An error answered outside fail() (the listener's body timeout) still names its code; looked up
    // only for responses that did not end well, which keeps the 2xx path free of it.
    if (this.code === null && (status >= 400 || !res.writableFinished)) this.code = mesherErrorOf(res) ?? null;
    const ok = this.code === null && status < 500;
    for (const fn of this.onDone) fn(ok);
    this.observer?.onComplete({
      direction: this.direction,
      requestId: this.requestId,
      method: this.req.method ?? '',
      path: this.path,
      source: this.source,
      destination: this.destination,
      route: this.route,
      instance: this.instance ? this.instance.id : null,
      attempts: this.attempts,
      status,
      bytes: this.bytes,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.t0,
      code: this.code,
    });
  }
}
