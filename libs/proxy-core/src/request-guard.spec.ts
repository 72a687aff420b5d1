import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { Exchange } from './exchange';
import { OverloadGuard } from './overload-guard';
import { checkRequest, DEFAULT_REQUEST_LIMITS, guardExchange, type RequestGuard } from './request-guard';

/** Just the fields checkRequest reads, as Node's parser would fill them. */
function req(rawHeaders: string[], opts: { url?: string; version?: string } = {}): http.IncomingMessage {
  const version = opts.version ?? '1.1';
  const [major, minor] = version.split('.').map(Number);
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i].toLowerCase()] ??= rawHeaders[i + 1];
  return { url: opts.url ?? '/x', httpVersion: version, httpVersionMajor: major, httpVersionMinor: minor, rawHeaders, headers } as unknown as http.IncomingMessage;
}

const guard: RequestGuard = { limits: DEFAULT_REQUEST_LIMITS };

describe('checkRequest', () => {
  test('a plain request passes', () => {
    assert.equal(checkRequest(req(['Host', 'cart:8080', 'Content-Length', '5']), guard), null);
    assert.equal(checkRequest(req(['host', '[::1]:80', 'Transfer-Encoding', 'Chunked']), guard), null);
    assert.equal(checkRequest(req(['Host', '127.0.0.1']), guard), null);
  });

  test('Host: missing on HTTP/1.1, duplicated (any case), or not host[:port]', () => {
    assert.match(checkRequest(req([]), guard)!.message, /no Host/);
    assert.equal(checkRequest(req([], { version: '1.0', url: 'http://cart/x' }), guard), null, 'HTTP/1.0 may omit Host');
    const dup = checkRequest(req(['Host', 'cart', 'host', 'evil']), guard)!;
    assert.deepEqual([dup.code, dup.status], ['BAD_REQUEST', 400]);
    assert.match(dup.message, /more than one Host/);
    for (const bad of ['a b', 'user@cart', 'cart:80x', '', 'cart/x', 'ca\trt']) {
      assert.match(checkRequest(req(['Host', bad]), guard)?.message ?? '', /Host header field value/, JSON.stringify(bad));
    }
  });

  test('framing Node lets through: transfer codings other than chunked, TE in HTTP/1.0, TE twice, CL + TE', () => {
    for (const te of ['gzip, chunked', 'chunked, chunked', 'identity', 'deflate']) {
      assert.match(checkRequest(req(['Host', 'a', 'Transfer-Encoding', te]), guard)!.message, /only 'chunked'/, te);
    }
    assert.match(checkRequest(req(['Host', 'a', 'Transfer-Encoding', 'chunked'], { version: '1.0' }), guard)!.message, /HTTP\/1\.0/);
    assert.match(checkRequest(req(['Host', 'a', 'Transfer-Encoding', 'chunked', 'transfer-encoding', 'chunked']), guard)!.message, /more than one Transfer-Encoding/);
    assert.match(checkRequest(req(['Host', 'a', 'Transfer-Encoding', 'chunked', 'Content-Length', '3']), guard)!.message, /both Content-Length and Transfer-Encoding/);
    assert.match(checkRequest(req(['Host', 'a', 'Content-Length', '3', 'Content-Length', '3']), guard)!.message, /more than one Content-Length/);
    assert.match(checkRequest(req(['Host', 'a', 'Content-Length', '0x3']), guard)!.message, /not a decimal length/);
  });

  test('versions other than HTTP/1.x are refused', () => {
    assert.match(checkRequest(req(['Host', 'a'], { version: '2.0' }), guard)!.message, /HTTP\/2\.0 is not supported/);
    assert.ok(checkRequest(req([], { version: '0.9' }), guard));
  });

  test('URL length (414) and header count (431) limits', () => {
    const limits = { maxUrlLength: 20, maxHeaderCount: 3 };
    const long = checkRequest(req(['Host', 'a'], { url: '/' + 'x'.repeat(20) }), { limits })!;
    assert.deepEqual([long.code, long.status], ['URI_TOO_LONG', 414]);
    assert.equal(checkRequest(req(['Host', 'a'], { url: '/' + 'x'.repeat(19) }), { limits }), null);
    const many = checkRequest(req(['Host', 'a', 'A', '1', 'B', '2', 'C', '3']), { limits })!;
    assert.deepEqual([many.code, many.status], ['HEADERS_TOO_LARGE', 431]);
    assert.equal(checkRequest(req(['Host', 'a', 'A', '1', 'B', '2']), { limits }), null);
  });

  test('an overloaded guard sheds first and counts it', () => {
    const overload = new OverloadGuard({ maxEventLoopDelayMs: 100, maxHeapPercent: 0 });
    overload.reason = 'event loop delay 900 ms is over the 100 ms limit';
    const r = checkRequest(req(['Host', 'a']), { limits: DEFAULT_REQUEST_LIMITS, overload })!;
    assert.deepEqual([r.code, r.status], ['OVERLOADED', 503]);
    assert.match(r.message, /900 ms/);
    assert.equal(overload.shed, 1);
  });
});

describe('guardExchange on a real server', () => {
  let server: http.Server;
  let port = 0;
  const forwarded: Array<{ url: string; expect: string | undefined }> = [];

  before(async () => {
    server = http.createServer({ requireHostHeader: false }, (rq, rs) => {
      const ex = new Exchange('outbound', rq, rs, undefined, Date.now());
      rs.once('close', () => ex.complete());
      if (guardExchange(ex, guard)) return;
      forwarded.push({ url: rq.url ?? '', expect: rq.headers.expect });
      rq.resume();
      rq.on('end', () => rs.end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function raw(data: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (c: Buffer) => (out += c.toString()));
      s.on('error', () => undefined);
      s.on('close', () => resolve(out));
      s.write(data);
      setTimeout(() => s.destroy(), 2000).unref();
    });
  }

  test('a rejected request closes the connection and nothing pipelined behind it is handled', async () => {
    const out = await raw('GET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /behind HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.match(out, /Connection: close/i);
    assert.equal((out.match(/HTTP\/1\.1/g) ?? []).length, 1);
    assert.ok(!forwarded.some((f) => f.url === '/behind'));
  });

  test('Expect: 100-continue is answered by Node and not passed on', async () => {
    const out = await raw('POST /exp HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.deepEqual(forwarded.at(-1), { url: '/exp', expect: undefined });
  });
});
