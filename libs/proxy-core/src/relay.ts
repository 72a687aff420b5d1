import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange';
import { stripResponseHopByHop } from './forward-headers';

/**
 * Streams the upstream response to the client. An upstream that dies mid-body must not leave the
 * client waiting on a response that will never end: the client connection is cut instead.
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
  upRes.on('data', (chunk: Buffer) => {
    ex.bytes += chunk.length;
  });
  const cut = () => {
    if (!upRes.complete && !res.writableFinished && !res.destroyed) {
      ex.code = 'UPSTREAM_UNAVAILABLE';
      res.destroy();
    }
  };
  upRes.on('error', cut);
  upRes.on('close', cut);
  // The client went away mid-response: pipe() would just unpipe and leave the upstream socket open
  // (http-proxy waits for the request's 'aborted', which Node 20 no longer emits), so end it here.
  res.once('close', () => {
    if (!upRes.complete) upRes.destroy();
  });
  upRes.pipe(res);
}
