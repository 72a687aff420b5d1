import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { createAccessLog, MesherMetrics, TrafficStats, type AccessLog } from '@mesher/observability';
import type { CompletedExchange, RequestObserver } from '@mesher/proxy-core';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG } from '../tokens';

/**
 * Receives every finished request from the data plane and feeds metrics, live traffic statistics and
 * the access log. All three are in memory and O(1) per request; persistence happens off the hot path.
 */
@Injectable()
export class ObservabilityService implements OnApplicationShutdown {
  readonly metrics = new MesherMetrics({ defaultMetrics: true });
  readonly traffic = new TrafficStats();
  readonly accessLog: AccessLog;
  readonly observer: RequestObserver;
  private readonly flushTimer: NodeJS.Timeout | null = null;

  constructor(@Inject(MESHER_CONFIG) cfg: MesherConfig) {
    this.accessLog = createAccessLog({ enabled: cfg.accessLog });
    // Lines are written in 4 KiB batches; a quiet service still gets its lines out within a second.
    if (cfg.accessLog) {
      this.flushTimer = setInterval(() => void this.accessLog.flush().catch(() => undefined), 1000);
      this.flushTimer.unref();
    }
    const { metrics, traffic, accessLog } = this;
    this.observer = {
      onComplete(e: CompletedExchange) {
        // The exchange carries every label field already: no second object per request.
        metrics.observeRequest(e, e.durationMs);
        traffic.record(
          {
            source: e.source,
            destination: e.destination,
            instanceId: e.instance,
            status: e.status,
            durationMs: e.durationMs,
            error: e.code !== null || e.status >= 500,
          },
          e.startedAt + e.durationMs,
        );
        if (accessLog.enabled) {
          accessLog.log({
            time: e.startedAt,
            requestId: e.requestId,
            direction: e.direction,
            method: e.method,
            path: e.path,
            source: e.source,
            destination: e.destination,
            route: e.route,
            instance: e.instance,
            attempts: e.attempts,
            status: e.status,
            bytes: e.bytes,
            durationMs: Math.round(e.durationMs * 1000) / 1000,
            code: e.code,
          });
        }
      },
      onRetry: (d) => metrics.incRetry(d),
      onRateLimited: (d, scope) => metrics.incRateLimited(d, scope),
      onFault: (d, kind) => metrics.incFault(d, kind),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.accessLog.close();
  }
}
