import * as fs from 'node:fs';
import type { EtcdRegistryOptions } from '@mesher/persistence';
import { loadTlsMaterial, type TlsLabels } from '@mesher/proxy-core';
import type { MesherConfig } from './config.schema';
import { ConfigError } from './config-error';

export type EtcdCredentials = Pick<EtcdRegistryOptions, 'auth' | 'tls'>;

const ETCD_SECURITY = [
  ['etcdCa', '--etcd-ca'],
  ['etcdCert', '--etcd-cert'],
  ['etcdKey', '--etcd-key'],
  ['etcdUsername', '--etcd-username'],
  ['etcdPassword', '--etcd-password'],
  ['etcdPasswordFile', '--etcd-password-file'],
] as const;

const ETCD_TLS_LABELS: TlsLabels = { cert: '--etcd-cert', key: '--etcd-key', ca: '--etcd-ca' };

function readFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError(`invalid ${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The password from MESHER_ETCD_PASSWORD / --etcd-password or the file; one trailing newline (`echo pw > file`) is not part of it. */
function password(cfg: MesherConfig): string | null {
  if (cfg.etcdPasswordFile === null) return cfg.etcdPassword;
  if (cfg.etcdPassword !== null) throw new ConfigError('invalid --etcd-password-file: give the password either in a file or as --etcd-password / MESHER_ETCD_PASSWORD, not both');
  const pw = readFile('--etcd-password-file', cfg.etcdPasswordFile).toString('utf8').replace(/\r?\n$/, '');
  if (pw.length === 0) throw new ConfigError(`invalid --etcd-password-file: ${cfg.etcdPasswordFile} is empty`);
  return pw;
}

/**
 * TLS and user/password for etcd, read from the files the options name and checked so that a wrong file stops
 * start-up with a message naming the option (rather than as a TLS or login failure later). TLS files need
 * https:// endpoints: an http:// endpoint must not quietly switch to TLS, nor an https:// one quietly lack it.
 */
export function etcdCredentials(cfg: MesherConfig): EtcdCredentials {
  const given = ETCD_SECURITY.filter(([key]) => cfg[key] !== null);
  if (cfg.registry !== 'etcd') {
    if (given.length > 0) throw new ConfigError(`invalid ${given[0][1]}: etcd options need --registry etcd`);
    return {};
  }
  const secure = cfg.etcdEndpoints.filter((u) => u.startsWith('https://')).length;
  if (secure > 0 && secure < cfg.etcdEndpoints.length) {
    throw new ConfigError('invalid --etcd-endpoints: mixes https:// and http:// endpoints (TLS is all or nothing)');
  }
  const tlsFlag = given.find(([key]) => key === 'etcdCa' || key === 'etcdCert' || key === 'etcdKey');
  if (tlsFlag && secure === 0) throw new ConfigError(`invalid ${tlsFlag[1]}: TLS to etcd needs https:// endpoints in --etcd-endpoints`);
  if (cfg.etcdCert !== null && cfg.etcdKey === null) throw new ConfigError('invalid --etcd-cert: needs --etcd-key (its private key)');
  if (cfg.etcdKey !== null && cfg.etcdCert === null) throw new ConfigError('invalid --etcd-key: needs --etcd-cert (the certificate it belongs to)');

  const out: EtcdCredentials = {};
  if (tlsFlag) {
    // The same checks as the mesh's own certificates (readable, PEM, the key of the certificate), named by etcd's options.
    let m;
    try {
      m = loadTlsMaterial({ cert: cfg.etcdCert, key: cfg.etcdKey, ca: cfg.etcdCa }, ETCD_TLS_LABELS);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    if (m.leaf && Date.parse(m.leaf.validTo) < Date.now()) throw new ConfigError(`invalid --etcd-cert: ${cfg.etcdCert} expired on ${m.leaf.validTo}`);
    out.tls = {
      ...(m.ca ? { ca: m.ca } : {}),
      ...(m.cert && m.key ? { cert: m.cert, key: m.key } : {}),
    };
  }
  const pw = password(cfg);
  if (cfg.etcdUsername === null && pw !== null) {
    throw new ConfigError(`invalid ${cfg.etcdPasswordFile !== null ? '--etcd-password-file' : '--etcd-password'}: a password needs --etcd-username`);
  }
  if (cfg.etcdUsername !== null) {
    if (pw === null) throw new ConfigError('invalid --etcd-username: needs a password (MESHER_ETCD_PASSWORD, --etcd-password-file or --etcd-password)');
    out.auth = { username: cfg.etcdUsername, password: pw };
  }
  return out;
}
