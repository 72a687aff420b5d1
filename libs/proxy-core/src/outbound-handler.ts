import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { propagateTrace } from '@mesher/observability';
import type { InstanceRecord, PolicySpec } from '@mesher/contracts';
import { backoffMs, decideFault, isRetryableOutcome, isRetryableRequest, type AttemptOutcome, type Balancer } from '@mesher/policies';
import { decideRoute, type SnapshotHolder, type ServiceEntry } from '@mesher/registry';
import { Exchange, type RequestObserver } from './exchange';
import { startExplanation, type ExplainLog } from './explain';
import { appendForwardedFor, forwardedProto, stripHopByHop } from './forward-headers';
import { relayResponse } from './relay';
import { requestHasBody } from './request-body';
import { guardExchange, type RequestGuard } from './request-guard';
import { resolveEdgeTarget } from './edge-resolver';
import type { EgressTable } from './egress-table';
import { isTargetError, resolveProxyTarget } from './request-target';
import type { RuntimeTable, ServiceRuntime } from './service-runtime';
import type { AttemptHandle, UpstreamTransport } from './upstream-transport';

export interface OutboundOptions {
  holder: SnapshotHolder;
  runtimes: RuntimeTable;
  transport: UpstreamTransport;
  /** This sidecar's own service name, sent as x-mesher-source; null when it fronts no named app. */
  serviceName: string | null;
  /** Via token (RFC 9110 7.6.3) naming this Mesher, also used to detect loops. */
  via: string;
  /** Sent as x-mesher-token to instances registered by a sidecar (never to plain upstreams). */
  meshSecret?: string | null;
  observer?: RequestObserver;
  /** Hostile-input checks, limits and load shedding, run before anything else. */
  guard?: RequestGuard;
  /** Decision explainer: who may ask (x-mesher-explain: 1) and where explanations are kept. */
  explain?: { allowed(req: IncomingMessage): boolean; log: ExplainLog };
  /**
   * Edge mode: targets come from ingress rules instead of the request's host, callers are 'outside',
   * and per-source rate limits are per client IP. Default: the sidecar's outbound proxy.
   */
  edge?: boolean;
  /** Hosts outside the mesh let through by egress rules (sidecar mode). */
  egress?: EgressTable;
  now?: () => number;
  random?: () => number;
}

interface Flight {
  ex: Exchange;
  rt: ServiceRuntime;
  entry: ServiceEntry;
  policy: PolicySpec;
  balancer: Balancer;
  candidates: readonly InstanceRecord[];
  /** Instances tried so far (a retry prefers the others). */
  tried: string[];
  hasBody: boolean;
  /** The body read ahead so a retry can send it again (opted-in retries of small bodies only). */
  body: Buffer | undefined;
  handle: AttemptHandle | null;
  deadline: number;
  overallTimer: NodeJS.Timeout | null;
  sessionKey: string | undefined;
  finished: boolean;
}

/**
 * The outbound data path as ordered passes: target -> service -> route -> rate limit -> fault ->
 * breaker -> headers -> attempts (balance, forward, retry). Reads only the current snapshot.
 */
