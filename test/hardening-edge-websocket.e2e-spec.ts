import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { api, splitHostPort } from './support/http-client';
import { startMesher, type MesherProcess } from './support/mesher-process';
import { attachWebSocketEcho, connectWebSocket, UpgradeRefused, type WsEchoServer } from './support/websocket';
import { sleep, waitFor as waitUntil, type Condition } from './support/load';

/** WebSocket upgrades through the edge listener (--mode edge), routed by ingress rules like its HTTP requests. */

const waitFor = <T>(what: string, fn: Condition<T>, ms = 10_000) => waitUntil(what, fn, ms);

describe('edge listener: WebSocket upgrades by ingress rule', () => {
  let m: MesherProcess;
  let server: http.Server;
  let ws: WsEchoServer;
  const urls: string[] = [];

  before(async () => {
    server = http.createServer((_req, res) => res.end('plain'));
    ws = attachWebSocketEcho(server, (req) => {
      urls.push(req.url ?? '');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    m = await startMesher(['--mode', 'edge', '--edge-port', '0', '--edge-address', '127.0.0.1']);
    assert.equal((await api(m.admin, 'POST', '/v1/services/chat/instances', { endpoint: `http://127.0.0.1:${port}` })).status, 201);
    for (const rule of [
      { id: 'chat-host', host: 'chat.example.com', service: 'chat' },
      { id: 'ws-path', pathPrefix: '/ws', rewritePath: '/', service: 'chat' },
    ]) {
      const r = await api(m.admin, 'POST', '/v1/ingress', rule);
      assert.equal(r.status, 201, r.body);
    }
  });

  after(async () => {
    await m?.stop();
    for (const s of ws.sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('a host rule: echo through the edge, the app sees the source as outside (no forged identity) and Via on both sides', async () => {
    const c = await connectWebSocket(m.edge!, '/room/1', 'chat.example.com', { 'x-mesher-source': 'forged', 'x-forwarded-for': '6.6.6.6' });
    assert.equal(c.response.headers['x-echo'], '1');
    assert.match(String(c.response.headers.via), /^1\.1 mesher-/);
    const up = ws.upgrades.at(-1)!;
    assert.equal(urls.at(-1), '/room/1');
    assert.equal(up['x-mesher-source'], undefined, 'the edge names no source app, and drops the client claim');
    assert.equal(up['x-forwarded-for'], '127.0.0.1');
    assert.equal(up.host, 'chat.example.com');
    assert.match(String(up.via), /^1\.1 mesher-/);
    for (const msg of ['hello', 'edge']) {
      c.send(msg);
      assert.equal((await c.next()).payload.toString(), msg);
    }
    const big = randomBytes(100_000);
    c.send(big);
    assert.ok((await c.next()).payload.equals(big));
    c.send('bye');
    await c.closed;
  });

  test('a path rule with a rewrite: the upgrade reaches the rewritten path', async () => {
    const c = await connectWebSocket(m.edge!, '/ws/lobby', 'anything.test');
    assert.equal(urls.at(-1), '/lobby');
    c.send('x');
    assert.equal((await c.next()).payload.toString(), 'x');
    c.send('bye');
    await c.closed;
  });

  test('no ingress rule for the host and path: 404 ROUTE_NOT_FOUND JSON, nothing reaches the app', async () => {
    const before = ws.upgrades.length;
    const e = await connectWebSocket(m.edge!, '/nowhere', 'other.test').then(
      () => assert.fail('the upgrade should be refused'),
      (err: unknown) => err as UpgradeRefused,
    );
    assert.ok(e instanceof UpgradeRefused, String(e));
    assert.equal(e.status, 404);
    assert.equal(e.headers['x-mesher-error'], 'ROUTE_NOT_FOUND');
    assert.equal(e.headers.connection, 'close');
    const body = JSON.parse(e.body) as { code: string; message: string };
    assert.equal(body.code, 'ROUTE_NOT_FOUND');
    assert.match(body.message, /no ingress rule for host 'other\.test' and path '\/nowhere'/);
    assert.equal(ws.upgrades.length, before);
  });

  test('a proxy-style upgrade (absolute-form) gets a clear 400', async () => {
    const [host, port] = splitHostPort(m.edge!);
    const text = await new Promise<string>((resolve) => {
      const s = net.connect(port, host);
      let t = '';
      s.on('data', (c: Buffer) => (t += c.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(t));
      s.setTimeout(10_000, () => s.destroy());
      s.write(`GET http://chat/room HTTP/1.1\r\nHost: chat\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
    });
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /"code":"BAD_REQUEST"/);
    assert.match(text, /this is an edge listener/);
  });

  test('abrupt close on either side closes the other', async () => {
    const a = await connectWebSocket(m.edge!, '/x', 'chat.example.com');
    a.send('ping');
    await a.next();
    const closed0 = ws.closed;
    (a.socket as net.Socket).resetAndDestroy();
    await waitFor('app side closed after the client reset', () => ws.closed > closed0);

    const b = await connectWebSocket(m.edge!, '/y', 'chat.example.com');
    b.send('ping');
    await b.next();
    for (const s of ws.sockets) (s as net.Socket).resetAndDestroy();
    await Promise.race([b.closed, sleep(10_000).then(() => assert.fail('client side not closed after the app reset'))]);
  });

  test('the edge Mesher survived and counts its upgrades under the edge listener', async () => {
    assert.equal(m.proc.exitCode, null);
    const metrics = await new Promise<string>((resolve, reject) => {
      http.get(`http://${m.admin}/metrics`, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      }).on('error', reject);
    });
    assert.match(metrics, /^mesher_upgraded_connections\{listener="edge"\} 0$/m);
  });
});
