import { Controller, Get, Header } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { SnapshotHolder } from '@mesher/registry';
import { ProxyService } from '../proxy/proxy.service';
import { ObservabilityService } from './observability.service';

/** Prometheus exposition; gauges are computed at scrape time so the hot path never updates them. */
@ApiTags('observability')
@Controller()
export class MetricsController {
  constructor(
    private readonly obs: ObservabilityService,
    private readonly proxy: ProxyService,
    private readonly holder: SnapshotHolder,
  ) {}

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics() {
    return this.scrape();
  }

  /** ServiceComb Mesher's path for the same data. */
  @Get('v1/mesher/metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  mesherMetrics() {
    return this.scrape();
  }

  private scrape(): Promise<string> {
    const m = this.obs.metrics;
    const snap = this.holder.current;
    const now = Date.now();
    const counts: Array<{ service: string; status: string; count: number }> = [];
    for (const [name, entry] of snap.services) {
      for (const status of ['UP', 'DOWN', 'DRAINING'] as const) {
        counts.push({ service: name, status, count: entry.allInstances.filter((i) => i.status === status).length });
      }
      const rt = this.proxy.runtimes.get(name);
      if (rt?.breaker) m.setCircuitState(name, rt.breaker.state(now));
      m.setEjected(name, rt?.outlier ? rt.outlier.ejectedIds(now).length : 0);
    }
    m.setInstances(counts);
    m.setSnapshot(snap.revision, snap.builtAt);
    return m.exposition();
  }
}
