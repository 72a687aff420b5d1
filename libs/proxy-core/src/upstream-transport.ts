import * as http from 'node:http';
import * as https from 'node:https';
import { Readable, type Writable } from 'node:stream';
import { parse as parseUrl, type Url } from 'node:url';
import httpProxy from 'http-proxy';
import { describeTlsError, meshClientTls } from './mesh-identity';
import type { TlsMaterial } from './tls-material';

/** 'tls': the handshake or the certificate check failed (the request did not reach the upstream). */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout' | 'tls';

export interface AttemptCallbacks {
  /** Response head arrived; the receiver must consume or pipe `upstreamRes`. */
  onResponse(upstreamRes: http.IncomingMessage): void;
  onFailure(kind: AttemptFailure, err: Error): void;
}

export interface AttemptHandle {
  /** Stops the attempt (client gone, overall timeout); no callback fires after it. */
  abort(): void;
}

/**
 * How the request body goes upstream: 'stream' pipes it from the request, a Buffer (read ahead so a
 * retry can send it again) is sent as is, 'none' ends the upstream request at once. The caller says
 * which: by the time of the attempt the request's own framing headers have been stripped.
 */
export type AttemptBody = 'stream' | 'none' | Buffer;

export interface UpstreamTransport {
  attempt(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    timeoutMs: number,
    cb: AttemptCallbacks,
    body: AttemptBody,
    /**
     * The destination service when the target is a sidecar's instance: an https:// one is reached with
     * mesh TLS (this sidecar's certificate, the mesh CA) and its certificate must name this service.
     */
    meshService?: string,
  ): AttemptHandle;
  close(): void;
}

const MAX_PARSED_TARGETS = 10_000;
/** Longest a pooled upstream socket idles (shorter when the upstream announces a keep-alive timeout). */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT = 'MESHER_CONNECT_TIMEOUT';
const MAX_MESH_AGENTS = 10_000;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', CONNECT_TIMEOUT]);

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

/**
 * What http-proxy pipes upstream for a request without a body: it ends the upstream request at once.
 * `req.pipe()` would add and remove eight listeners and run the stream machinery only to learn that
 * the request has already ended.
 */
