import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { instanceRecord, type InstanceRecord, type RegistryState } from '@mesher/contracts';
import { buildSnapshot, SnapshotHolder } from '@mesher/registry';
import type { CompletedExchange } from './exchange';
import { ProxyServer } from './proxy-server';
import { DEFAULT_REQUEST_LIMITS } from './request-guard';
import { RuntimeTable } from './service-runtime';
import { createInboundUpgradeHandler, createOutboundUpgradeHandler, upgradeResponseHead } from './websocket-proxy';

const VIA = '1.1 mesher-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('upgradeResponseHead', () => {
  test('keeps the protocol switch, drops hop-by-hop and Connection-named fields, appends Via', () => {
    const head = upgradeResponseHead(
      101,
      'Switching Protocols',
      ['Upgrade', 'websocket', 'Connection', 'Upgrade, X-Secret', 'X-Secret', '1', 'Keep-Alive', 'timeout=5', 'Sec-WebSocket-Accept', 'abc', 'Via', '1.1 app'],
      VIA,
      'websocket',
    );
    assert.equal(
      head,
      'HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc\r\nconnection: Upgrade\r\nupgrade: websocket\r\nvia: 1.1 app, 1.1 mesher-test\r\n\r\n',
    );
  });

  test('a declined upgrade is relayed with connection: close', () => {
    const head = upgradeResponseHead(403, '', ['Content-Length', '2', 'Transfer-Encoding', 'chunked'], VIA, null);
    assert.equal(head, 'HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nconnection: close\r\nvia: 1.1 mesher-test\r\n\r\n');
  });
});

/** An app that accepts upgrades (after `delayMs`) and echoes raw bytes; '/declined' answers 403. */
class App {
  server = http.createServer((_req, res) => res.end('plain'));
  upgrades: http.IncomingHttpHeaders[] = [];
  sockets = new Set<Duplex>();
  closed = 0;
  delayMs = 0;
  port = 0;

  async start(): Promise<void> {
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      this.upgrades.push(req.headers);
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.closed++;
      });
      if (req.url === '/declined') {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno');
        return;
      }
      setTimeout(() => {
        if (socket.destroyed) return;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
        socket.pipe(socket);
      }, this.delayMs);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Sends an upgrade request; resolves with the switched socket or the refusal. */
function upgrade(port: number, path: string, host: string, headers: http.OutgoingHttpHeaders = {}, body?: string) {
  return new Promise<{ socket?: Duplex; res: http.IncomingMessage; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { host, connection: 'Upgrade', upgrade: 'echo', ...headers } });
    req.on('error', reject);
    req.on('upgrade', (res, socket) => resolve({ socket, res, body: '' }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ res, body }));
    });
    req.end(body);
  });
}

function echo(socket: Duplex, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (c: Buffer) => resolve(c.toString()));
    socket.write(text);
  });
}

