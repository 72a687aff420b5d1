import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { api, splitHostPort, viaProxy } from './support/http-client';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';
import { attachWebSocketEcho, connectWebSocket } from './support/websocket';

/** Writes raw bytes to the proxy and returns all it answers until it closes the connection. */
function raw(hostPort: string, payload: string): Promise<string> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write(payload));
    let out = '';
    s.setTimeout(10_000, () => s.destroy(new Error(`no close after: ${out}`)));
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

describe('upstream requests: the request line and body go upstream as the client sent them', () => {
  let m: MesherProcess;
  let up: Upstream;

  before(async () => {
    m = await startMesher([], { dataDir: tempDir() });
    up = await startUpstream('up');
    for (const [service, endpoint] of [
      ['plain', up.url],
      ['based', `${up.url}/base/`],
      ['based2', `${up.url}/v2`],
    ]) {
      const r = await api(m.admin, 'POST', `/v1/services/${service}/instances`, { endpoint });
      assert.equal(r.status, 201, r.body);
    }
  });
  after(async () => {
    await m?.stop();
    await up?.close();
  });

  test("an endpoint's own path is put before every request path, with one '/' between", async () => {
    for (const [host, path, seen] of [
      ['based', '/api?x=1', '/base/api?x=1'],
      ['based', '/', '/base/'],
      ['based2', '/api', '/v2/api'],
      ['plain', '/api', '/api'],
    ]) {
      const r = await viaProxy(m.proxy, 'GET', path, { headers: { host } });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, `up GET ${seen}`, `${host}${path}`);
    }
  });

  test("a WebSocket upgrade goes to the endpoint's own path too, as HTTP requests do", async () => {
    const urls: Array<string | undefined> = [];
    attachWebSocketEcho(up.server, (req) => void urls.push(req.url));
    for (const [host, path, seen] of [
      ['based', '/chat?room=1', '/base/chat?room=1'],
      ['plain', '/chat', '/chat'],
    ]) {
      const ws = await connectWebSocket(m.proxy, path, host);
      assert.equal(urls.at(-1), seen, `${host}${path}`);
      ws.send('ping me');
      assert.equal((await ws.next()).payload.toString(), 'ping me');
      ws.send('bye');
      await ws.closed;
    }
  });

  test('an IPv6 literal endpoint is reached at its address, with the Host the client named', async () => {
    const seen: Array<{ url?: string; host?: string }> = [];
    const v6 = http.createServer((req, res) => {
      seen.push({ url: req.url, host: req.headers.host });
      res.end(`v6 ${req.socket.localAddress}`);
    });
    await new Promise<void>((r) => v6.listen(0, '::1', r));
    try {
      const endpoint = `http://[::1]:${(v6.address() as AddressInfo).port}`;
      const reg = await api(m.admin, 'POST', '/v1/services/six/instances', { endpoint });
      assert.equal(reg.status, 201, reg.body);
      const r = await viaProxy(m.proxy, 'GET', 'http://six:8080/where?x=1');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, 'v6 ::1');
      assert.deepEqual(seen, [{ url: '/where?x=1', host: 'six:8080' }]);
    } finally {
      v6.closeAllConnections();
      await new Promise((r) => v6.close(r));
    }
  });

  test('repeated slashes in the path and query are not collapsed', async () => {
    const r = await viaProxy(m.proxy, 'GET', '/a//b///c?next=//x', { headers: { host: 'plain' } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'up GET /a//b///c?next=//x');
  });

  test('a chunked DELETE body arrives framed and whole, and the next request on the connection is unharmed', async () => {
    const before = up.requests.length;
    const out = await raw(
      m.proxy,
      'DELETE /items/1 HTTP/1.1\r\nHost: plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n' +
        'GET /after HTTP/1.1\r\nHost: plain\r\nConnection: close\r\n\r\n',
    );
    const statuses = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((x) => x[1]);
    assert.deepEqual(statuses, ['200', '200'], out);
    assert.match(out, /up DELETE \/items\/1/);
    assert.match(out, /up GET \/after/);
    const [del, next] = up.requests.slice(before);
    assert.equal(del.method, 'DELETE');
    assert.equal(del.body, 'hello world');
    assert.equal(del.headers['transfer-encoding'], 'chunked');
    assert.equal(del.headers['content-length'], undefined);
    assert.equal(next.method, 'GET');
    assert.equal(next.url, '/after');
    assert.equal(next.body, '');
  });

  test('a large chunked POST body streams through unchanged', async () => {
    const body = Buffer.alloc(1024 * 1024, 'abcdefghij').toString();
    const r = await viaProxy(m.proxy, 'POST', '/upload', { headers: { host: 'plain', 'transfer-encoding': 'chunked' }, body });
    assert.equal(r.status, 200, r.body);
    const got = up.requests.at(-1)!;
    assert.equal(got.url, '/upload');
    assert.equal(got.body.length, body.length);
    assert.equal(got.body, body);
  });
});
