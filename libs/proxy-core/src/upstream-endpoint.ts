import type { Duplex } from 'node:stream';

/** Error code of a connect that did not complete in time (a connect failure: retryable elsewhere). */
export const CONNECT_TIMEOUT = 'MESHER_CONNECT_TIMEOUT';

/** An instance endpoint URL, parsed: where to connect and what goes before each request path. */
export interface Endpoint {
  tls: boolean;
  /** Connect address (an IPv6 literal without its brackets). */
  hostname: string;
  port: number;
  /** The endpoint's own path without its trailing '/' ('' for none). */
  basePath: string;
  /** host[:port] as a Host header names the endpoint (the port only when not the scheme's default). */
  authority: string;
}

export function parseEndpoint(url: string): Endpoint {
  const u = new URL(url);
  const tls = u.protocol === 'https:';
  return {
    tls,
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port ? Number(u.port) : tls ? 443 : 80,
    basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
    authority: u.host,
  };
}

/**
 * Destroys `socket` with a CONNECT_TIMEOUT error if it is still connecting after `ms` (SYN unanswered,
 * accept queue full). Checked again after the poll phase: after a stall, timers run before the I/O
 * that completed the connect, and a stalled loop must not fake a timeout.
 */
export function armConnectTimeout(socket: Duplex, ms: number): void {
  const s = socket as Duplex & { connecting?: boolean };
  const timer = setTimeout(() => setImmediate(() => {
    if (!s.connecting || s.destroyed) return;
    const err: NodeJS.ErrnoException = new Error(`connect timed out after ${ms} ms`);
    err.code = CONNECT_TIMEOUT;
    s.destroy(err);
  }), ms);
  s.once('connect', () => clearTimeout(timer));
  s.once('close', () => clearTimeout(timer));
}
