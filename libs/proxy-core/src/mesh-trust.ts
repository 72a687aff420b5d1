import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export function isLoopbackAddress(addr: string | undefined): boolean {
  return !!addr && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether a caller of the inbound listener is a Mesher whose identity headers (x-mesher-source,
 * X-Forwarded-*) may be believed: with a mesh secret, it must send it in x-mesher-token; without
 * one, only loopback callers (a sidecar on this host) are.
 */
export function isTrustedMesher(req: IncomingMessage, meshSecret: string | null): boolean {
  const token = req.headers['x-mesher-token'];
  return meshSecret ? typeof token === 'string' && safeEqual(token, meshSecret) : isLoopbackAddress(req.socket.remoteAddress);
}
