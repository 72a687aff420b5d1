import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MesherErrorCode } from '@mesher/contracts';
import { ERROR_STATUS } from './error-map';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  414: 'URI Too Long',
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

const REQUEST_LINE_START = /^[A-Z]{3,16} \S/;

interface ParserError extends NodeJS.ErrnoException {
  reason?: string;
  rawPacket?: Buffer;
}

/**
 * The server's 'clientError' listener: malformed requests get a JSON 400, an over-long request line
 * 414, over-long headers 431. A response already under way is cut instead: writing a second status
 * line into it would be the very desync we guard against.
 */
export function handleClientError(err: ParserError, socket: Duplex, maxUrlLength = 8192): void {
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || (pending && pending.headersSent)) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The chunk that overflowed starts with a request line longer than the URL limit: the URL is too long.
    const raw = err.rawPacket;
    let inRequestLine = false;
    if (raw && REQUEST_LINE_START.test(raw.subarray(0, 32).toString('latin1'))) {
      const nl = raw.indexOf(10);
      inRequestLine = nl < 0 || nl > maxUrlLength;
    }
    if (inRequestLine) writeRawError(socket, 'URI_TOO_LONG', 'request line is over the header size limit');
    else writeRawError(socket, 'HEADERS_TOO_LARGE', 'request header fields are over the header size limit');
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    writeRawError(socket, 'REQUEST_TIMEOUT', 'request head not received within the headers timeout');
    return;
  }
  const what = err.reason ? `${err.reason} (${err.code})` : (err.code ?? err.message);
  writeRawError(socket, 'BAD_REQUEST', `malformed HTTP request: ${what}`);
}