export function createOutboundHandler(o: OutboundOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const loopToken = o.via.split(' ').pop() ?? o.via;
  const resolveTarget = o.edge ? resolveEdgeTarget : resolveProxyTarget;
  const direction = o.edge ? 'edge' : 'outbound';
  const ownName = o.edge ? null : o.serviceName;

  return function handleOutbound(req, res) {
    const ex = new Exchange(direction, req, res, o.observer, now());
    const incomingId = req.headers['x-request-id'];
    ex.requestId = typeof incomingId === 'string' && incomingId.length > 0 && incomingId.length <= 200 ? incomingId : randomUUID();
    ex.source = o.edge ? 'outside' : (o.serviceName ?? 'unknown');
    let flight: Flight | null = null;
    // 'close' fires once; on() spares the wrapper once() allocates per request.
    res.on('close', () => {
      if (flight) endFlight(flight);
      ex.complete();
    });
    if (guardExchange(ex, o.guard)) return;

    // pass: target
    const snapshot = o.holder.current;
    const target = resolveTarget(req, snapshot);
    if (isTargetError(target)) {
      ex.path = req.url ?? '';
      return ex.fail(target.code, target.message);
    }
    ex.path = target.path;
    ex.destination = target.service;
    const via = req.headers.via;
    if (typeof via === 'string' && via.includes(loopToken)) {
      return ex.fail('LOOP_DETECTED', `request to '${target.service}' already passed through this Mesher (${loopToken})`);
    }

    // pass: service (a registered one, else an external host an egress rule lets through)
    let entry = snapshot.services.get(target.service);
    let rt = entry && o.runtimes.get(target.service);
    if ((!entry || !rt) && o.egress) {
      const ext = o.egress.resolve(snapshot, target.service, target.port ? Number(target.port) : 80, now());
      if (ext) {
        entry = ext.entry;
        rt = ext.runtime;
      }
    }
    if (!entry || !rt) return ex.fail('SERVICE_NOT_FOUND', `no service named '${target.service}' is registered`);

    // pass: route
    const routeReq = { source: o.edge ? 'outside' : o.serviceName, method: req.method ?? 'GET', path: target.path, headers: req.headers };
    const decision = decideRoute(entry, routeReq, random);
    ex.route = decision.route ? decision.route.id : null;
    const policy = rt.policyFor(decision.route);
    const t = now();
    const explain =
      o.explain && req.headers['x-mesher-explain'] === '1' && o.explain.allowed(req)
        ? startExplanation(ex.requestId, t, entry, routeReq, decision, policy)
        : null;
    if (explain) {
      ex.explain = explain;
      const log = o.explain!.log;
      ex.finally(() => log.add(explain));
    }

    // pass: rate limit (service, then per source)
    if (rt.limiter) {
      const r = rt.limiter.take(t);
      if (!r.ok) {
        o.observer?.onRateLimited?.(entry.name, 'service');
        return ex.fail('RATE_LIMITED', `rate limit for '${entry.name}' exceeded`, 429, retryAfter(r.retryAfterMs));
      }
    }
    if (rt.perSource) {
      // At the edge every caller is 'outside': limit per client address instead.
      const r = rt.perSource.take(o.edge ? `ip:${req.socket.remoteAddress ?? ''}` : ex.source, t);
      if (!r.ok) {
        o.observer?.onRateLimited?.(entry.name, 'source');
        return ex.fail('RATE_LIMITED', `rate limit for '${ex.source}' calling '${entry.name}' exceeded`, 429, retryAfter(r.retryAfterMs));
      }
    }
    const routeLimiter = rt.routeLimiter(decision.route, t);
    if (routeLimiter) {
      const r = routeLimiter.take(t);
      if (!r.ok) {
        o.observer?.onRateLimited?.(entry.name, 'route');
        return ex.fail('RATE_LIMITED', `rate limit of route '${decision.route!.id}' to '${entry.name}' exceeded`, 429, retryAfter(r.retryAfterMs));
      }
    }
    if (explain) explain.policies.rateLimit = rt.limiter || rt.perSource || routeLimiter ? 'admitted' : 'not limited';

    // pass: fault injection
    const fault = decideFault(policy.fault, req.headers, random);
    if (explain) explain.policies.fault = fault.abortStatus !== null ? `abort ${fault.abortStatus}` : fault.delayMs > 0 ? `delay ${fault.delayMs} ms` : 'none';
    if (fault.abortStatus !== null) {
      o.observer?.onFault?.(entry.name, 'abort');
      return ex.fail('FAULT_INJECTED', `fault injected by policy of '${entry.name}'`, fault.abortStatus);
    }

    // pass: circuit breaker
    let probe = false;
    if (rt.breaker) {
      const verdict = rt.breaker.acquire(t);
      if (explain) explain.policies.breaker = verdict === 'reject' ? 'open' : verdict === 'probe' ? 'half-open (probe)' : 'closed';
      if (verdict === 'reject') return ex.fail('CIRCUIT_OPEN', `circuit for '${entry.name}' is open`);
      probe = verdict === 'probe';
      const breaker = rt.breaker;
      ex.finally((ok) => {
        if (ok) breaker.onSuccess(now(), probe);
        else breaker.onFailure(now(), probe);
      });
    }

    // pass: headers (once; every attempt sends the same ones)
    const hasBody = requestHasBody(req);
    const headers = stripHopByHop(req.headers, true);
    headers.host = target.authority;
    headers['x-forwarded-for'] = appendForwardedFor(undefined, req.socket.remoteAddress ?? '');
    headers['x-forwarded-proto'] = forwardedProto(req.socket);
    headers['x-forwarded-host'] = target.authority;
    if (target.port) headers['x-forwarded-port'] = target.port;
    headers['x-request-id'] = ex.requestId;
    // This hop is a span of its own: same trace id, new span id, the caller's span as parent.
    propagateTrace(req.headers, headers, randomHex);
    if (ownName) headers['x-mesher-source'] = ownName;
    else delete headers['x-mesher-source'];
    headers.via = typeof via === 'string' && via ? `${via}, ${o.via}` : o.via;
    req.headers = headers;
    req.url = target.path;

    const requestMs = policy.timeout?.requestMs ?? 0;
    flight = {
      ex,
      rt,
      entry,
      policy,
      balancer: rt.balancerFor(decision.target, policy.loadBalancer),
      candidates: decision.candidates,
      tried: [],
      hasBody,
      body: undefined,
      handle: null,
      deadline: requestMs > 0 ? t + requestMs : Infinity,
      overallTimer: null,
      sessionKey: sessionKeyOf(policy, req),
      finished: false,
    };
    rt.budget.recordRequest(t);
    if (requestMs > 0) {
      const f = flight;
      f.overallTimer = setTimeout(() => {
        if (f.finished) return;
        endFlight(f);
        ex.fail('UPSTREAM_TIMEOUT', `'${entry.name}' did not answer within ${requestMs} ms`);
      }, requestMs);
    }
    const f = flight;
    const start = () => {
      if (fault.delayMs > 0) {
        o.observer?.onFault?.(entry.name, 'delay');
        setTimeout(() => {
          if (!f.finished && !res.destroyed) attempt(f);
        }, fault.delayMs);
      } else attempt(f);
    };
    if (hasBody && replayable(policy, req)) {
      // A streamed body is gone after the first attempt; one the policy lets us retry is read first.
      readBody(req, (body) => {
        if (f.finished || res.destroyed) return;
        f.body = body;
        start();
      });
    } else start();
  };

  function endFlight(f: Flight): void {
    if (f.finished) return;
    f.finished = true;
    if (f.overallTimer) clearTimeout(f.overallTimer);
    f.handle?.abort();
  }

  function attempt(f: Flight): void {
    const { ex, rt, entry } = f;
    const t = now();
    let pool = f.candidates;
    const outlier = rt.outlier;
    const unhealthy = rt.unhealthy;
    if (((outlier && outlier.anyEjected(t)) || (unhealthy && unhealthy.size > 0)) && pool.length > 0) {
      // Ejected (passive) and failing active checks: the same instance state, skipped alike.
      pool = pool.filter((i) => !(outlier && outlier.isEjected(i.id, t)) && !(unhealthy && unhealthy.has(i.id)));
    }
    if (f.tried.length > 0 && pool.length > 1) {
      // Retry on another instance first.
      const untried = pool.filter((i) => !f.tried.includes(i.id));
      if (untried.length > 0) pool = untried;
    }
    const ctx = { now: t, random, sessionKey: f.sessionKey };
    const inst = f.balancer.pick(pool, ctx);
    if (!inst) {
      endFlight(f);
      return ex.fail('NO_HEALTHY_INSTANCE', noInstanceMessage(entry, f.candidates.length > 0));
    }
    ex.attempts++;
    ex.instance = inst;
    f.tried.push(inst.id);
    const sidecar = inst.registeredBy.startsWith('sidecar:');
    if (o.meshSecret && sidecar) ex.req.headers['x-mesher-token'] = o.meshSecret;
    else delete ex.req.headers['x-mesher-token'];
    rt.load.begin(inst.id);
    // A per-try limit no shorter than what is left of the request's is the request's own timer's job:
    // one timer per request instead of two (0 = none here).
    const perTryMs = f.policy.timeout?.perTryMs;
    const left = f.deadline - t;
    const perTry = perTryMs !== undefined && perTryMs < left ? perTryMs : f.overallTimer ? 0 : left;
    let settled = false;
    const settle = (ok: boolean, outcome = ok ? 'ok' : 'failed') => {
      if (settled) return;
      settled = true;
      const t2 = now();
      ex.explain?.attempts.push({ instance: inst.id, endpoint: inst.endpoint, outcome, ms: t2 - t });
      rt.load.end(inst.id, t2 - t, t2);
      rt.outlier?.onResult(inst.id, ok, t2, entry.allInstances.length);
      f.balancer.reportResult?.(inst.id, ok, ctx);
    };
    ex.finally(() => settle(false)); // request ended with the attempt in flight (client gone)
    f.handle = o.transport.attempt(ex.req, inst.endpoint, perTry, {
      onResponse(upRes) {
        const status = upRes.statusCode ?? 502;
        settle(status < 500, String(status));
        if (status >= 500 && retryAllowed(f, { kind: 'status', status })) {
          upRes.resume();
          return retry(f);
        }
        f.finished = true;
        if (f.overallTimer) clearTimeout(f.overallTimer);
        relayResponse(ex, upRes, o.via);
      },
      onFailure(kind, err) {
        settle(false, kind);
        if (f.finished) return;
        // A failed handshake never reached the app: retried where a failed connect would be.
        if (retryAllowed(f, { kind: kind === 'tls' ? 'connect-failure' : kind })) return retry(f);
        endFlight(f);
        if (kind === 'tls') {
          ex.fail('UPSTREAM_TLS_ERROR', `instance ${inst.endpoint} of '${entry.name}' failed TLS: ${err.message}`);
        } else if (kind === 'timeout') {
          ex.fail('UPSTREAM_TIMEOUT', `instance ${inst.endpoint} of '${entry.name}' did not answer within ${Math.round(perTry)} ms`);
        } else {
          ex.fail('UPSTREAM_UNAVAILABLE', `instance ${inst.endpoint} of '${entry.name}' failed: ${kind} (${err.message})`);
        }
      },
    }, f.body ?? (f.hasBody ? 'stream' : 'none'), sidecar ? entry.name : undefined);
  }

  function retryAllowed(f: Flight, outcome: AttemptOutcome): boolean {
    const spec = f.policy.retry;
    // A body that streamed (was not read ahead) cannot be sent again.
    if (!spec || f.ex.attempts >= spec.attempts || (f.hasBody && !f.body)) return false;
    if (!isRetryableRequest(spec, f.ex.req.method ?? 'GET', f.hasBody) || !isRetryableOutcome(spec, outcome)) return false;
    const t = now();
    if (t >= f.deadline || f.ex.res.destroyed) return false;
    return f.rt.budget.tryWithdraw(t);
  }

  function retry(f: Flight): void {
    o.observer?.onRetry?.(f.entry.name);
    const delay = backoffMs(f.policy.retry!, f.ex.attempts, random);
    f.handle = null;
    setTimeout(() => {
      if (!f.finished && !f.ex.res.destroyed) attempt(f);
    }, delay);
  }
}

