import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { RegistryStatus } from '@mesher/persistence';
import { SnapshotHolder } from '@mesher/registry';
import { RegistryService } from '../registry/registry.service';

/** Which registry store is in use and whether it answers (the dashboard shows it). */
@ApiTags('registry')
@Controller('v1/registry')
export class RegistryController {
  constructor(
    private readonly registry: RegistryService,
    private readonly holder: SnapshotHolder,
  ) {}

  @Get()
  async status(): Promise<RegistryStatus> {
    const store = this.registry.store;
    if (store.status) return store.status();
    // SQLite has no connection: it is "connected" when it answers a query.
    const connected = await store.ping().then(
      () => true,
      () => false,
    );
    const revision = this.holder.current.revision;
    return { kind: store.kind, connected, endpoints: [], source: 'sqlite', lastSyncAt: null, revision, configRevision: revision, lastError: connected ? null : this.registry.lastError };
  }
}