const NO_BODY = { pipe: (dest: Writable) => dest.end() } as unknown as Readable;

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
  /** For https:// targets (egress with TLS origination); verifies certificates against the system CAs. */
  readonly httpsAgent: https.Agent;
  private readonly proxy: httpProxy;
  private readonly parsedTargets = new Map<string, Url>();
  /** One agent per destination service: its TLS servername and identity check are the service's. */
  private meshAgents = new Map<string, https.Agent>();
  private meshTls: TlsMaterial | null;

  constructor(opts: { maxSockets?: number; maxFreeSockets?: number; connectTimeoutMs?: number; meshTls?: TlsMaterial | null } = {}) {
    this.meshTls = opts.meshTls ?? null;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.agent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: opts.maxSockets ?? Infinity,
      maxFreeSockets: opts.maxFreeSockets ?? 256,
      scheduling: 'lifo',
      // An idle timeout makes Node honour the upstream's `Keep-Alive: timeout=N` hint (it closes a pooled
      // socket a second before the server would); without one the hint is ignored and a socket the
      // server is closing gets reused: a request that never reached the app fails with a reset.
      timeout: IDLE_SOCKET_TIMEOUT_MS,
    });
    this.httpsAgent = new https.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 64, scheduling: 'lifo' });
    this.proxy = httpProxy.createProxyServer({
      agent: this.agent,
      selfHandleResponse: true,
      xfwd: false,
      changeOrigin: false,
      ws: false,
      // req.url is already the origin-form path the handler routed on: sent as is, not url.parse()d
      // again on every request (which also turned '\\' into '/' behind the route match's back).
      toProxy: true,
    });
    this.proxy.on('proxyReq', (proxyReq, req) => {
      const a = (req as WithAttempt)[ATTEMPT];
      if (!a) return;
      a.proxyReq = proxyReq;
      if (a.done) proxyReq.destroy();
      else if (connectTimeoutMs > 0 && proxyReq.socket?.connecting) armConnectTimeout(proxyReq, connectTimeoutMs);
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
    body: AttemptBody,
    meshService?: string,
  ): AttemptHandle {
    const a = new Attempt(cb);
    (req as WithAttempt)[ATTEMPT] = a;
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) a.timer = setTimeout(() => a.expire(), timeoutMs);
    // http-proxy pipes `buffer` instead of the (already consumed) request when one is given.
    const buffer = body === 'stream' ? undefined : body === 'none' ? NO_BODY : Readable.from([body], { objectMode: false });
    const tls = target.startsWith('https:');
    const parsed = this.parsedTarget(target);
    let options: httpProxy.ServerOptions;
    if (tls && meshService !== undefined) {
      const agent = this.meshAgent(meshService);
      if (!agent) {
        const err: NodeJS.ErrnoException = new Error(`no mesh CA (--tls-ca) to verify the certificate of '${meshService}'`);
        err.code = 'MESHER_NO_MESH_CA';
        process.nextTick(() => a.finish() && cb.onFailure('tls', err));
        return a;
      }
      // The Host stays the service's authority: the certificate is checked against the service, not the address.
      options = { target: parsed, buffer, agent, secure: true };
    } else if (tls) {
      // Egress or a hand-registered https:// instance: system CAs; the Host sent is the target's, as SNI must match it.
      options = { target: parsed, buffer, agent: this.httpsAgent, secure: true, changeOrigin: true };
    } else options = { target: parsed, buffer };
    this.proxy.web(req, res, options, (err: Error) => {
      if (!a.finish()) return;
      if (tls && !a.timedOut) {
        const why = describeTlsError(err);
        if (why) return a.cb.onFailure('tls', new Error(why));
      }
      const code = (err as NodeJS.ErrnoException).code ?? '';
      // A pooled connection the server closed before answering is a connect failure, as a fresh
      // connection refused would be: no response came, the request did not get through (Go's
      // http.Transport treats it the same way). Retried only where the policy retries those.
      const stale = code === 'ECONNRESET' && a.proxyReq?.reusedSocket === true;
      const kind: AttemptFailure = a.timedOut ? 'timeout' : CONNECT_ERRORS.has(code) || stale ? 'connect-failure' : 'reset';
      a.cb.onFailure(kind, err);
    });
    return a;
  }

  /**
   * http-proxy url.parse()s a string target on every request; the same parse, done once per endpoint
   * (it only reads the result). Bounded: a table past the limit starts afresh.
   */
  private parsedTarget(target: string): Url {
    let u = this.parsedTargets.get(target);
    if (!u) {
      if (this.parsedTargets.size >= MAX_PARSED_TARGETS) this.parsedTargets.clear();
      u = parseUrl(target);
      this.parsedTargets.set(target, u);
    }
    return u;
  }

  /** The mesh TLS material in use now (after any rotation). */
  get meshTlsMaterial(): TlsMaterial | null {
    return this.meshTls;
  }

  /**
   * New mesh TLS material (rotation): new connections use it. Pooled connections made with the old one
   * finish their requests and close when idle.
   */
  setMeshTls(m: TlsMaterial | null): void {
    this.meshTls = m;
    this.meshAgents = new Map();
  }

  private meshAgent(service: string): https.Agent | null {
    const m = this.meshTls;
    if (!m?.ca) return null;
    let agent = this.meshAgents.get(service);
    if (!agent) {
      if (this.meshAgents.size >= MAX_MESH_AGENTS) this.meshAgents.clear();
      // Agent options override the request's: the mesh CA only (no system CAs), SNI = the service.
      agent = new https.Agent({
        keepAlive: true,
        keepAliveMsecs: 1000,
        maxFreeSockets: 256,
        scheduling: 'lifo',
        timeout: IDLE_SOCKET_TIMEOUT_MS,
        ...meshClientTls(service, m),
      });
      this.meshAgents.set(service, agent);
    }
    return agent;
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
    this.httpsAgent.destroy();
    for (const a of this.meshAgents.values()) a.destroy();
  }
}

/** A connect that hangs (SYN unanswered, accept queue full) fails as a connect failure, retryable elsewhere. */
function armConnectTimeout(proxyReq: http.ClientRequest, ms: number): void {
  const socket = proxyReq.socket!;
  // Checked again after the poll phase: after a stall, timers run before the I/O that completed the connect.
  const timer = setTimeout(() => setImmediate(() => {
    if (!socket.connecting || proxyReq.destroyed) return;
    const err: NodeJS.ErrnoException = new Error(`connect timed out after ${ms} ms`);
    err.code = CONNECT_TIMEOUT;
    proxyReq.destroy(err);
  }), ms);
  socket.once('connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
}
