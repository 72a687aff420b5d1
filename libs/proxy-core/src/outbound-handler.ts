import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { continueTrace, traceHeaders } from '@mesher/observability';
import type { InstanceRecord, PolicySpec } from '@mesher/contracts';
import { backoffMs, decideFault, isRetryableOutcome, isRetryableRequest, type AttemptOutcome } from '@mesher/policies';
import { decideRoute, type SnapshotHolder, type ServiceEntry } from '@mesher/registry';
import { Exchange, type RequestObserver } from './exchange';
import { startExplanation, type ExplainLog } from './explain';
import { appendForwardedFor, stripHopByHop } from './forward-headers';
import { relayResponse } from './relay';
import { parseRequestTarget } from './request-target';
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
  /** Decision explainer: who may ask (x-mesher-explain: 1) and where explanations are kept. */
  explain?: { allowed(req: IncomingMessage): boolean; log: ExplainLog };
  now?: () => number;
  random?: () => number;
}

interface Flight {
  ex: Exchange;
  rt: ServiceRuntime;
  entry: ServiceEntry;
  policy: PolicySpec;
  candidates: readonly InstanceRecord[];
  tried: Set<string>;
  hasBody: boolean;
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

  return function handleOutbound(req, res) {
    const ex = new Exchange('outbound', req, res, o.observer, now());
    const incomingId = req.headers['x-request-id'];
    ex.requestId = typeof incomingId === 'string' && incomingId.length > 0 && incomingId.length <= 200 ? incomingId : randomUUID();
    ex.source = o.serviceName ?? 'unknown';
    let flight: Flight | null = null;
    res.once('close', () => {
      if (flight) endFlight(flight);
      ex.complete();
    });

    // pass: target
    const target = parseRequestTarget(req.url, req.headers.host);
    if (!target) {
      ex.path = req.url ?? '';
      return ex.fail('BAD_REQUEST', 'request has no usable target: send absolute-form (http://service/path) or a Host header naming a service');
    }
    ex.path = target.path;
    ex.destination = target.service;
    const via = req.headers.via;
    if (typeof via === 'string' && via.includes(loopToken)) {
      return ex.fail('LOOP_DETECTED', `request to '${target.service}' already passed through this Mesher (${loopToken})`);
    }

    // pass: service
    const snapshot = o.holder.current;
    const entry = snapshot.services.get(target.service);
    const rt = entry && o.runtimes.get(target.service);
    if (!entry || !rt) return ex.fail('SERVICE_NOT_FOUND', `no service named '${target.service}' is registered`);

    // pass: route
    const routeReq = { source: o.serviceName, method: req.method ?? 'GET', path: target.path, headers: req.headers };
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
      const r = rt.perSource.take(ex.source, t);
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
    const headers = stripHopByHop(req.headers);
    headers.host = target.authority;
    headers['x-forwarded-for'] = appendForwardedFor(undefined, req.socket.remoteAddress ?? '');
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = target.authority;
    if (target.port) headers['x-forwarded-port'] = target.port;
    else delete headers['x-forwarded-port'];
    delete headers.forwarded;
    headers['x-request-id'] = ex.requestId;
    // This hop is a span of its own: same trace id, new span id, the caller's span as parent.
    delete headers.b3;
    Object.assign(headers, traceHeaders(continueTrace(req.headers, randomHex)));
    if (o.serviceName) headers['x-mesher-source'] = o.serviceName;
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
      candidates: decision.candidates,
      tried: new Set(),
      hasBody,
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
    if (fault.delayMs > 0) {
      o.observer?.onFault?.(entry.name, 'delay');
      const f = flight;
      setTimeout(() => {
        if (!f.finished && !res.destroyed) attempt(f);
      }, fault.delayMs);
    } else attempt(flight);
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
    if ((outlier || (unhealthy && unhealthy.size > 0)) && pool.length > 0) {
      // Ejected (passive) and failing active checks: the same instance state, skipped alike.
      pool = pool.filter((i) => !(outlier && outlier.isEjected(i.id, t)) && !(unhealthy && unhealthy.has(i.id)));
    }
    if (f.tried.size > 0 && pool.length > 1) {
      // Retry on another instance first.
      const untried = pool.filter((i) => !f.tried.has(i.id));
      if (untried.length > 0) pool = untried;
    }
    const ctx = { now: t, random, sessionKey: f.sessionKey };
    const inst = rt.balancer.pick(pool, ctx);
    if (!inst) {
      endFlight(f);
      return ex.fail('NO_HEALTHY_INSTANCE', noInstanceMessage(entry, f.candidates.length > 0));
    }
    ex.attempts++;
    ex.instance = inst;
    f.tried.add(inst.id);
    if (o.meshSecret && inst.registeredBy.startsWith('sidecar:')) ex.req.headers['x-mesher-token'] = o.meshSecret;
    else delete ex.req.headers['x-mesher-token'];
    rt.load.begin(inst.id);
    const perTry = Math.min(f.policy.timeout?.perTryMs ?? Infinity, f.deadline - t);
    let settled = false;
    const settle = (ok: boolean, outcome = ok ? 'ok' : 'failed') => {
      if (settled) return;
      settled = true;
      const t2 = now();
      ex.explain?.attempts.push({ instance: inst.id, endpoint: inst.endpoint, outcome, ms: t2 - t });
      rt.load.end(inst.id, t2 - t, t2);
      rt.outlier?.onResult(inst.id, ok, t2, entry.allInstances.length);
      rt.balancer.reportResult?.(inst.id, ok, ctx);
    };
    ex.finally(() => settle(false)); // request ended with the attempt in flight (client gone)
    f.handle = o.transport.attempt(ex.req, ex.res, inst.endpoint, perTry, {
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
        if (retryAllowed(f, { kind })) return retry(f);
        endFlight(f);
        if (kind === 'timeout') {
          ex.fail('UPSTREAM_TIMEOUT', `instance ${inst.endpoint} of '${entry.name}' did not answer within ${Math.round(perTry)} ms`);
        } else {
          ex.fail('UPSTREAM_UNAVAILABLE', `instance ${inst.endpoint} of '${entry.name}' failed: ${kind} (${err.message})`);
        }
      },
    });
  }

  function retryAllowed(f: Flight, outcome: AttemptOutcome): boolean {
    const spec = f.policy.retry;
    if (!spec || f.ex.attempts >= spec.attempts || f.hasBody) return false;
    if (!isRetryableRequest(spec, f.ex.req.method ?? 'GET', false) || !isRetryableOutcome(spec, outcome)) return false;
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

export const randomHex = (n: number): string => randomBytes(n).toString('hex');

function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}

function requestHasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return len !== '0';
  return req.headers['transfer-encoding'] !== undefined;
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
