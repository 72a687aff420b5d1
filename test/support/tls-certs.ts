import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './mesher-process';

/** PEM files of one certificate and its key, on disk (Mesher and etcd read certificates from files). */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throwaway certificate authority made with the system's openssl, in a temporary directory. */
export interface TestCa {
  dir: string;
  /** The CA certificate file (PEM). */
  caFile: string;
  /**
   * Issues a leaf certificate signed by this CA. `sans` are subjectAltName entries in openssl syntax,
   * e.g. ['DNS:cart', 'IP:127.0.0.1', 'URI:spiffe://mesher/cart']. Usable as server and client certificate.
   */
  issue(name: string, sans: string[], opts?: { days?: number }): CertFiles;
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates a CA (EC P-256: fast to generate). Each call is independent: two CAs never trust each other. */
export function createTestCa(commonName = 'mesher-test-ca'): TestCa {
  const dir = tempDir('mesher-ca-');
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.crt');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey], dir);
  openssl(['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '2', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', caFile], dir);
  let serial = 1;
  return {
    dir,
    caFile,
    issue(name, sans, opts = {}) {
      const base = path.join(dir, `${name}-${serial}`);
      const key = `${base}.key`;
      const csr = `${base}.csr`;
      const cert = `${base}.crt`;
      const ext = `${base}.ext`;
      fs.writeFileSync(ext, [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      ].join('\n') + '\n');
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
      openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++),
        '-days', String(opts.days ?? 2), '-sha256', '-extfile', ext, '-out', cert], dir);
      return { cert, key };
    },
    dispose() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
