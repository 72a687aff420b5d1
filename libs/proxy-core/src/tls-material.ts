import * as fs from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';

/** Paths of a certificate, its key and a CA bundle; any may be absent. */
export interface TlsFiles {
  cert: string | null;
  key: string | null;
  ca: string | null;
}

/** The option each file came from, used to name it in errors (e.g. '--tls-cert'). */
export type TlsLabels = Record<keyof TlsFiles, string>;

/** The PEM contents, checked: the certificate parses, the key parses and belongs to it, the CA parses. */
export interface TlsMaterial {
  cert: Buffer | null;
  key: Buffer | null;
  ca: Buffer | null;
  /** The leaf certificate's names and serial, for logs and start-up warnings. */
  leaf: X509Certificate | null;
}

export class TlsFileError extends Error {
  override name = 'TlsFileError';
  constructor(readonly which: keyof TlsFiles, message: string) {
    super(message);
  }
}

function read(which: keyof TlsFiles, file: string, label: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TlsFileError(which, `invalid ${label}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Reads and checks the files (synchronously: at start-up and on rotation only, never per request). */
export function loadTlsMaterial(files: TlsFiles, labels: TlsLabels): TlsMaterial {
  return checkTlsMaterial(
    files,
    labels,
    files.cert ? read('cert', files.cert, labels.cert) : null,
    files.key ? read('key', files.key, labels.key) : null,
    files.ca ? read('ca', files.ca, labels.ca) : null,
  );
}

export function checkTlsMaterial(files: TlsFiles, labels: TlsLabels, cert: Buffer | null, key: Buffer | null, ca: Buffer | null): TlsMaterial {
  let leaf: X509Certificate | null = null;
  if (cert) {
    try {
      leaf = new X509Certificate(cert);
    } catch (e) {
      throw new TlsFileError('cert', `invalid ${labels.cert}: ${files.cert} holds no PEM certificate (${(e as Error).message})`);
    }
  }
  if (key) {
    let k;
    try {
      k = createPrivateKey(key);
    } catch (e) {
      throw new TlsFileError('key', `invalid ${labels.key}: ${files.key} holds no PEM private key (${(e as Error).message})`);
    }
    if (leaf && !leaf.checkPrivateKey(k)) {
      throw new TlsFileError('key', `invalid ${labels.key}: ${files.key} is not the key of the certificate in ${labels.cert} (${files.cert})`);
    }
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw new TlsFileError('ca', `invalid ${labels.ca}: ${files.ca} holds no PEM certificate (${(e as Error).message})`);
    }
  }
  return { cert, key, ca, leaf };
}

/**
 * Rotation: re-reads the files on an interval and hands over new material when their contents change.
 * Contents, not mtimes: a rewrite within one mtime tick or an atomic rename is still seen. A bad new set
 * (half-written, key of another certificate) is reported once and the old material stays in use; the
 * next change is tried again.
 */
export class TlsFileWatcher {
  private timer: NodeJS.Timeout | null = null;
  private last: string;
  private checking = false;

  constructor(
    private readonly files: TlsFiles,
    private readonly labels: TlsLabels,
    initial: TlsMaterial,
    private readonly onReload: (m: TlsMaterial) => void,
    private readonly onError: (message: string) => void,
    private readonly intervalMs = 1000,
  ) {
    this.last = fingerprint(initial.cert, initial.key, initial.ca);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look at the files; public so a caller can force one. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const get = async (which: keyof TlsFiles) => {
        const f = this.files[which];
        if (!f) return null;
        try {
          return await fs.promises.readFile(f);
        } catch (e) {
          throw new TlsFileError(which, `invalid ${this.labels[which]}: cannot read ${f}: ${(e as Error).message}`);
        }
      };
      let cert: Buffer | null = null;
      let key: Buffer | null = null;
      let ca: Buffer | null = null;
      try {
        [cert, key, ca] = await Promise.all([get('cert'), get('key'), get('ca')]);
      } catch (e) {
        // A file missing for a moment (rename-based rotation) is reported once per state.
        const fp = `error:${(e as Error).message}`;
        if (fp !== this.last) this.onError((e as Error).message);
        this.last = fp;
        return;
      }
      const fp = fingerprint(cert, key, ca);
      if (fp === this.last) return;
      this.last = fp;
      let m: TlsMaterial;
      try {
        m = checkTlsMaterial(this.files, this.labels, cert, key, ca);
      } catch (e) {
        this.onError((e as Error).message);
        return;
      }
      try {
        this.onReload(m);
      } catch (e) {
        // e.g. setSecureContext refusing the set: the old context stays.
        this.onError((e as Error).message);
      }
    } finally {
      this.checking = false;
    }
  }
}

function fingerprint(...bufs: Array<Buffer | null>): string {
  return bufs.map((b) => (b ? b.toString('base64') : '-')).join('|');
}
