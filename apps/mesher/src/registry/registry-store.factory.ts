import { Logger } from '@nestjs/common';
import { EtcdRegistryStore, EtcdRejectedError, SqliteRegistryStore, type RegistryStore } from '@mesher/persistence';
import type { DataSource } from 'typeorm';
import type { MesherConfig } from '../config/config.schema';
import { etcdCredentials } from '../config/etcd-credentials';

/** Which options to look at when etcd refuses us at start-up. */
const HINT: Record<EtcdRejectedError['reason'], string> = {
  credentials: 'check --etcd-username and its password (--etcd-password-file, MESHER_ETCD_PASSWORD)',
  permission: "give --etcd-username's role read-write access to the registry prefix (/mesher/)",
  'server-certificate': "check --etcd-ca: it must hold the CA that signed etcd's certificate, and that certificate must name the endpoint's host",
  'client-certificate': 'check --etcd-cert and --etcd-key: etcd runs with --client-cert-auth',
};

/** The registry store chosen by `--registry`: SQLite itself, or etcd with the SQLite file as its local cache. */
export function createRegistryStore(cfg: MesherConfig, ds: DataSource): RegistryStore | Promise<RegistryStore> {
  return cfg.registry === 'etcd' ? openEtcd(cfg, ds) : new SqliteRegistryStore(ds);
}

async function openEtcd(cfg: MesherConfig, ds: DataSource): Promise<RegistryStore> {
  const log = new Logger('etcd');
  try {
    return await EtcdRegistryStore.open({
      endpoints: cfg.etcdEndpoints,
      ...etcdCredentials(cfg),
      cache: ds,
      log: (level, msg) => (level === 'info' ? log.log(msg) : level === 'warn' ? log.warn(msg) : log.error(msg)),
    });
  } catch (e) {
    if (e instanceof EtcdRejectedError) throw new Error(`${e.message} (${HINT[e.reason]})`);
    throw e;
  }
}
