import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { SnapshotHolder } from '@mesher/registry';
import { ProxyService } from '../proxy/proxy.service';
import { RegistryService } from '../registry/registry.service';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly registry: RegistryService,
    private readonly proxy: ProxyService,
    private readonly holder: SnapshotHolder,
  ) {}

  /** The process answers: nothing else is checked, so a slow store never gets it restarted. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([async () => this.indicator.check('process').up({ pid: process.pid })]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async (): Promise<HealthIndicatorResult> => {
        const i = this.indicator.check('registry');
        try {
          await this.registry.store.ping();
          return i.up({ store: this.registry.store.kind });
        } catch (e) {
          return i.down({ store: this.registry.store.kind, message: (e as Error).message });
        }
      },
      async () => {
        const i = this.indicator.check('proxy');
        return this.proxy.outbound?.listening ? i.up({ address: this.proxy.outbound.address() }) : i.down({ message: 'outbound listener is not up' });
      },
      async () => {
        const i = this.indicator.check('snapshot');
        const s = this.holder.current;
        const built = this.registry.lastError === null;
        const details = { revision: s.revision, builtAt: new Date(s.builtAt).toISOString(), services: s.services.size };
        return built ? i.up(details) : i.down({ ...details, message: this.registry.lastError });
      },
    ]);
  }
}