describe('upgrade proxying over real sockets', () => {
  const app = new App();
  const completed: CompletedExchange[] = [];
  const observer = { onComplete: (e: CompletedExchange) => completed.push(e) };
  let inbound: ProxyServer;
  let outbound: ProxyServer;
  let inPort = 0;
  let outPort = 0;
  let deadPort = 0;

  before(async () => {
    await app.start();
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));

    const guard = { limits: DEFAULT_REQUEST_LIMITS };
    const runtimes = new RuntimeTable();
    inbound = new ProxyServer('inbound', (_q, s) => s.end(), {
      upgrade: createInboundUpgradeHandler({ appUrl: `http://127.0.0.1:${app.port}`, serviceName: 'chat', runtimes, via: VIA, meshSecret: 's3cret', guard, observer }),
    });
    inPort = (await inbound.listen(0, '127.0.0.1')).port;

    const inst = (id: string, endpoint: string): InstanceRecord => instanceRecord(id, id, { endpoint, weight: 1 });
    const state: RegistryState = {
      revision: 1,
      services: [
        { name: 'chat', app: null, description: null },
        { name: 'gone', app: null, description: null },
      ],
      instances: [inst('chat', `http://127.0.0.1:${inPort}`), inst('gone', `http://127.0.0.1:${deadPort}`)],
      routes: [],
      policies: [],
    };
    const holder = new SnapshotHolder(buildSnapshot(state, Date.now()));
    runtimes.sync(holder.current, Date.now());
    outbound = new ProxyServer('outbound', (_q, s) => s.end(), {
      upgrade: createOutboundUpgradeHandler({ holder, runtimes, serviceName: 'web', via: '1.1 mesher-out', guard, observer }),
    });
    outPort = (await outbound.listen(0, '127.0.0.1')).port;
  });

  after(async () => {
    await outbound.close(100);
    await inbound.close(100);
    await app.close();
  });

  test('outbound -> inbound -> app: bytes flow both ways, Via names both hops, untrusted identity is dropped', async () => {
    const { socket, res } = await upgrade(outPort, '/ws', 'chat', { 'x-mesher-source': 'forged', 'x-forwarded-host': 'evil' });
    assert.ok(socket, `expected a switch, got ${res.statusCode}`);
    assert.equal(res.statusCode, 101);
    assert.equal(res.headers.upgrade, 'echo');
    assert.equal(res.headers.via, `${VIA}, 1.1 mesher-out`);
    assert.equal(await echo(socket, 'ping'), 'ping');
    const seen = app.upgrades.at(-1)!;
    assert.equal(seen.via, `1.1 mesher-out, ${VIA}`);
    // No mesh secret on the outbound side here: the inbound side does not believe the caller.
    assert.equal(seen['x-mesher-source'], 'unknown');
    assert.equal(seen['x-forwarded-host'], undefined);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    socket.end();
    await eventually('both sides closed and reported', () => completed.filter((c) => c.status === 101).length >= 2);
    const out = completed.find((c) => c.direction === 'outbound' && c.status === 101)!;
    assert.equal(out.destination, 'chat');
    assert.equal(out.source, 'web');
  });

  test('unknown service: JSON 404; unreachable instance: JSON 502', async () => {
    const unknown = await upgrade(outPort, '/ws', 'nosuch');
    assert.equal(unknown.res.statusCode, 404);
    assert.equal(unknown.res.headers['x-mesher-error'], 'SERVICE_NOT_FOUND');
    assert.match(unknown.body, /no service named 'nosuch'/);
    const gone = await upgrade(outPort, '/ws', 'gone');
    assert.equal(gone.res.statusCode, 502);
    assert.equal(gone.res.headers['x-mesher-error'], 'UPSTREAM_UNAVAILABLE');
  });

  test('an upgrade with a body, or a duplicated Host, is refused', async () => {
    const withBody = await upgrade(inPort, '/ws', 'chat', { 'content-length': '5' }, 'hello');
    assert.equal(withBody.res.statusCode, 400);
    assert.match(withBody.body, /upgrade request with a body/);
    const s = net.connect(inPort, '127.0.0.1');
    const text = await new Promise<string>((resolve) => {
      let out = '';
      s.on('data', (c: Buffer) => (out += c.toString()));
      s.on('close', () => resolve(out));
      s.write('GET /ws HTTP/1.1\r\nHost: chat\r\nHost: evil\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    });
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.match(text, /more than one Host/);
  });

  test('the app declines: its answer is relayed and the connection closed', async () => {
    const r = await upgrade(inPort, '/declined', 'chat');
    assert.equal(r.res.statusCode, 403);
    assert.equal(r.body, 'no');
    assert.equal(r.res.headers.via, VIA);
  });

  test('client reset during the handshake: no crash, the app side is closed', async () => {
    app.delayMs = 200;
    try {
      const closed0 = app.closed;
      for (let i = 0; i < 5; i++) {
        const s = net.connect(inPort, '127.0.0.1');
        s.on('error', () => undefined);
        s.write('GET /ws HTTP/1.1\r\nHost: chat\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
        await sleep(30);
        s.resetAndDestroy();
      }
      await eventually('every app-side socket closed', () => app.closed - closed0 === 5);
    } finally {
      app.delayMs = 0;
    }
    const { socket } = await upgrade(inPort, '/ws', 'chat');
    assert.ok(socket);
    assert.equal(await echo(socket, 'alive'), 'alive');
    socket.destroy();
  });

  test('an abrupt close on either side closes the other', async () => {
    const a = await upgrade(outPort, '/ws', 'chat');
    const closed0 = app.closed;
    (a.socket as net.Socket).resetAndDestroy();
    await eventually('app side closed after a client reset', () => app.closed > closed0);

    const b = await upgrade(outPort, '/ws', 'chat');
    b.socket!.on('error', () => undefined);
    const clientClosed = new Promise<void>((r) => b.socket!.once('close', () => r()));
    assert.equal(await echo(b.socket!, 'x'), 'x');
    for (const s of app.sockets) (s as net.Socket).resetAndDestroy();
    await clientClosed;
  });

  test('closing a listener (after its drain) cuts its upgraded connections', async () => {
    const c = await upgrade(inPort, '/ws', 'chat');
    const closed = new Promise<void>((r) => c.socket!.once('close', () => r()));
    await eventually('the upgraded connection is counted', () => inbound.upgradedConnections === 1);
    await inbound.close(50);
    await closed;
    assert.equal(inbound.upgradedConnections, 0);
  });
});
