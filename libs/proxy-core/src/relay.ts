import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange';
import { stripResponseHopByHop } from './forward-headers';

/**
 * Streams the upstream response to the client, with backpressure. An upstream that dies mid-body must
 * not leave the client waiting on a response that will never end: the client connection is cut
 * instead. A client that goes away cuts the upstream response (Exchange.complete).
 */
export function relayResponse(ex: Exchange, upRes: IncomingMessage, via: string): void {
  const res = ex.res;
  const status = upRes.statusCode ?? 502;
  const headers = stripResponseHopByHop(upRes.headers);
  const prevVia = headers.via;
  headers.via = prevVia ? `${prevVia}, ${via}` : via;
  if (!headers['x-request-id']) headers['x-request-id'] = ex.requestId;
  if (ex.explain) {
    ex.explain.outcome = { status, code: null };
    headers['x-mesher-explain'] = JSON.stringify(ex.explain);
  }
  try {
    res.writeHead(status, upRes.statusMessage, headers);
  } catch {
    // Invalid header from upstream: say so rather than crash.
    upRes.resume();
    ex.fail('UPSTREAM_UNAVAILABLE', `upstream '${ex.destination}' sent an invalid response head`);
    return;
  }
  ex.upstream = upRes;
  // A hand-written pipe: it counts the bytes in the same listener, and costs a third of the
  // listeners Readable.pipe() adds and removes on every response.
  upRes.on('data', (chunk: Buffer) => {
    ex.bytes += chunk.length;
    if (!res.write(chunk)) {
      upRes.pause();
      res.once('drain', () => upRes.resume());
    }
  });
  upRes.on('end', () => res.end());
  // 'close' follows every end, error or cut. No 'error' listener is needed: an IncomingMessage emits
  // 'error' only to listeners it has, and never throws for want of one.
  upRes.on('close', () => {
    if (!upRes.complete && !res.writableFinished && !res.destroyed) {
      ex.code = 'UPSTREAM_UNAVAILABLE';
      res.destroy();
    }
  });
}
