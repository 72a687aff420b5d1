import * as http from 'node:http';
import httpProxy from 'http-proxy';

export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout';

export interface AttemptCallbacks {
  /** Response head arrived; the receiver must consume or pipe `upstreamRes`. */
  onResponse(upstreamRes: http.IncomingMessage): void;
  onFailure(kind: AttemptFailure, err: Error): void;
}

export interface AttemptHandle {
  /** Stops the attempt (client gone, overall timeout); no callback fires after it. */
  abort(): void;
}

export interface UpstreamTransport {
  attempt(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    timeoutMs: number,
    cb: AttemptCallbacks,
  ): AttemptHandle;
  close(): void;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

class Attempt implements AttemptHandle {
  proxyReq: http.ClientRequest | null = null;
  done = false;
  timedOut = false;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly cb: AttemptCallbacks) {}

  finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    return true;
  }

  abort(): void {
    if (!this.finish()) return;
    this.proxyReq?.destroy();
  }

  expire(): void {
    if (this.done) return;
    this.timedOut = true;
    // destroy() makes http-proxy report an error, which onError maps to 'timeout'.
    if (this.proxyReq) this.proxyReq.destroy();
    else if (this.finish()) this.cb.onFailure('timeout', new Error('per-try timeout'));
  }
}

const ATTEMPT = Symbol('mesher.attempt');
type WithAttempt = http.IncomingMessage & { [ATTEMPT]?: Attempt };

/**
 * http-proxy behind one interface. We let it build and send the upstream request, and handle the
 * response ourselves (selfHandleResponse) so a 5xx can still be retried before anything reaches the
 * client. Its known gaps on Node 20 (no error listener = crash, `aborted` never firing) are covered
 * here and in the outbound handler.
 */
export class HttpProxyTransport implements UpstreamTransport {
  readonly agent: http.Agent;
  private readonly proxy: httpProxy;

  constructor(opts: { maxSockets?: number; maxFreeSockets?: number } = {}) {
    this.agent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: opts.maxSockets ?? Infinity,
      maxFreeSockets: opts.maxFreeSockets ?? 256,
      scheduling: 'lifo',
    });
    this.proxy = httpProxy.createProxyServer({
      agent: this.agent,
      selfHandleResponse: true,
      xfwd: false,
      changeOrigin: false,
      ws: false,
    });
    this.proxy.on('proxyReq', (proxyReq, req) => {
      const a = (req as WithAttempt)[ATTEMPT];
      if (!a) return;
      a.proxyReq = proxyReq;
      if (a.done) proxyReq.destroy();
    });
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const a = (req as WithAttempt)[ATTEMPT];
      if (!a || !a.finish()) {
        proxyRes.resume();
        return;
      }
      a.cb.onResponse(proxyRes);
    });
    // Last resort: http-proxy emits here only when no per-call callback exists; never let it throw.
    this.proxy.on('error', () => undefined);
  }

  attempt(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    timeoutMs: number,
    cb: AttemptCallbacks,
  ): AttemptHandle {
    const a = new Attempt(cb);
    (req as WithAttempt)[ATTEMPT] = a;
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) a.timer = setTimeout(() => a.expire(), timeoutMs);
    this.proxy.web(req, res, { target }, (err: Error) => {
      if (!a.finish()) return;
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const kind: AttemptFailure = a.timedOut ? 'timeout' : CONNECT_ERRORS.has(code) ? 'connect-failure' : 'reset';
      a.cb.onFailure(kind, err);
    });
    return a;
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
  }
}
