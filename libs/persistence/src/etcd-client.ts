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
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Deadline of each unary call, so a hung etcd cannot hang an admin request. */
  callTimeoutMs: number;
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;
const noEvent = () => ({ dispose: () => undefined });
const ctx = () => ({ signal: new AbortController().signal });

/** How long a member that failed to answer is passed over while another one may answer. */
const MEMBER_DOWN_MS = 2000;

/**
 * Fault handling of our own instead of the client's defaults: those open a per-host circuit for 5 s and
 * back watch reconnects off up to 30 s, which would delay noticing that etcd is back. Here a call tries each
 * endpoint once more after a short pause; reconnecting (and re-watching) is the store's job.
 *
 * A member that just failed to answer (stopped, unreachable) is passed over for a moment as long as another one
 * is not known to be down: the client picks a member at random per call, and streams (watch, lease keep-alive)
 * are not retried by the client, so without this a third of them would keep going to a stopped member.
 */
export function faultHandling(endpoints: readonly string[]): FaultHandling {
  const downUntil = new Map<string, number>();
  const isDown = (h: string, now: number) => (downUntil.get(h) ?? 0) > now;
  const member = (host: string) => ({
    async execute<T>(fn: (c: unknown) => PromiseLike<T> | T): Promise<T> {
      const now = Date.now();
      if (isDown(host, now) && endpoints.some((h) => h !== host && !isDown(h, now))) {
        // Not called through: the client moves on to the next member (recoverable, so a retry may come back here).
        throw new (etcd3().GRPCUnavailableError)(`etcd member ${host} did not answer a moment ago: No connection established`);
      }
      try {
        return await fn(ctx());
      } catch (e) {
        if (e instanceof etcd3().GRPCUnavailableError) downUntil.set(host, Date.now() + MEMBER_DOWN_MS);
        throw e;
      }
    },
    onSuccess: noEvent,
    onFailure: noEvent,
  });
  const attempts = endpoints.length + 1;
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
    host: (h: string) => member(h) as unknown as ReturnType<NonNullable<FaultHandling['host']>>,
    global: retry as unknown as FaultHandling['global'],
    watchBackoff: backoff as unknown as FaultHandling['watchBackoff'],
  };
}

export function createEtcdClient(o: EtcdConnectionOptions): Etcd3 {
  return new (etcd3().Etcd3)({
    hosts: o.endpoints,
    auth: o.auth,
    // No `ca`: gRPC's createSsl falls back to the system roots (etcd3 types the root as required, it is not).
    credentials: o.tls ? { rootCertificate: o.tls.ca as Buffer, privateKey: o.tls.key, certChain: o.tls.cert } : undefined,
    dialTimeout: o.callTimeoutMs,
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + o.callTimeoutMs }),
    faultHandling: faultHandling(o.endpoints),
  });
}

/** A gRPC failure in few words: `14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED ...` -> `connect ECONNREFUSED ...`. */
export function describeEtcdError(e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*Resolution note:.*$/s, '').trim();
  const last = /Last error: (?:Error: )?(.+?)\.?$/s.exec(msg);
  return last ? last[1] : msg;
}

/** Why etcd and this Mesher will not talk, whoever retries: wrong login, missing permission, or a TLS mismatch. */
export type EtcdRejectionReason = 'credentials' | 'permission' | 'server-certificate' | 'client-certificate';

/** A refusal rather than an outage: waiting does not fix it, the configuration (of Mesher or etcd) must change. */
export function rejectionOf(e: unknown): { reason: EtcdRejectionReason; message: string } | null {
  if (!(e instanceof Error)) return null;
  const m = e.message;
  const etcdSays = () => m.replace(/^\d+ [A-Z_]+: /, '').replace(/^etcdserver: /, '');
  if (/authentication failed|invalid user ID or password|user name is empty|authentication is not enabled/i.test(m)) {
    return { reason: 'credentials', message: `etcd rejected the login: ${etcdSays()}` };
  }
  if (/PERMISSION_DENIED|permission denied/.test(m)) return { reason: 'permission', message: `etcd denied access to the registry keys: ${etcdSays()}` };
  const alert = /alert ((?:bad|unknown|unsupported|revoked|expired) certificate|certificate (?:required|unknown|expired|revoked)|unknown ca|handshake failure|access denied)/i.exec(m);
  if (alert) return { reason: 'client-certificate', message: `etcd refused the TLS handshake (${alert[1]}): it wants a client certificate signed by a CA it trusts` };
  if (/unable to verify|self[- ]signed|certificate has expired|not yet valid|Hostname\/IP does not match|does not match certificate|unable to get (?:local )?issuer|wrong version number|packet length too long/i.test(m)) {
    return { reason: 'server-certificate', message: `etcd's TLS certificate cannot be trusted: ${describeEtcdError(e)}` };
  }
  return null;
}

/** A failure another member (or a moment later) may not have: the member did not answer or dropped the call. */
export function isRecoverable(e: unknown): boolean {
  // Stream errors arrive as gRPC's own errors: cast them the way the client casts unary ones.
  return e instanceof Error && etcd3().isRecoverableError(etcd3().castGrpcError(e));
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
  const refused = rejectionOf(e);
  if (refused) return new AdminError('UNAVAILABLE', `etcd refuses this Mesher: ${refused.message}`);
  return new AdminError('UNAVAILABLE', isUnreachable(e) ? `etcd is unreachable: ${msg}` : `etcd failed the request: ${msg}`);
}
