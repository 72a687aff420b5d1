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
      headersTimeoutMs: 300,
      maxConnections: 3,
    });
    port = (await server.listen(0, '127.0.0.1')).port;
  });
  after(() => server.close(0));

  /** Sends `data` (pieces 20 ms apart, so each reaches the parser as its own chunk) and collects the answer. */
  function exchange(data: string | string[], keepOpen = false): Promise<{ text: string; socket: net.Socket }> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.on('error', () => undefined);
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (keepOpen && text.endsWith('ok')) resolve({ text, socket });
      });
      socket.on('close', () => resolve({ text, socket }));
      const pieces = typeof data === 'string' ? [data] : data;
      pieces.forEach((p, i) => setTimeout(() => socket.writable && socket.write(p), i * 20));
    });
  }

  const status = (t: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(t)?.[1]);
  const body = (t: string) => JSON.parse(t.slice(t.indexOf('\r\n\r\n') + 4)) as { code: string; message: string };

  test('a request head over the header size limit is 431 JSON and closed, however it arrives and whichever part ran over', async () => {
    const head = (t: string) => {
      assert.equal(status(t), 431, t.slice(0, 200));
      assert.equal(body(t).code, 'HEADERS_TOO_LARGE');
      assert.match(body(t).message, /over the 4096-byte header size limit/);
      assert.match(t, /\r\nx-mesher-error: HEADERS_TOO_LARGE\r\n/);
      assert.match(t, /\r\nconnection: close\r\n/);
    };
    head((await exchange(`GET /${'u'.repeat(6000)} HTTP/1.1\r\nHost: a\r\n\r\n`)).text);
    head((await exchange(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'h'.repeat(6000)}\r\n\r\n`)).text);
    // The parser sees only the chunk that overflowed: a long URL cut into pieces gets the same answer.
    head((await exchange([`GET /${'u'.repeat(100)}`, 'u'.repeat(3000), `${'u'.repeat(3000)} HTTP/1.1\r\nHost: a\r\n\r\n`])).text);
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