// Every request needs fresh trace/span ids. One randomBytes() per id is a getrandom syscall, and was
// the largest single cost in the handler's profile; ids are cut from a pool refilled 4 KiB at a time
// instead (as Node's randomUUID does). Each byte is used once.
const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

export const randomHex = (n: number): string => {
  if (n > RANDOM_POOL_BYTES) return randomBytes(n).toString('hex');
  if (randomPoolOffset + n > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString('hex', randomPoolOffset, randomPoolOffset + n);
  randomPoolOffset += n;
  return hex;
};

function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}

/** Largest request body read ahead for replay; larger or chunked bodies stream and are not retried. */
export const MAX_REPLAY_BODY_BYTES = 64 * 1024;

function replayable(policy: PolicySpec, req: IncomingMessage): boolean {
  const r = policy.retry;
  if (!r || r.retryNonIdempotent !== true || r.attempts < 2) return false;
  const len = Number(req.headers['content-length']);
  return Number.isInteger(len) && len > 0 && len <= MAX_REPLAY_BODY_BYTES;
}

/** Collects a request body (bounded by its content-length, which Node's parser enforces). */
function readBody(req: IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => done(Buffer.concat(chunks)));
}

function sessionKeyOf(policy: PolicySpec, req: IncomingMessage): string | undefined {
  const lb = policy.loadBalancer;
  if (!lb || lb.strategy !== 'SessionSticky') return undefined;
  if (lb.sessionHeader) {
    const v = req.headers[lb.sessionHeader.toLowerCase()];
    if (typeof v === 'string' && v) return v;
  }
  if (lb.sessionCookie && req.headers.cookie) {
    for (const part of req.headers.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === lb.sessionCookie) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

function noInstanceMessage(entry: ServiceEntry, hadCandidates: boolean): string {
  if (entry.allInstances.length === 0) return `service '${entry.name}' has no instances`;
  if (hadCandidates) return `every instance of '${entry.name}' is ejected after failures`;
  return `no instance of '${entry.name}' is UP (of ${entry.allInstances.length} registered)`;
}
