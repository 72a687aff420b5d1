import * as http from 'node:http';
import * as https from 'node:https';
import { describeTlsError, meshClientTls } from './mesh-identity';
import type { TlsMaterial } from './tls-material';
import { armConnectTimeout, CONNECT_TIMEOUT, parseEndpoint, type Endpoint } from './upstream-endpoint';

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

const MAX_ENDPOINTS = 10_000;
/** Longest a pooled upstream socket idles (shorter when the upstream announces a keep-alive timeout). */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;
const MAX_MESH_AGENTS = 10_000;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', CONNECT_TIMEOUT]);

class Attempt implements AttemptHandle {
  proxyReq: http.ClientRequest | null = null;
  done = false;
  timedOut = false;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly cb: AttemptCallbacks, readonly tls: boolean) {}

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
    // The request's 'error' (from destroy()) reports the failure, as 'timeout'.
    if (this.proxyReq) this.proxyReq.destroy();
    else if (this.finish()) this.cb.onFailure('timeout', new Error('per-try timeout'));
  }
}

const ATTEMPT = Symbol('mesher.attempt');
type WithAttempt = http.ClientRequest & { [ATTEMPT]: Attempt };

// Listeners shared by every upstream request (`this` is the request): no closures per request.
function onUpstreamResponse(this: WithAttempt, upRes: http.IncomingMessage): void {
  const a = this[ATTEMPT];
  if (!a.finish()) {
    upRes.resume();
    return;
  }
  a.cb.onResponse(upRes);
}

/** Stays attached for the request's life: a socket error after the response lands here too, and is ignored. */
function onUpstreamError(this: WithAttempt, err: Error): void {
  const a = this[ATTEMPT];
  if (!a.finish()) return;
  if (a.tls && !a.timedOut) {
    const why = describeTlsError(err);
    if (why) return a.cb.onFailure('tls', new Error(why));
  }
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // A pooled connection the server closed before answering is a connect failure, as a fresh
  // connection refused would be: no response came, the request did not get through (Go's
  // http.Transport treats it the same way). Retried only where the policy retries those.
  const stale = code === 'ECONNRESET' && this.reusedSocket;
  const kind: AttemptFailure = a.timedOut ? 'timeout' : CONNECT_ERRORS.has(code) || stale ? 'connect-failure' : 'reset';
  a.cb.onFailure(kind, err);
}

/**
 * Sends each attempt with node:http(s) on keep-alive agents, and hands the response head to the
 * caller, which relays it or retries a 5xx before anything reaches the client. Written here rather
 * than through http-proxy's web(): its per-call option copies, path join and listeners were the
 * largest cost left per request (bench/RESULTS.md), and the headers it would copy are already the
 * handler's own fresh object.
 */
export class HttpTransport implements UpstreamTransport {
  readonly agent: http.Agent;
  /** For https:// targets (egress with TLS origination); verifies certificates against the system CAs. */
  readonly httpsAgent: https.Agent;
  private readonly endpoints = new Map<string, Endpoint>();
  /** One agent per destination service: its TLS servername and identity check are the service's. */
  private meshAgents = new Map<string, https.Agent>();
  private meshTls: TlsMaterial | null;
  private readonly connectTimeoutMs: number;

