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

const PEER_SERVICE = Symbol('mesher.peerService');
type WithPeer = { [PEER_SERVICE]?: string | null };

/** Set once per TLS connection (at the handshake), so requests read it without parsing the certificate again. */
export function setPeerService(socket: object, service: string | null): void {
  (socket as WithPeer)[PEER_SERVICE] = service;
}

/**
 * The calling service named by the client certificate of this connection, when it was verified against
 * the mesh CA; null on plain connections and without a (valid) certificate. A better source for
 * x-mesher-source than any header.
 */
export function peerService(req: IncomingMessage): string | null {
  return (req.socket as unknown as WithPeer)[PEER_SERVICE] ?? null;
}

/**
 * Who calls the inbound listener. A verified client certificate names the source and proves a Mesher;
 * otherwise the x-mesher-source claim counts only from a proven Mesher (mesh secret or loopback).
 */
export function inboundCaller(req: IncomingMessage, meshSecret: string | null): { trusted: boolean; source: string } {
  const fromCert = peerService(req);
  if (fromCert) return { trusted: true, source: fromCert };
  const trusted = isTrustedMesher(req, meshSecret);
  const claimed = req.headers['x-mesher-source'];
  return { trusted, source: trusted && typeof claimed === 'string' && claimed ? claimed : 'unknown' };
}
