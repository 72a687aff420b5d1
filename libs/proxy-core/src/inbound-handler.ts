import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { propagateTrace } from '@mesher/observability';
import type { SnapshotHolder } from '@mesher/registry';
import { Exchange, type RequestObserver } from './exchange';
import { appendForwardedFor, stripHopByHop } from './forward-headers';
import { inboundCaller } from './mesh-trust';
import { relayResponse } from './relay';
import { requestHasBody } from './request-body';
import { guardExchange, type RequestGuard } from './request-guard';
import { randomHex } from './outbound-handler';
import type { RuntimeTable } from './service-runtime';
import type { UpstreamTransport } from './upstream-transport';

export interface InboundOptions {
  /** The local app, e.g. http://127.0.0.1:8080 */
  appUrl: string;
  serviceName: string;
  holder: SnapshotHolder;
  runtimes: RuntimeTable;
  transport: UpstreamTransport;
  via: string;
  /**
   * x-mesher-source is only believed from callers that prove they are a Mesher: with a mesh secret,
   * by sending it in x-mesher-token; without one, only from loopback (a sidecar on this host).
   */
  meshSecret: string | null;
  timeoutMs: number;
  observer?: RequestObserver;
  /** Hostile-input checks, limits and load shedding, run before anything else. */
  guard?: RequestGuard;
  now?: () => number;
}

/** Provider side: guards and forwards traffic from other Meshers (or plain clients) to the local app. */
export function createInboundHandler(o: InboundOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const now = o.now ?? Date.now;
  return function handleInbound(req, res) {
    const ex = new Exchange('inbound', req, res, o.observer, now());
    const incomingId = req.headers['x-request-id'];
    ex.requestId = typeof incomingId === 'string' && incomingId.length > 0 && incomingId.length <= 200 ? incomingId : randomUUID();
    ex.destination = o.serviceName;
    ex.path = req.url ?? '/';
    res.on('close', () => {
      handle?.abort();
      ex.complete();
    });
    let handle: { abort(): void } | null = null;
    if (guardExchange(ex, o.guard)) return;

    const { trusted, source } = inboundCaller(req, o.meshSecret);
    ex.source = source;

    if (!ex.path.startsWith('/')) {
      return ex.fail('BAD_REQUEST', 'the inbound listener takes origin-form requests (GET /path), not proxy requests');
    }
    const rt = o.runtimes.get(o.serviceName);
    const t = now();
    if (rt?.limiter) {
      const r = rt.limiter.take(t);
      if (!r.ok) {
        o.observer?.onRateLimited?.(o.serviceName, 'service');
        return ex.fail('RATE_LIMITED', `rate limit for '${o.serviceName}' exceeded`, 429, { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) });
      }
    }
    if (rt?.perSource) {
      const r = rt.perSource.take(ex.source, t);
      if (!r.ok) {
        o.observer?.onRateLimited?.(o.serviceName, 'source');
        return ex.fail('RATE_LIMITED', `rate limit for '${ex.source}' calling '${o.serviceName}' exceeded`, 429, { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) });
      }
    }

    // Read before the framing headers are stripped.
    const body = requestHasBody(req) ? 'stream' : 'none';
    // Forwarded identity from a caller that is not a Mesher is the caller's own claim: dropped.
    const headers = stripHopByHop(req.headers, !trusted);
    headers['x-forwarded-for'] = appendForwardedFor(trusted ? req.headers['x-forwarded-for'] : undefined, req.socket.remoteAddress ?? '');
    headers['x-request-id'] = ex.requestId;
    propagateTrace(req.headers, headers, randomHex);
    headers['x-mesher-source'] = ex.source;
    delete headers['x-mesher-token'];
    const via = req.headers.via;
    headers.via = typeof via === 'string' && via ? `${via}, ${o.via}` : o.via;
    req.headers = headers;
    ex.attempts = 1;
    handle = o.transport.attempt(req, o.appUrl, o.timeoutMs, {
      onResponse: (upRes) => relayResponse(ex, upRes, o.via),
      onFailure: (kind, err) => {
        if (kind === 'timeout') ex.fail('UPSTREAM_TIMEOUT', `local app '${o.serviceName}' did not answer within ${o.timeoutMs} ms`);
        else ex.fail('APP_UNAVAILABLE', `local app '${o.serviceName}' at ${o.appUrl} failed: ${kind} (${err.message})`);
      },
    }, body);
  };
}
