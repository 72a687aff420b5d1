import { Logger } from '@nestjs/common';
import { EtcdRegistryStore, SqliteRegistryStore, type RegistryStore } from '@mesher/persistence';
import type { DataSource } from 'typeorm';
import type { MesherConfig } from '../config/config.schema';

/** The registry store chosen by `--registry`: SQLite itself, or etcd with the SQLite file as its local cache. */
export function createRegistryStore(cfg: MesherConfig, ds: DataSource): RegistryStore | Promise<RegistryStore> {
  if (cfg.registry !== 'etcd') return new SqliteRegistryStore(ds);
  const log = new Logger('etcd');
  return EtcdRegistryStore.open({
    endpoints: cfg.etcdEndpoints,
    cache: ds,
    log: (level, msg) => (level === 'info' ? log.log(msg) : level === 'warn' ? log.warn(msg) : log.error(msg)),
  });
}
