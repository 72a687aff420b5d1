import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { InstanceEntity } from './entities/instance.entity';
import { PolicyEntity } from './entities/policy.entity';
import { RevisionEntity } from './entities/revision.entity';
import { RouteRuleEntity } from './entities/route-rule.entity';
import { ServiceEntity } from './entities/service.entity';
import { TrafficRollupEntity } from './entities/traffic-rollup.entity';
import { checkDatabaseFile, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-faults';
import { Initial1764000000000 } from './migrations/1764000000000-initial.migration';
import { TrafficRollup1764000000001 } from './migrations/1764000000001-traffic-rollup.migration';
import { RevisionConfig1764000000002 } from './migrations/1764000000002-revision-config.migration';
import { EdgeRules1764000000003 } from './migrations/1764000000003-edge-rules.migration';
import { RegistryChange1764000000004 } from './migrations/1764000000004-registry-change.migration';
import { EgressRuleEntity } from './entities/egress-rule.entity';
import { IngressRuleEntity } from './entities/ingress-rule.entity';

export const ENTITIES = [ServiceEntity, InstanceEntity, RouteRuleEntity, PolicyEntity, RevisionEntity, TrafficRollupEntity, IngressRuleEntity, EgressRuleEntity];
export const MIGRATIONS = [Initial1764000000000, TrafficRollup1764000000001, RevisionConfig1764000000002, EdgeRules1764000000003, RegistryChange1764000000004];

const BOOT_BUSY_TIMEOUT_MS = 5000;

export function dataSourceOptions(dataDir: string): DataSourceOptions {
  return {
    type: 'better-sqlite3',
    database: path.join(dataDir, 'mesher.db'),
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    // WAL: readers never block the writer, and several Meshers on one host can share the file.
    enableWAL: true,
    // At boot (migrations, before any listener is up) wait for another Mesher's write lock; openDataSource then
    // lowers the wait to SQLITE_BUSY_TIMEOUT_MS, because once serving it blocks the event loop, proxy included.
    timeout: BOOT_BUSY_TIMEOUT_MS,
    prepareDatabase: (db: { pragma(s: string): unknown }) => {
      db.pragma(`busy_timeout = ${BOOT_BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
    },
  };
}

/** Opens (creating the directory) and migrates the SQLite store. */
export async function openDataSource(dataDir: string): Promise<DataSource> {
  fs.mkdirSync(dataDir, { recursive: true });
  checkDatabaseFile(path.join(dataDir, 'mesher.db'));
  // Meshers started together on a fresh shared file race to switch it to WAL and migrate it; SQLite answers
  // the journal-mode switch with SQLITE_BUSY at once (no busy handler), and TypeORM checks for its migrations
  // table before creating it; the loser of either race tries again (bounded) and finds the winner's work.
  const deadline = Date.now() + BOOT_BUSY_TIMEOUT_MS;
  let ds: DataSource;
  for (;;) {
    ds = new DataSource(dataSourceOptions(dataDir));
    try {
      await ds.initialize();
      break;
    } catch (e) {
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
      if (!/database is locked|SQLITE_BUSY|already exists/i.test(String((e as Error).message)) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 100)));
    }
  }
  // From here on, writes that meet a lock are retried on timers by the store (retryWhileLocked).
  await ds.query(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  return ds;
}
