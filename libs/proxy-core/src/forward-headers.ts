import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop fields (RFC 9110 7.6.1) never forwarded by an intermediary. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Forwarded identity a client could forge (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`): dropped so that
 * only the values Mesher sets itself go upstream.
 */
function isForwardedIdentity(key: string): boolean {
  return key.startsWith('x-forwarded-') || key === 'forwarded' || key === 'x-real-ip';
}

/**
 * Returns a copy without hop-by-hop fields, including every field the Connection header names, and
 * with `scrubIdentity` without forwarded identity too (one pass over the fields for both).
 */
export function stripHopByHop(headers: IncomingHttpHeaders, scrubIdentity = false): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  const conn = headers.connection;
  let named: Set<string> | null = null;
  if (conn) {
    named = new Set();
    for (const tok of conn.split(',')) {
      const t = tok.trim().toLowerCase();
      if (t) named.add(t);
    }
  }
  for (const key in headers) {
    if (HOP_BY_HOP.has(key) || (named !== null && named.has(key)) || (scrubIdentity && isForwardedIdentity(key))) continue;
    out[key] = headers[key];
  }
  // "TE: trailers" is the one TE value that may pass (RFC 9110 10.1.4).
  const te = headers.te;
  if (typeof te === 'string' && /(^|,)\s*trailers\s*(,|$)/i.test(te) && !(named && named.has('te'))) out.te = 'trailers';
  return out;
}

/** Same for response headers coming back from upstream. */
export function stripResponseHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out = stripHopByHop(headers) as OutgoingHttpHeaders;
  delete out.te;
  return out;
}

/** X-Forwarded-Proto of this hop: what the client used to reach us (a TLS listener's sockets are encrypted). */
export function forwardedProto(socket: object): 'http' | 'https' {
  return (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
}

/** Appends the client address to X-Forwarded-For (this hop's view, whatever the client claimed). */
export function appendForwardedFor(existing: string | string[] | undefined, clientIp: string): string {
  const prev = Array.isArray(existing) ? existing.join(', ') : existing;
  return prev ? `${prev}, ${clientIp}` : clientIp;
}
