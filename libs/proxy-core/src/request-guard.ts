import type { IncomingMessage } from 'node:http';
import type { MesherErrorCode } from '@mesher/contracts';
import { ERROR_STATUS } from './error-map';
import type { Exchange } from './exchange';
import type { OverloadGuard } from './overload-guard';

export interface RequestLimits {
  /** Longest request-target in bytes (414 beyond). */
  maxUrlLength: number;
  /** Most header fields in one request (431 beyond). */
  maxHeaderCount: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { maxUrlLength: 8192, maxHeaderCount: 100 };

export interface RequestGuard {
  limits: RequestLimits;
  overload?: OverloadGuard | null;
}

export interface GuardRejection {
  code: MesherErrorCode;
  status: number;
  message: string;
}

// uri-host [":" port] (RFC 9110 7.2): a reg-name (unreserved, pct-encoded, sub-delims) or an IP literal.
const HOST_VALUE_RE = /^(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})+(?::\d{0,5})?$|^\[[0-9a-f:.]+\](?::\d{0,5})?$/i;
const DIGITS_RE = /^\d+$/;
const CHUNKED_RE = /^chunked$/i;

function reject(code: MesherErrorCode, message: string, status: number = ERROR_STATUS[code]): GuardRejection {
  return { code, status, message };
}

/**
 * RFC 9110/9112 checks an intermediary must make before forwarding, for what Node's parser lets
 * through: it joins or drops duplicate fields (Host), accepts transfer codings other than chunked,
 * HTTP/0.9 and HTTP/2.0 request lines, and truncates headers past its count silently. Reads
 * `rawHeaders` so duplicates are seen as sent. Pure: no side effects on the request.
 */
export function checkRequest(req: IncomingMessage, guard: RequestGuard): GuardRejection | null {
  if (guard.overload && !guard.overload.admit()) {
    return reject('OVERLOADED', `Mesher is overloaded and sheds this request: ${guard.overload.reason ?? 'overloaded'}`);
  }
  if (req.httpVersionMajor !== 1) {
    return reject('BAD_REQUEST', `HTTP/${req.httpVersion} is not supported on this listener: use HTTP/1.1`);
  }
  const url = req.url ?? '';
  if (url.length > guard.limits.maxUrlLength) {
    return reject('URI_TOO_LONG', `request target of ${url.length} bytes is over the ${guard.limits.maxUrlLength}-byte limit`);
  }
  const raw = req.rawHeaders;
  if (raw.length / 2 > guard.limits.maxHeaderCount) {
    return reject('HEADERS_TOO_LARGE', `request has more than ${guard.limits.maxHeaderCount} header fields`);
  }
  let hosts = 0;
  let host = '';
  let lengths = 0;
  let length = '';
  let codings = 0;
  let coding = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Cheap pre-filter on length before lower-casing: host (4), content-length (14), transfer-encoding (17).
    const n = name.length;
    if (n !== 4 && n !== 14 && n !== 17) continue;
    const lower = name.toLowerCase();
    if (lower === 'host') {
      hosts++;
      host = raw[i + 1];
    } else if (lower === 'content-length') {
      lengths++;
      length = raw[i + 1];
    } else if (lower === 'transfer-encoding') {
      codings++;
      coding = raw[i + 1];
    }
  }
  if (hosts > 1) return reject('BAD_REQUEST', 'request has more than one Host header field');
  if (hosts === 0 && req.httpVersionMinor >= 1) return reject('BAD_REQUEST', 'HTTP/1.1 request has no Host header field');
  if (hosts === 1 && !HOST_VALUE_RE.test(host)) return reject('BAD_REQUEST', `Host header field value ${JSON.stringify(host.slice(0, 100))} is not a valid host[:port]`);
  if (codings > 0) {
    if (req.httpVersionMinor === 0) return reject('BAD_REQUEST', 'Transfer-Encoding is not allowed in an HTTP/1.0 request (ambiguous framing)');
    if (codings > 1) return reject('BAD_REQUEST', 'request has more than one Transfer-Encoding header field (ambiguous framing)');
    if (!CHUNKED_RE.test(coding.trim())) {
      return reject('BAD_REQUEST', `Transfer-Encoding ${JSON.stringify(coding.slice(0, 100))} is not supported: only 'chunked' is accepted`);
    }
    if (lengths > 0) return reject('BAD_REQUEST', 'request has both Content-Length and Transfer-Encoding (ambiguous framing)');
  }
  if (lengths > 1) return reject('BAD_REQUEST', 'request has more than one Content-Length header field (ambiguous framing)');
  if (lengths === 1 && !DIGITS_RE.test(length.trim())) return reject('BAD_REQUEST', `Content-Length ${JSON.stringify(length.slice(0, 100))} is not a decimal length`);
  return null;
}

/** Connections on which a request was rejected. */
const rejected = new WeakSet<object>();

/**
 * The guard pass, first in both handlers. A rejected request is answered and its connection closed
 * (whatever follows on it cannot be trusted to be framed as the client meant). An accepted request
 * loses `Expect: 100-continue`: Node already answered it, and the upstream's own 100 would go to no one.
 */
export function guardExchange(ex: Exchange, guard: RequestGuard | undefined): boolean {
  if (!guard) return false;
  const req = ex.req;
  // Node keeps parsing pipelined requests behind a rejected one and hands them to us: after a
  // framing doubt nothing more on that connection is forwarded (their responses are never sent,
  // as the connection closes after the rejection).
  const r = rejected.has(req.socket)
    ? reject('BAD_REQUEST', 'request follows a rejected request on the same connection')
    : checkRequest(req, guard);
  if (r) {
    rejected.add(req.socket);
    if (!ex.path) ex.path = (req.url ?? '').slice(0, 200);
    ex.res.shouldKeepAlive = false;
    ex.fail(r.code, r.message, r.status);
    return true;
  }
  const expect = req.headers.expect;
  if (typeof expect === 'string' && expect.toLowerCase() === '100-continue') delete req.headers.expect;
  return false;
}

