import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { propagateTrace } from '@mesher/observability';
import type { MesherErrorCode } from '@mesher/contracts';
import { decideRoute, type SnapshotHolder } from '@mesher/registry';
import { writeRawError } from './client-error';
import { ERROR_STATUS } from './error-map';
import type { Direction, RequestObserver } from './exchange';
import { forwardedProto, stripHopByHop } from './forward-headers';
import { describeTlsError, meshClientTls } from './mesh-identity';
import { inboundCaller } from './mesh-trust';
import { randomHex } from './outbound-handler';
import { requestHasBody } from './request-body';
import { checkRequest, type RequestGuard } from './request-guard';
import { resolveEdgeTarget } from './edge-resolver';
import { isTargetError, resolveProxyTarget } from './request-target';
import { armConnectTimeout, parseEndpoint } from './upstream-endpoint';
import type { RuntimeTable } from './service-runtime';
import type { TlsMaterial } from './tls-material';

/** The server's 'upgrade' listener: the socket is ours from here on, errors included. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The status line and headers of an upstream response, re-written for the client: hop-by-hop fields
 * (and those its Connection names) dropped, Via appended. `upgrade` keeps the protocol switch.
 */
export function upgradeResponseHead(
  status: number,
  statusMessage: string | undefined,
  rawHeaders: readonly string[],
  via: string,
  upgrade: string | null,
): string {
  const named = new Set<string>();
  let prevVia = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i].toLowerCase();
    if (k === 'connection') for (const t of rawHeaders[i + 1].split(',')) named.add(t.trim().toLowerCase());
    else if (k === 'via') prevVia = prevVia ? `${prevVia}, ${rawHeaders[i + 1]}` : rawHeaders[i + 1];
  }
  let head = `HTTP/1.1 ${status} ${statusMessage || http.STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i].toLowerCase();
    if (RESPONSE_HOP.has(k) || named.has(k) || k === 'via') continue;
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  if (upgrade !== null) head += `connection: Upgrade\r\nupgrade: ${upgrade}\r\n`;
  else head += 'connection: close\r\n';
  head += `via: ${prevVia ? `${prevVia}, ${via}` : via}\r\n\r\n`;
  return head;
}

export interface TunnelSpec {
  req: http.IncomingMessage;
  socket: Duplex;
  head: Buffer;
  /** http://host:port (or https://) of the instance or local app. */
  endpoint: string;
  /** TLS options for an https:// endpoint (mesh TLS for a sidecar's instance); default: system CAs. */
  tls?: ConnectionOptions;
  path: string;
  headers: http.OutgoingHttpHeaders;
  via: string;
  connectTimeoutMs: number;
  /** Deadline for the upstream's answer to the upgrade request. */
  handshakeTimeoutMs: number;
  /** Code for an upstream that cannot be reached or resets before answering. */
  unreachable: 'UPSTREAM_UNAVAILABLE' | 'APP_UNAVAILABLE';
  /** Name used in error messages. */
  describe: string;
  /** Once, when the client connection is gone: final status (101 for a switched connection) and code. */
  onEnd(status: number, code: MesherErrorCode | null): void;
  /** Once, when the upstream answered (ok) or failed to. */
  onHandshake?(ok: boolean): void;
}

/**
 * Forwards an upgrade request and, on 101, splices the two sockets. Either side failing or closing
 * closes the other: an abrupt end is passed on at once, a graceful one after pending bytes flush.
 * A request of its own (no agent) so a client reset during the handshake is just a
 * destroyed socket, never an unhandled error.
 */
export function tunnelUpgrade(t: TunnelSpec): void {
  const { socket } = t;
  let answered = false;
  let ended = false;
  let status = 0;
  let code: MesherErrorCode | null = null;
  let upSocket: Duplex | null = null;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    t.onEnd(status || 499, code);
  };
  const fail = (c: MesherErrorCode, message: string) => {
    if (answered) return;
    answered = true;
    status = ERROR_STATUS[c];
    code = c;
    t.onHandshake?.(false);
    writeRawError(socket, c, message);
  };

  if (socket.destroyed) {
    // The client reset before we got here: nothing to forward.
    t.onEnd(499, null);
    return;
  }
  const ep = parseEndpoint(t.endpoint);
  const secure = ep.tls;
  const reqOpts = {
    host: ep.hostname,
    port: ep.port,
    method: t.req.method,
    path: ep.basePath + t.path,
    headers: t.headers,
    agent: false as const,
  };
  const upReq = secure ? https.request({ ...reqOpts, ...t.tls }) : http.request(reqOpts);
  const timer = setTimeout(() => {
    fail('UPSTREAM_TIMEOUT', `${t.describe} did not answer the upgrade within ${t.handshakeTimeoutMs} ms`);
    upReq.destroy();
  }, t.handshakeTimeoutMs);
  socket.on('error', () => socket.destroy());
  socket.once('close', () => {
    upReq.destroy();
    upSocket?.destroy();
    end();
  });
  upReq.on('socket', (s: Socket) => {
    if (s.connecting && t.connectTimeoutMs > 0) armConnectTimeout(s, t.connectTimeoutMs);
  });
  upReq.on('error', (err) => {
    if (answered) socket.destroy(); // a declined upgrade whose response body broke off
    else {
      const why = secure ? describeTlsError(err) : null;
      if (why) fail('UPSTREAM_TLS_ERROR', `${t.describe} failed TLS: ${why}`);
      else fail(t.unreachable, `${t.describe} failed during the upgrade: ${err.message}`);
    }
  });
  upReq.on('upgrade', (upRes, up, upHead) => {
    up.on('error', () => up.destroy());
    if (answered || socket.destroyed) {
      up.destroy();
      return;
    }
    answered = true;
    clearTimeout(timer);
    t.onHandshake?.(true);
    upSocket = up;
    status = 101;
    const proto = upRes.headers.upgrade ?? String(t.req.headers.upgrade ?? '');
    socket.write(upgradeResponseHead(101, upRes.statusMessage, upRes.rawHeaders, t.via, proto));
    if (upHead.length > 0) socket.write(upHead);
    if (t.head.length > 0) up.write(t.head);
    (socket as Socket).setNoDelay?.(true);
    (socket as Socket).setTimeout?.(0);
    (up as Socket).setNoDelay?.(true);
    splice(socket, up);
    splice(up, socket);
  });
  upReq.on('response', (upRes) => {
    // The upstream declined the upgrade: relay its answer and close (the client asked for no more).
    if (answered || socket.destroyed) {
      upRes.destroy();
      return;
    }
    answered = true;
    clearTimeout(timer);
    t.onHandshake?.(upRes.statusCode! < 500);
    status = upRes.statusCode ?? 502;
    const raw = upRes.headers['transfer-encoding'] ? dropField(upRes.rawHeaders, 'content-length') : upRes.rawHeaders;
    socket.write(upgradeResponseHead(status, upRes.statusMessage, raw, t.via, null));
    upRes.on('error', () => socket.destroy());
    upRes.on('close', () => {
      if (!upRes.complete) socket.destroy();
    });
    upRes.pipe(socket);
  });
  upReq.end();
}

/** One direction of a spliced connection. */
function splice(from: Duplex, to: Duplex): void {
  from.pipe(to);
  from.once('close', () => {
    if (to.destroyed) return;
    // A graceful end was piped on as end(): let the pending bytes go, but not forever.
    if (to.writableEnded) setTimeout(() => to.destroy(), 5000).unref();
    else to.destroy();
  });
}

function dropField(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() !== name) out.push(raw[i], raw[i + 1]);
  return out;
}

interface Common {
  via: string;
  guard?: RequestGuard;
  observer?: RequestObserver;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  now?: () => number;
}

export interface OutboundUpgradeOptions extends Common {
  holder: SnapshotHolder;
  runtimes: RuntimeTable;
  serviceName: string | null;
  meshSecret?: string | null;
  /** This sidecar's mesh TLS material (current after rotation), for https:// sidecar instances. */
  meshTls?: () => TlsMaterial | null;
  random?: () => number;
  /** Edge listener: targets come from ingress rules, callers are 'outside', per-source limits per client IP. */
  edge?: boolean;
}

export interface InboundUpgradeOptions extends Common {
  appUrl: string;
  serviceName: string;
  runtimes: RuntimeTable;
  meshSecret: string | null;
}

/** Report plumbing shared by both directions: one CompletedExchange per upgrade request. */
class UpgradeRecord {
  requestId: string;
  source = 'unknown';
  destination = '';
  path = '';
  route: string | null = null;
  instance: string | null = null;
  private readonly startedAt: number;
  private readonly t0 = performance.now();

  constructor(
    readonly direction: Direction,
    readonly req: http.IncomingMessage,
    readonly socket: Duplex,
    private readonly observer: RequestObserver | undefined,
    now: number,
  ) {
    this.startedAt = now;
    const id = req.headers['x-request-id'];
    this.requestId = typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : randomUUID();
  }

  done(status: number, code: MesherErrorCode | null): void {
    this.observer?.onComplete({
      direction: this.direction,
      requestId: this.requestId,
      method: this.req.method ?? 'GET',
      path: this.path,
      source: this.source,
      destination: this.destination,
      route: this.route,
      instance: this.instance,
      attempts: this.instance ? 1 : 0,
      status,
      bytes: (this.socket as Socket).bytesWritten ?? 0,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.t0,
      code,
    });
  }

  fail(code: MesherErrorCode, message: string, status: number = ERROR_STATUS[code], headers?: Record<string, string>): void {
    this.socket.on('error', () => this.socket.destroy());
    writeRawError(this.socket, code, message, status, headers);
    this.done(status, code);
  }

  /** Guard and body checks common to both directions; true when the request was refused. */
  refused(guard: RequestGuard | undefined): boolean {
    this.path = (this.req.url ?? '').slice(0, 2048);
    const r = guard ? checkRequest(this.req, guard) : null;
    if (r) {
      this.fail(r.code, r.message, r.status);
      return true;
    }
    // Only bodiless upgrade requests are proxied: there is no framing to relay a body under.
    if (requestHasBody(this.req)) {
      this.fail('BAD_REQUEST', 'an upgrade request with a body is not supported');
      return true;
    }
    return false;
  }
}

function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}

/**
 * Outbound upgrades (WebSocket and other protocol switches): `GET /chat` with `Host: svc` and
 * `Connection: Upgrade`. The service is resolved and an instance picked as for any request; the
 * upgrade then runs over its own connection, outside the keep-alive pool. With `edge`, the same for
 * the edge listener: the service comes from the ingress rules, as for its plain requests.
 */
export function createOutboundUpgradeHandler(o: OutboundUpgradeOptions): UpgradeHandler {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const loopToken = o.via.split(' ').pop() ?? o.via;
  const resolveTarget = o.edge ? resolveEdgeTarget : resolveProxyTarget;
  const ownName = o.edge ? null : o.serviceName;
  return function handleOutboundUpgrade(req, socket, head) {
    const rec = new UpgradeRecord(o.edge ? 'edge' : 'outbound', req, socket, o.observer, now());
    rec.source = o.edge ? 'outside' : (o.serviceName ?? 'unknown');
    if (rec.refused(o.guard)) return;
    const target = resolveTarget(req, o.holder.current);
    if (isTargetError(target)) return rec.fail(target.code, target.message);
    rec.path = target.path;
    rec.destination = target.service;
    const via = req.headers.via;
    if (typeof via === 'string' && via.includes(loopToken)) {
      return rec.fail('LOOP_DETECTED', `request to '${target.service}' already passed through this Mesher (${loopToken})`);
    }
    const entry = o.holder.current.services.get(target.service);
    const rt = entry && o.runtimes.get(target.service);
    if (!entry || !rt) return rec.fail('SERVICE_NOT_FOUND', `no service named '${target.service}' is registered`);
    const decision = decideRoute(entry, { source: o.edge ? 'outside' : o.serviceName, method: req.method ?? 'GET', path: target.path, headers: req.headers }, random);
    rec.route = decision.route ? decision.route.id : null;
    const policy = rt.policyFor(decision.route);
    const t = now();
    if (rt.limiter) {
      const r = rt.limiter.take(t);
      if (!r.ok) return rec.fail('RATE_LIMITED', `rate limit for '${entry.name}' exceeded`, 429, retryAfter(r.retryAfterMs));
    }
    if (rt.perSource) {
      const r = rt.perSource.take(o.edge ? `ip:${req.socket.remoteAddress ?? ''}` : rec.source, t);
      if (!r.ok) return rec.fail('RATE_LIMITED', `rate limit for '${rec.source}' calling '${entry.name}' exceeded`, 429, retryAfter(r.retryAfterMs));
    }
    const outlier = rt.outlier;
    const unhealthy = rt.unhealthy;
    const pool = decision.candidates.filter((i) => !(outlier && outlier.isEjected(i.id, t)) && !(unhealthy && unhealthy.has(i.id)));
    const inst = rt.balancer.pick(pool, { now: t, random });
    if (!inst) return rec.fail('NO_HEALTHY_INSTANCE', `no healthy instance of '${entry.name}' for the upgrade`);
    rec.instance = inst.id;

    const headers = stripHopByHop(req.headers, true) as http.OutgoingHttpHeaders;
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade;
    headers.host = target.authority;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-proto'] = forwardedProto(req.socket);
    headers['x-forwarded-host'] = target.authority;
    if (target.port) headers['x-forwarded-port'] = target.port;
    headers['x-request-id'] = rec.requestId;
    propagateTrace(req.headers, headers, randomHex);
    if (ownName) headers['x-mesher-source'] = ownName;
    else delete headers['x-mesher-source'];
    const sidecar = inst.registeredBy.startsWith('sidecar:');
    if (o.meshSecret && sidecar) headers['x-mesher-token'] = o.meshSecret;
    else delete headers['x-mesher-token'];
    let tls: ConnectionOptions | undefined;
    if (sidecar && inst.endpoint.startsWith('https:')) {
      const m = o.meshTls?.() ?? null;
      if (!m?.ca) return rec.fail('UPSTREAM_TLS_ERROR', `no mesh CA (--tls-ca) to verify the certificate of '${entry.name}'`);
      tls = meshClientTls(entry.name, m);
    }
    headers.via = typeof via === 'string' && via ? `${via}, ${o.via}` : o.via;

    tunnelUpgrade({
      req,
      socket,
      head,
      endpoint: inst.endpoint,
      tls,
      path: target.path,
      headers,
      via: o.via,
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      handshakeTimeoutMs: policy.timeout?.perTryMs ?? policy.timeout?.requestMs ?? o.handshakeTimeoutMs ?? 30_000,
      unreachable: 'UPSTREAM_UNAVAILABLE',
      describe: `instance ${inst.endpoint} of '${entry.name}'`,
      onHandshake: (ok) => outlier?.onResult(inst.id, ok, now(), entry.allInstances.length),
      onEnd: (status, code) => rec.done(status, code),
    });
  };
}

/** Inbound upgrades: from other Meshers (or plain clients) to the local app, same trust rules as requests. */
export function createInboundUpgradeHandler(o: InboundUpgradeOptions): UpgradeHandler {
  const now = o.now ?? Date.now;
  return function handleInboundUpgrade(req, socket, head) {
    const rec = new UpgradeRecord('inbound', req, socket, o.observer, now());
    rec.destination = o.serviceName;
    if (rec.refused(o.guard)) return;
    if (!rec.path.startsWith('/')) return rec.fail('BAD_REQUEST', 'the inbound listener takes origin-form requests (GET /path), not proxy requests');
    const { trusted, source } = inboundCaller(req, o.meshSecret);
    rec.source = source;
    const rt = o.runtimes.get(o.serviceName);
    const t = now();
    if (rt?.limiter) {
      const r = rt.limiter.take(t);
      if (!r.ok) return rec.fail('RATE_LIMITED', `rate limit for '${o.serviceName}' exceeded`, 429, retryAfter(r.retryAfterMs));
    }
    if (rt?.perSource) {
      const r = rt.perSource.take(rec.source, t);
      if (!r.ok) return rec.fail('RATE_LIMITED', `rate limit for '${rec.source}' calling '${o.serviceName}' exceeded`, 429, retryAfter(r.retryAfterMs));
    }
    const headers = stripHopByHop(req.headers, !trusted) as http.OutgoingHttpHeaders;
    const forwardedFor = req.headers['x-forwarded-for'];
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade;
    const peer = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = trusted && forwardedFor ? `${String(forwardedFor)}, ${peer}` : peer;
    headers['x-request-id'] = rec.requestId;
    propagateTrace(req.headers, headers, randomHex);
    headers['x-mesher-source'] = rec.source;
    delete headers['x-mesher-token'];
    const via = req.headers.via;
    headers.via = typeof via === 'string' && via ? `${via}, ${o.via}` : o.via;
    tunnelUpgrade({
      req,
      socket,
      head,
      endpoint: o.appUrl,
      path: rec.path,
      headers,
      via: o.via,
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? 30_000,
      unreachable: 'APP_UNAVAILABLE',
      describe: `local app '${o.serviceName}' at ${o.appUrl}`,
      onEnd: (status, code) => rec.done(status, code),
    });
  };
}