  constructor(opts: { maxSockets?: number; maxFreeSockets?: number; connectTimeoutMs?: number; meshTls?: TlsMaterial | null } = {}) {
    this.meshTls = opts.meshTls ?? null;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.agent = this.withConnectTimeout(new http.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: opts.maxSockets ?? Infinity,
      maxFreeSockets: opts.maxFreeSockets ?? 256,
      scheduling: 'lifo',
      // An idle timeout makes Node honour the upstream's `Keep-Alive: timeout=N` hint (it closes a pooled
      // socket a second before the server would); without one the hint is ignored and a socket the
      // server is closing gets reused: a request that never reached the app fails with a reset.
      timeout: IDLE_SOCKET_TIMEOUT_MS,
    }));
    this.httpsAgent = this.withConnectTimeout(new https.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 64, scheduling: 'lifo' }));
  }

  attempt(
    req: http.IncomingMessage,
    target: string,
    timeoutMs: number,
    cb: AttemptCallbacks,
    body: AttemptBody,
    meshService?: string,
  ): AttemptHandle {
    const ep = this.endpoint(target);
    const a = new Attempt(cb, ep.tls);
    let agent: http.Agent = this.agent;
    let headers = req.headers;
    if (ep.tls && meshService !== undefined) {
      const mesh = this.meshAgent(meshService);
      if (!mesh) {
        const err: NodeJS.ErrnoException = new Error(`no mesh CA (--tls-ca) to verify the certificate of '${meshService}'`);
        err.code = 'MESHER_NO_MESH_CA';
        process.nextTick(() => a.finish() && cb.onFailure('tls', err));
        return a;
      }
      // The Host stays the service's authority: the certificate is checked against the service, not the address.
      agent = mesh;
    } else if (ep.tls) {
      // Egress or a hand-registered https:// instance: system CAs; the Host sent is the target's, as SNI must match it.
      agent = this.httpsAgent;
      headers = { ...headers, host: ep.authority };
    }
    // The client's own framing was stripped (hop-by-hop): a streamed body of unknown length goes
    // chunked, whatever the method (Node would send a DELETE's body unframed).
    if (body === 'stream' && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    let proxyReq: WithAttempt;
    try {
      proxyReq = (ep.tls ? https : http).request({
        host: ep.hostname,
        port: ep.port,
        method: req.method,
        path: ep.basePath + req.url,
        headers,
        agent,
      }) as WithAttempt;
    } catch (err) {
      // Node refuses to send what it cannot frame (a header value it would not write): an upstream failure, not a crash.
      process.nextTick(() => a.finish() && cb.onFailure('reset', err as Error));
      return a;
    }
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) a.timer = setTimeout(() => a.expire(), timeoutMs);
    proxyReq[ATTEMPT] = a;
    a.proxyReq = proxyReq;
    proxyReq.on('response', onUpstreamResponse);
    proxyReq.on('error', onUpstreamError);
    if (body === 'stream') req.pipe(proxyReq);
    else if (body === 'none') proxyReq.end();
    else proxyReq.end(body);
    return a;
  }

  /** An endpoint URL parsed once (bounded: a table past the limit starts afresh). */
  private endpoint(target: string): Endpoint {
    let ep = this.endpoints.get(target);
    if (!ep) {
      if (this.endpoints.size >= MAX_ENDPOINTS) this.endpoints.clear();
      ep = parseEndpoint(target);
      this.endpoints.set(target, ep);
    }
    return ep;
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
      agent = this.withConnectTimeout(new https.Agent({
        keepAlive: true,
        keepAliveMsecs: 1000,
        maxFreeSockets: 256,
        scheduling: 'lifo',
        timeout: IDLE_SOCKET_TIMEOUT_MS,
        ...meshClientTls(service, m),
      }));
      this.meshAgents.set(service, agent);
    }
    return agent;
  }

  /**
   * A connect that hangs (SYN unanswered, accept queue full) fails as a connect failure, retryable
   * elsewhere. Armed where the agent opens a connection, so a pooled socket costs nothing.
   */
  private withConnectTimeout<A extends http.Agent>(agent: A): A {
    const ms = this.connectTimeoutMs;
    if (ms <= 0) return agent;
    const open = agent.createConnection.bind(agent);
    agent.createConnection = (options, callback) => {
      const socket = open(options, callback);
      if (socket) armConnectTimeout(socket, ms);
      return socket;
    };
    return agent;
  }

  close(): void {
    this.agent.destroy();
    this.httpsAgent.destroy();
    for (const a of this.meshAgents.values()) a.destroy();
  }
}
