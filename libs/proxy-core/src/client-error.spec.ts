import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { ProxyServer } from './proxy-server';

/** Listener-level defences (parser errors, sizes, slow heads, connection cap, CONNECT) on a real ProxyServer. */
describe('ProxyServer limits and client errors', () => {
  let server: ProxyServer;
  let port = 0;

  before(async () => {
    server = new ProxyServer('test', (_req, res) => res.end('ok'), {
      maxHeaderSize: 4096,
      maxUrlLength: 1024,
      headersTimeoutMs: 300,
      maxConnections: 3,
    });
    port = (await server.listen(0, '127.0.0.1')).port;
  });
  after(() => server.close(0));

  function exchange(data: string, keepOpen = false): Promise<{ text: string; socket: net.Socket }> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.on('error', () => undefined);
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (keepOpen && text.endsWith('ok')) resolve({ text, socket });
      });
      socket.on('close', () => resolve({ text, socket }));
      socket.write(data);
    });
  }

  const status = (t: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(t)?.[1]);
  const body = (t: string) => JSON.parse(t.slice(t.indexOf('\r\n\r\n') + 4)) as { code: string; message: string };

  test('a request line over the header size limit is 414, over-long headers 431, both JSON and closed', async () => {
    const url = await exchange(`GET /${'u'.repeat(6000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.equal(status(url.text), 414);
    assert.equal(body(url.text).code, 'URI_TOO_LONG');
    const hdr = await exchange(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'h'.repeat(6000)}\r\n\r\n`);
    assert.equal(status(hdr.text), 431);
    assert.equal(body(hdr.text).code, 'HEADERS_TOO_LARGE');
    assert.match(hdr.text, /\r\nx-mesher-error: HEADERS_TOO_LARGE\r\n/);
  });

  test("malformed requests get a JSON 400 naming the parser's reason", async () => {
    const r = await exchange('GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n');
    assert.equal(status(r.text), 400);
    assert.match(body(r.text).message, /^malformed HTTP request: .+ \(HPE_[A-Z_]+\)$/);
  });

  test('a request head slower than the headers timeout gets 408 REQUEST_TIMEOUT', async () => {
    const r = await exchange('GET / HTTP/1.1\r\nHost: a\r\n');
    assert.equal(status(r.text), 408);
    assert.equal(body(r.text).code, 'REQUEST_TIMEOUT');
  });

  test('CONNECT is refused with a JSON error when no CONNECT handler is installed', async () => {
    const r = await exchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(status(r.text), 400);
    assert.match(body(r.text).message, /CONNECT tunnels are not supported/);
  });

  test('connections past maxConnections are refused and counted', async () => {
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await exchange('GET / HTTP/1.1\r\nHost: a\r\n\r\n', true);
        assert.equal(status(r.text), 200);
        held.push(r.socket);
      }
      const before = server.refusedConnections;
      const refused = await exchange('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.equal(refused.text, '');
      assert.equal(server.refusedConnections, before + 1);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
