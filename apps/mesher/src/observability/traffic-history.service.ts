import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { TrafficStats } from '@mesher/observability';
import type { TrafficHistoryStore } from '@mesher/persistence';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG, TRAFFIC_HISTORY } from '../tokens';
import { ObservabilityService } from './observability.service';

/** Moves finished minutes from the in-memory statistics to SQLite, in batches, and prunes old ones. */
export class TrafficHistoryWriter {
  constructor(
    private readonly traffic: TrafficStats,
    private readonly store: TrafficHistoryStore,
    private readonly retentionMs: number,
  ) {}

  /** Writes every completed minute not yet written; returns how many rows. */
  async flush(now: number): Promise<number> {
    const rows = this.traffic.drainMinuteRollups(now);
    await this.store.append(rows);
    return rows.length;
  }

  prune(now: number): Promise<number> {
    return this.store.prune(now - this.retentionMs);
  }
}

@Injectable()
export class TrafficHistoryService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('traffic-history');
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  readonly writer: TrafficHistoryWriter;

  constructor(
    @Inject(MESHER_CONFIG) cfg: MesherConfig,
    @Inject(TRAFFIC_HISTORY) readonly store: TrafficHistoryStore,
    obs: ObservabilityService,
  ) {
    this.writer = new TrafficHistoryWriter(obs.traffic, store, cfg.trafficRetentionMs);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), 5000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.writer.flush(Date.now()).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    try {
      await this.writer.flush(now);
      if (++this.ticks % 12 === 0) await this.writer.prune(now);
    } catch (e) {
      this.log.warn(`cannot write traffic history: ${(e as Error).message}`);
    }
  }
}
