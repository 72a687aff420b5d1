import { Between, LessThan, type DataSource } from 'typeorm';
import { TrafficRollupEntity } from './entities/traffic-rollup.entity';
import { retryWhileLocked, writeQueueOf } from './sqlite-faults';

import type { MinuteRollup } from '@mesher/observability';

/** A stored rollup is exactly what the in-memory statistics drain. */
export type TrafficRollupRecord = MinuteRollup;

/** Per-minute edge rollups in the local SQLite file: written in batches, read for charts, pruned by age. */
export class TrafficHistoryStore {
  constructor(private readonly ds: DataSource) {}

  async append(rows: readonly TrafficRollupRecord[]): Promise<void> {
    if (rows.length === 0) return;
    // One transaction per batch, queued behind the registry's writes on the shared connection and retried
    // on timers while another process holds the lock; a re-drained minute (after a restart) replaces its row.
    await retryWhileLocked(() =>
      writeQueueOf(this.ds).run(() =>
        this.ds.transaction(async (m) => {
          for (let i = 0; i < rows.length; i += 200) await m.upsert(TrafficRollupEntity, rows.slice(i, i + 200) as TrafficRollupEntity[], ['minute', 'source', 'destination']);
        }),
      ),
    );
  }

  async query(from: number, to: number, destination?: string): Promise<TrafficRollupRecord[]> {
    return this.ds.getRepository(TrafficRollupEntity).find({
      where: { minute: Between(from, to), ...(destination ? { destination } : {}) },
      order: { minute: 'ASC', source: 'ASC' },
    });
  }

  /** Deletes rollups older than `before`; returns how many. */
  async prune(before: number): Promise<number> {
    const r = await retryWhileLocked(() => writeQueueOf(this.ds).run(() => this.ds.getRepository(TrafficRollupEntity).delete({ minute: LessThan(before) })));
    return r.affected ?? 0;
  }
}
