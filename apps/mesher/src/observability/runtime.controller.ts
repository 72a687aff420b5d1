import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminError } from '@mesher/contracts';
import { SnapshotHolder } from '@mesher/registry';
import { ProxyService } from '../proxy/proxy.service';

/** This Mesher's live data-plane view of a service: circuit state and per-instance health and load. */
@ApiTags('observability')
@Controller('v1/runtime')
export class RuntimeController {
  constructor(
    private readonly proxy: ProxyService,
    private readonly holder: SnapshotHolder,
  ) {}

  @Get(':service')
  state(@Param('service') service: string) {
    const entry = this.holder.current.services.get(service);
    const rt = this.proxy.runtimes.get(service);
    if (!entry || !rt) throw new AdminError('NOT_FOUND', `no service named '${service}'`);
    const now = Date.now();
    return {
      service,
      circuit: rt.breaker ? rt.breaker.state(now) : 'off',
      instances: entry.allInstances.map((i) => ({
        id: i.id,
        endpoint: i.endpoint,
        status: i.status,
        routable: entry.instances.includes(i),
        ejected: rt.outlier ? rt.outlier.isEjected(i.id, now) : false,
        unhealthy: rt.unhealthy ? rt.unhealthy.has(i.id) : false,
        inflight: rt.load.inflight(i.id),
        latencyMs: Math.round(rt.load.latency(i.id, now) * 100) / 100,
      })),
    };
  }
}
