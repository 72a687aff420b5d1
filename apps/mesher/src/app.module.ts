import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { openDataSource, TrafficHistoryStore } from '@mesher/persistence';
import type { DataSource } from 'typeorm';
import { SnapshotHolder } from '@mesher/registry';
import { AdminAuthGuard } from './admin/admin-auth.guard';
import { AdminErrorFilter } from './admin/admin-error.filter';
import { EgressController, IngressController } from './admin/edge-rules.controller';
import { EdgeRulesService } from './admin/edge-rules.service';
import { MesherCompatController } from './admin/mesher-compat.controller';
import { PoliciesController } from './admin/policies.controller';
import { PoliciesService } from './admin/policies.service';
import { RoutesController } from './admin/routes.controller';
import { RoutesService } from './admin/routes.service';
import { ServicesController } from './admin/services.controller';
import { ServicesService } from './admin/services.service';
import { createValidationPipe } from './admin/validation.pipe';
import type { MesherConfig } from './config/config.schema';
import { ConfigController } from './config-as-code/config.controller';
import { ConfigService } from './config-as-code/config.service';
import { HealthController } from './health/health.controller';
import { ExplainController } from './observability/explain.controller';
import { MetricsController } from './observability/metrics.controller';
import { RuntimeController } from './observability/runtime.controller';
import { ObservabilityService } from './observability/observability.service';
import { TrafficController } from './observability/traffic.controller';
import { ProxyService } from './proxy/proxy.service';
import { RegistryService } from './registry/registry.service';
import { createRegistryStore } from './registry/registry-store.factory';
import { RegistryController } from './admin/registry.controller';
import { AppHealthService } from './sidecar/app-health.service';
import { RegistrationService } from './sidecar/registration.service';
import { TrafficHistoryService } from './observability/traffic-history.service';
import { MESHER_CONFIG, REGISTRY_STORE, SQLITE_DATA_SOURCE, TRAFFIC_HISTORY } from './tokens';

@Module({})
export class AppModule {
  static forRoot(cfg: MesherConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [TerminusModule],
      controllers: [ServicesController, RoutesController, PoliciesController, MesherCompatController, HealthController, MetricsController, TrafficController, ExplainController, ConfigController, IngressController, EgressController, RegistryController, RuntimeController],
      providers: [
        { provide: MESHER_CONFIG, useValue: cfg },
        // The local SQLite file: the registry (or its cache under etcd) and the traffic history.
        { provide: SQLITE_DATA_SOURCE, useFactory: () => openDataSource(cfg.dataDir) },
        {
          provide: REGISTRY_STORE,
          useFactory: (ds: DataSource) => createRegistryStore(cfg, ds),
          inject: [SQLITE_DATA_SOURCE],
        },
        { provide: TRAFFIC_HISTORY, useFactory: (ds: DataSource) => new TrafficHistoryStore(ds), inject: [SQLITE_DATA_SOURCE] },
        TrafficHistoryService,
        { provide: SnapshotHolder, useValue: new SnapshotHolder() },
        // Registered in the module (not in main.ts) so every test app gets the same validation and errors.
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AdminErrorFilter },
        { provide: APP_GUARD, useClass: AdminAuthGuard },
        RegistryService,
        ObservabilityService,
        ProxyService,
        ServicesService,
        RoutesService,
        PoliciesService,
        ConfigService,
        EdgeRulesService,
        RegistrationService,
        AppHealthService,
      ],
    };
  }
}
