import { AdminError } from '@mesher/contracts';
import type { Etcd3, IOptions } from 'etcd3';

type Etcd3Module = typeof import('etcd3');
let loaded: Etcd3Module | null = null;
/** Loaded on first use: a Mesher on SQLite does not pay for gRPC and etcd's protobufs at start. */
const etcd3 = (): Etcd3Module => (loaded ??= require('etcd3') as Etcd3Module);

export interface EtcdConnectionOptions {
  endpoints: string[];
  auth?: { username: string; password: string };
  /** PEM buffers; with https:// endpoints and no `ca`, the system roots are used. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** Deadline of each unary call, so a hung etcd cannot hang an admin request. */
  callTimeoutMs: number;
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;
const noEvent = () => ({ dispose: () => undefined });
const ctx = () => ({ signal: new AbortController().signal });

/**
 * Fault handling of our own instead of the client's defaults: those open a per-host circuit for 5 s and
 * back watch reconnects off up to 30 s, which would delay noticing that etcd is back. Here a call tries each
 * endpoint once more after a short pause; reconnecting (and re-watching) is the store's job.
 */
function faultHandling(attempts: number): FaultHandling {
  const passThrough = { execute: async <T>(fn: (c: unknown) => PromiseLike<T> | T) => fn(ctx()), onSuccess: noEvent, onFailure: noEvent };
  const retry = {
    async execute<T>(fn: (c: unknown) => PromiseLike<T> | T): Promise<T> {
      for (let i = 1; ; i++) {
        try {
          return await fn(ctx());
        } catch (e) {
          if (i >= attempts || !(e instanceof Error) || !etcd3().isRecoverableError(e)) throw e;
          await new Promise((r) => setTimeout(r, 50 * i));
        }
      }
    },
    onSuccess: noEvent,
    onFailure: noEvent,
  };
  const backoff = { duration: 500, next: () => backoff };
  return {
    host: () => passThrough as unknown as ReturnType<NonNullable<FaultHandling['host']>>,
    global: retry as unknown as FaultHandling['global'],
    watchBackoff: backoff as unknown as FaultHandling['watchBackoff'],
  };
}

export function createEtcdClient(o: EtcdConnectionOptions): Etcd3 {
  return new (etcd3().Etcd3)({
    hosts: o.endpoints,
    auth: o.auth,
    credentials: o.tls ? { rootCertificate: o.tls.ca, privateKey: o.tls.key, certChain: o.tls.cert } : undefined,
    dialTimeout: o.callTimeoutMs,
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + o.callTimeoutMs }),
    faultHandling: faultHandling(o.endpoints.length + 1),
  });
}

/** A gRPC failure in few words: `14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED ...` -> `connect ECONNREFUSED ...`. */
export function describeEtcdError(e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*Resolution note:.*$/s, '').trim();
  const last = /Last error: (?:Error: )?(.+?)\.?$/s.exec(msg);
  return last ? last[1] : msg;
}

/** True when the failure says etcd could not be reached (as opposed to etcd refusing the request). */
export function isUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const m = loaded;
  return (m !== null && (m.isRecoverableError(e) || e instanceof m.GRPCDeadlineExceededError)) || /ECONNREFUSED|No connection established|UNAVAILABLE|DEADLINE|closed/i.test(e.message);
}

/** Any etcd failure as the admin API's 503 (or 422 when etcd refuses the size of a change). */
export function toAdminError(e: unknown): AdminError {
  if (e instanceof AdminError) return e;
  const msg = describeEtcdError(e);
  if (/too many operations in txn request/i.test(msg)) {
    return new AdminError('INVALID', `the change touches more keys than etcd allows in one transaction (raise etcd's --max-txn-ops): ${msg}`);
  }
  if (/request is too large/i.test(msg)) return new AdminError('INVALID', `the change is larger than etcd accepts in one request: ${msg}`);
  return new AdminError('UNAVAILABLE', isUnreachable(e) ? `etcd is unreachable: ${msg}` : `etcd failed the request: ${msg}`);
}
