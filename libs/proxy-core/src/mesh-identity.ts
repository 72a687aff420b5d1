import type { ConnectionOptions } from 'node:tls';
import type { TlsMaterial } from './tls-material';

/**
 * Mesh identity on certificates: a sidecar's certificate names its service in a DNS subjectAltName
 * equal to the service name (e.g. `DNS:cart`). Consumers check it against the destination service
 * (never the instance address); providers read the caller's service from it.
 */

/** The part of a peer certificate these checks read (tls.PeerCertificate has it). */
export interface CertificateNames {
  subjectaltname?: string;
}

const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;

/**
 * Parses Node's subjectaltname text ("DNS:cart, IP Address:127.0.0.1, URI:spiffe://x/y"). Values with
 * a comma or quote come JSON-quoted (`DNS:"a, b"`); a plain split on ", " would let such a value
 * smuggle a fake entry, so quoted values are read as one.
 */
export function parseSubjectAltNames(text: string | undefined): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        value = '';
      }
      next = text.indexOf(', ', j);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    out.push({ type, value });
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

export function dnsNames(cert: CertificateNames): string[] {
  return parseSubjectAltNames(cert.subjectaltname).filter((n) => n.type === 'DNS').map((n) => n.value.toLowerCase());
}

/**
 * checkServerIdentity for a mesh instance: the certificate must carry `DNS:<service>` (no wildcards:
 * a mesh identity is one service). Returns the error that fails the handshake, undefined when it names it.
 */
export function checkMeshIdentity(service: string, cert: CertificateNames): Error | undefined {
  const names = dnsNames(cert);
  if (names.includes(service.toLowerCase())) return undefined;
  const err: NodeJS.ErrnoException = new Error(
    `wrong identity: the certificate names ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'no DNS name'}, not the service '${service}'`,
  );
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/** The calling service a verified client certificate names: its first DNS name that is a service name. */
export function peerServiceName(cert: CertificateNames): string | null {
  return dnsNames(cert).find((n) => SERVICE_NAME_RE.test(n)) ?? null;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * Why a connection failed in TLS, in words for the error message; null when the error is not a TLS
 * one (refused, reset before the handshake, ...), which keeps its usual classification.
 */
export function describeTlsError(err: Error): string | null {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return err.message.startsWith('wrong identity') ? err.message : `wrong identity: ${err.message}`;
  if (UNTRUSTED.has(code)) return `untrusted certificate: not signed by the trusted CA (${code})`;
  if (EXPIRED.has(code)) return `certificate not valid now (${code})`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return `the upstream does not speak TLS (${code})`;
  if (/^ERR_SSL_.*ALERT/.test(code)) return `the upstream refused the handshake (${code}); does it require a client certificate?`;
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `TLS handshake failed (${code})`;
  if (code === 'MESHER_NO_MESH_CA') return err.message;
  return null;
}

/**
 * Client-side TLS options for a connection to an instance of `service`: this sidecar's certificate, the
 * mesh CA only (never the system CAs), SNI and identity check by service name (never the instance address).
 */
export function meshClientTls(service: string, m: TlsMaterial): ConnectionOptions {
  return {
    ca: m.ca ?? undefined,
    cert: m.cert ?? undefined,
    key: m.key ?? undefined,
    servername: service,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => checkMeshIdentity(service, cert),
  };
}
