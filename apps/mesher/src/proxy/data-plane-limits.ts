import { Counter, Gauge, type Registry } from 'prom-client';
import { OverloadGuard, type ListenerOptions, type ProxyServer, type RequestGuard } from '@mesher/proxy-core';
import type { MesherConfig } from '../config/config.schema';

/** The configured limits of both proxy listeners (upgrade handlers are added per listener). */
export function listenerOptions(cfg: MesherConfig): ListenerOptions {
  return {
    maxHeaderSize: cfg.maxHeaderSize,
    maxHeaderCount: cfg.maxHeaderCount,
    headersTimeoutMs: cfg.headersTimeoutMs,
    bodyIdleTimeoutMs: cfg.requestBodyTimeoutMs,
    maxConnections: cfg.maxConnections,
  };
}

export function overloadGuard(cfg: MesherConfig): OverloadGuard {
  return new OverloadGuard({ maxEventLoopDelayMs: cfg.overloadEventLoopDelayMs, maxHeapPercent: cfg.overloadHeapPercent });
}

export function requestGuard(cfg: MesherConfig, overload: OverloadGuard): RequestGuard {
  return { limits: { maxUrlLength: cfg.maxUrlLength, maxHeaderCount: cfg.maxHeaderCount }, overload: overload.enabled ? overload : null };
}

/** Listener refusals and load shedding on /metrics, read at scrape time (nothing on the hot path). */
export function registerDataPlaneMetrics(registry: Registry, listeners: () => Array<[string, ProxyServer | null]>, overload: OverloadGuard): void {
  new Counter({
    name: 'mesher_listener_refused_connections_total',
    help: 'Connections refused because a proxy listener was at --max-connections',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, s] of listeners()) if (s) this.inc({ listener: name }, s.refusedConnections);
    },
  });
  new Counter({
    name: 'mesher_request_body_timeouts_total',
    help: 'Requests answered 408 (or cut) because their body stalled past --request-body-timeout',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, s] of listeners()) if (s) this.inc({ listener: name }, s.bodyTimeouts);
    },
  });
  new Gauge({
    name: 'mesher_upgraded_connections',
    help: 'Upgraded (WebSocket) connections open now',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      for (const [name, s] of listeners()) if (s) this.set({ listener: name }, s.upgradedConnections);
    },
  });
  new Counter({
    name: 'mesher_overload_shed_requests_total',
    help: 'Requests shed with 503 OVERLOADED (event-loop delay or heap use over the limit)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(overload.shed);
    },
  });
  new Gauge({
    name: 'mesher_overloaded',
    help: '1 while requests are being shed for overload',
    registers: [registry],
    collect() {
      this.set(overload.reason === null ? 0 : 1);
    },
  });
}
