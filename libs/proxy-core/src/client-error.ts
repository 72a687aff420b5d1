import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MesherErrorCode } from '@mesher/contracts';
import { ERROR_STATUS } from './error-map';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  508: 'Loop Detected',
};

/**
 * Writes a Mesher error straight onto a socket and closes it: for parser errors, refused upgrades
 * and CONNECT, where Node gives us no ServerResponse.
 */
export function writeRawError(
  socket: Duplex,
  code: MesherErrorCode,
  message: string,
  status: number = ERROR_STATUS[code],
  extraHeaders: Record<string, string> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ code, message });
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\nx-mesher-error: ${code}\r\n`;
  for (const [k, v] of Object.entries(extraHeaders)) head += `${k}: ${v}\r\n`;
  head += `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + body);
  // A peer that never reads must not keep the socket (and its buffers) alive.
  setTimeout(() => socket.destroy(), 5000).unref();
}

interface ParserError extends NodeJS.ErrnoException {
  reason?: string;
}

/**
 * The server's 'clientError' listener: malformed requests get a JSON 400, a request head over the
 * header size limit 431. A response already under way is cut instead: writing a second status
 * line into it would be the very desync we guard against.
 */
export function handleClientError(err: ParserError, socket: Duplex, maxHeaderSize: number): void {
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || (pending && pending.headersSent)) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // Node's parser counts the request line and the header fields as one head, and only the chunk
    // that overflowed is visible here: which of the two ran over cannot be told reliably, so one answer.
    writeRawError(socket, 'HEADERS_TOO_LARGE', `request head (request line and header fields) is over the ${maxHeaderSize}-byte header size limit`);
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    writeRawError(socket, 'REQUEST_TIMEOUT', 'request head not received within the headers timeout');
    return;
  }
  const what = err.reason ? `${err.reason} (${err.code})` : (err.code ?? err.message);
  writeRawError(socket, 'BAD_REQUEST', `malformed HTTP request: ${what}`);
}
