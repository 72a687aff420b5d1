import type { IncomingMessage } from 'node:http';

/**
 * Whether a request carries a body (RFC 9112 6.3): a Content-Length other than 0, or a Transfer-Encoding
 * (the request guard refuses requests with both).
 */
export function requestHasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}
