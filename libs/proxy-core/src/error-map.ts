import type { ServerResponse } from 'node:http';
import type { MesherErrorCode } from '@mesher/contracts';

/** One status per code; a new code fails to compile until it is given one here. */
export const ERROR_STATUS: { readonly [K in MesherErrorCode]: number } = {
  SERVICE_NOT_FOUND: 404,
  NO_HEALTHY_INSTANCE: 503,
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  CIRCUIT_OPEN: 503,
  RATE_LIMITED: 429,
  FAULT_INJECTED: 503, // default only: the fault's configured status wins
  BAD_REQUEST: 400,
  LOOP_DETECTED: 508,
  APP_UNAVAILABLE: 502,
  DRAINING: 503,
  HEADERS_TOO_LARGE: 431,
  URI_TOO_LONG: 414,
  OVERLOADED: 503, // load shed; always sent with connection: close
  REQUEST_TIMEOUT: 408, // client too slow to send its request head
  EGRESS_DENIED: 403, // CONNECT to a host no egress rule allows
  ROUTE_NOT_FOUND: 404, // edge: no ingress rule takes this host and path
  UPSTREAM_TLS_ERROR: 502, // the upstream's certificate is untrusted or names another service, or the handshake failed
};

/** Responses Mesher answered (or cut) with one of its errors outside an Exchange's own fail(), e.g. a stalled body. */
const noted = new WeakMap<ServerResponse, MesherErrorCode>();

/** Records that `res` carries (or was cut for) Mesher's error `code`, for the access log and metrics. */
export function noteMesherError(res: ServerResponse, code: MesherErrorCode): void {
  noted.set(res, code);
}

/** The Mesher error `res` was answered or cut with, if one was noted. */
export function mesherErrorOf(res: ServerResponse): MesherErrorCode | undefined {
  return noted.get(res);
}

/**
 * Answers a failure Mesher produced itself: JSON {code, message} plus `x-mesher-error`.
 * Safe to call at any point: if headers already went out, the only honest signal left is to cut the
 * connection so the client sees a truncated body rather than a silently short one.
 */
export function writeMesherError(
  res: ServerResponse,
  code: MesherErrorCode,
  message: string,
  status: number = ERROR_STATUS[code],
  extraHeaders?: Record<string, string>,
): void {
  // A response that already ended (or died) is left alone: cutting it could lose bytes still in flight.
  if (res.destroyed || res.writableEnded) return;
  noteMesherError(res, code);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code, message });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-mesher-error': code,
    ...extraHeaders,
  };
  res.writeHead(status, headers);
  res.end(body);
}
