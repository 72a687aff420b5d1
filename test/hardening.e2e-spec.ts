import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { api, request } from './support/http-client';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { attachWebSocketEcho, connectWebSocket, UpgradeRefused, type WsEchoServer } from './support/websocket';
import { sleep, waitFor as waitUntil, type Condition } from './support/load';

/*
 * Hostile input, limits, faults and streaming against real Mesher processes over real sockets.
 * Three Meshers share one store: `main` (consumer sidecar "web"), `tight` (low limits: 1 s headers
 * timeout, 40 connections, 300 ms event-loop delay) and `provider` (sidecar of "chat" with an inbound
 * listener). Sizes are the issue's: 1 GiB each way, 1,000 aborting clients, 5,000 concurrent connections.
 */

const MiB = 1024 * 1024;
const SECRET = 'hardening-secret';

const waitFor = <T>(what: string, fn: Condition<T>, ms = 8000) => waitUntil(what, fn, ms, 25);

// ---------------------------------------------------------------------------------------------
// A recording upstream with one behaviour per path, plus WebSocket echo on the same port.

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const BLOCK = randomBytes(MiB);
/** Block i of the big transfers: the shared random block stamped with its index, so order matters. */
function block(i: number): Buffer {
  const b = Buffer.from(BLOCK);
  b.writeUInt32BE(i, 0);
  return b;
}
async function* blocks(n: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < n; i++) yield block(i);
}
function expectedHash(n: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) h.update(block(i));
  return h.digest('hex');
}

class Recorder {
  seen: Seen[] = [];
  server!: http.Server;
  ws!: WsEchoServer;
  port = 0;
  sse = { started: 0, finished: 0 };
  long = { opened: 0, closed: 0 };
  uploads = { opened: 0, aborted: 0 };
  hung = new Set<http.ServerResponse>();
  upgradeDelayedClosed = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.ws = attachWebSocketEcho(this.server, (req, socket) => {
      if (req.url === '/no-ws') {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\nno way');
        return 'handled';
      }
      if (req.url === '/slow-upgrade') {
        socket.once('close', () => this.upgradeDelayedClosed++);
        return 300;
      }
      return undefined;
    });
    await new Promise<void>((r) => this.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  smuggled(): Seen[] {
    return this.seen.filter((s) => s.url.includes('smuggled'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    if (path === '/upload') {
      this.uploads.opened++;
      res.once('close', () => {
        if (!res.writableFinished) this.uploads.aborted++;
      });
      const h = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes, sha256: h.digest('hex') }));
      });
      return;
    }
    if (path === '/download') {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('mib'));
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n * MiB });
      void pipeline(Readable.from(blocks(n)), res).catch(() => undefined);
      return;
    }
    if (path === '/long') {
      req.resume();
      this.long.opened++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const iv = setInterval(() => res.write('tick\n'), 50);
      res.write('tick\n');
      res.once('close', () => {
        clearInterval(iv);
        this.long.closed++;
      });
      return;
    }
    const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' };
    this.seen.push(seen);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.body = Buffer.concat(chunks).toString('latin1');
      this.respond(path, req, res, seen);
    });
  }

  private respond(path: string, _req: http.IncomingMessage, res: http.ServerResponse, seen: Seen): void {
    switch (path) {
      case '/hop':
        res.writeHead(200, {
          connection: 'keep-alive, x-up-secret',
          'x-up-secret': 'leak',
          'keep-alive': 'timeout=5, max=7',
          'proxy-connection': 'keep-alive',
          upgrade: 'h2c',
          via: '1.0 upstream-proxy',
          'content-type': 'text/plain',
        });
        res.end('hop');
        return;
      case '/sse': {
        this.sse.started++;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const iv = setInterval(() => {
          res.write(`data: ${n}\n\n`);
          if (++n === 10) {
            clearInterval(iv);
            this.sse.finished++;
            res.end();
          }
        }, 100);
        res.once('close', () => clearInterval(iv));
        return;
      }
      case '/hang':
        this.hung.add(res);
        res.once('close', () => this.hung.delete(res));
        return;
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 40 });
        let n = 0;
        const iv = setInterval(() => {
          res.write('x');
          if (++n === 40) {
            clearInterval(iv);
            res.end();
          }
        }, 20);
        res.once('close', () => clearInterval(iv));
        return;
      }
      case '/reset-fixed':
      case '/reset-chunked':
        res.writeHead(200, path === '/reset-fixed' ? { 'content-length': 100_000 } : {});
        res.write(Buffer.alloc(1000, 'a'));
        setTimeout(() => res.socket?.resetAndDestroy(), 50);
        return;
      default:
        res.writeHead(200, { 'content-type': 'text/plain', 'x-seen-body-bytes': String(Buffer.byteLength(seen.body, 'latin1')) });
        res.end(`ok ${seen.method} ${seen.url}`);
    }
  }

  close(): Promise<void> {
    for (const r of this.hung) r.destroy();
    for (const s of this.ws.sockets) s.destroy();
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Raw socket helpers.

interface RawResult {
  text: string;
  /** Status codes of every response on the connection, in order. */
  statuses: number[];
  /** The server closed the connection (rather than our timeout). */
  closed: boolean;
}

function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i), Number(hp.slice(i + 1))];
}

/**
 * Writes `data` and collects whatever comes back until the server closes (or `timeoutMs`). No
 * half-close: Node's server takes a client FIN as an abort of the request in flight.
 */
function raw(hostPort: string, data: string | Buffer, timeoutMs = 5000): Promise<RawResult> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('end', () => (closed = true));
    s.on('close', (hadError) => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ text, statuses, closed: closed || hadError });
    });
    s.write(data);
  });
}

function headerOf(text: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}: ([^\\r]*)\\r\\n`, 'i').exec(text);
  return m ? m[1] : undefined;
}

function fdLimit(): string {
  const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m ? m[1] : 'unknown';
}

/** Open file descriptors of a process (sockets included): its handles as the kernel counts them. */
function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Connections a server holds open now. */
function connectionsOf(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** /proc/<pid>/status field in bytes. */
function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** A GET through a proxy on a fresh connection, resolving with status and the stream of the body. */
function openStream(proxy: string, url: string): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  const [host, port] = splitHostPort(proxy);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: url, agent: false }, (res) => resolve({ req, res }));
    req.on('error', reject);
    req.end();
  });
}

/** Reads a response to the end, or reports how it broke off. */
function drain(res: http.IncomingMessage, timeoutMs = 5000): Promise<{ bytes: number; complete: boolean; error: string | null }> {
  return new Promise((resolve) => {
    let bytes = 0;
    const timer = setTimeout(() => {
      res.destroy();
      resolve({ bytes, complete: false, error: 'client timeout (the proxy left the response hanging)' });
    }, timeoutMs);
    res.on('data', (c: Buffer) => (bytes += c.length));
    res.on('error', () => undefined);
    res.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes, complete: res.complete, error: res.complete ? null : 'aborted' });
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('hardening: hostile input, limits, faults, streaming and WebSocket through real Meshers', () => {
  const shared = tempDir();
  const rec = new Recorder();
  let main: MesherProcess;
  let tight: MesherProcess;
  let provider: MesherProcess;
  let mainVia = '';

  before(async () => {
    await rec.start();
    // Shedding stays off on `main` (the default, said explicitly): its 2,000-connection burst on a shared
    // 2-core box stalls the loop past any sane limit, and that test is about file descriptors.
    // Shedding is tested on `tight`.
    main = await startMesher(['--service-name', 'web', '--mesh-secret', SECRET, '--connect-timeout', '500ms', '--overload-event-loop-delay', '0'], {
      dataDir: shared,
    });
    [tight, provider] = await Promise.all([
      startMesher(['--headers-timeout', '1s', '--max-connections', '40', '--overload-event-loop-delay', '300ms'], { dataDir: shared }),
      startMesher(['--service-name', 'chat', '--app-port', String(rec.port), '--inbound-port', '0', '--mesh-secret', SECRET], { dataDir: shared }),
    ]);
    assert.equal((await api(main.admin, 'POST', '/v1/services/rec/instances', { endpoint: rec.url })).status, 201);
    const first = await waitFor('rec routable through main', async () => {
      const r = await request(main.proxy, 'GET', 'http://rec/ready');
      return r.status === 200 ? r : undefined;
    });
    mainVia = String(first.headers.via);
    await waitFor('rec routable through tight', async () => (await request(tight.proxy, 'GET', 'http://rec/ready')).status === 200);
    await waitFor('chat routable through main', async () => (await request(main.proxy, 'GET', 'http://chat/ready')).status === 200);
  });

  after(async () => {
    await Promise.all([main?.stop(), tight?.stop(), provider?.stop()]);
    await rec.close();
  });

  const alive = (m: MesherProcess) => m.proc.exitCode === null && m.proc.signalCode === null;

  describe('raw-request corpus (smuggling, request lines, field values, Host, sizes)', () => {
    const SMUGGLE = 'GET /smuggled HTTP/1.1\r\nHost: rec\r\n\r\n';
    const post = (headers: string, body: string) => `POST /corpus HTTP/1.1\r\nHost: rec\r\n${headers}\r\n${body}`;
    const cases: Array<{ name: string; raw: string; status: number; code?: string }> = [
      // Request smuggling: every ambiguity is refused and the connection closed, so the trailing request is never parsed.
      { name: 'CL + TE', raw: post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE + CL', raw: post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'duplicate CL, different values', raw: post('Content-Length: 5\r\nContent-Length: 44\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'duplicate CL, same value', raw: post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'CL list "5, 5"', raw: post('Content-Length: 5, 5\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'CL "+5"', raw: post('Content-Length: +5\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'CL "-1"', raw: post('Content-Length: -1\r\n', SMUGGLE), status: 400 },
      { name: 'CL "0x5"', raw: post('Content-Length: 0x5\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'CL with a space inside', raw: post('Content-Length: 1 0\r\n', 'hello' + SMUGGLE), status: 400 },
      { name: 'TE "gzip, chunked" (Node accepts it)', raw: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400, code: 'BAD_REQUEST' },
      { name: 'TE "chunked, gzip"', raw: post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE twice', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE "identity"', raw: post('Transfer-Encoding: identity\r\n', SMUGGLE), status: 400 },
      { name: 'TE "xchunked"', raw: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE with space before the colon', raw: post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE with a vertical tab', raw: post('Transfer-Encoding: \x0bchunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'TE in an HTTP/1.0 request (Node accepts it)', raw: 'POST /corpus HTTP/1.0\r\nHost: rec\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'chunk-size overflow', raw: post('Transfer-Encoding: chunked\r\n', 'FFFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'chunk-size not hex', raw: post('Transfer-Encoding: chunked\r\n', '5x\r\nhello\r\n0\r\n\r\n' + SMUGGLE), status: 400 },
      { name: 'chunk lines with bare LF', raw: post('Transfer-Encoding: chunked\r\n', '5\nhello\n0\n\n' + SMUGGLE), status: 400 },
      // Bad request lines.
      { name: 'extra token after the version', raw: 'GET /corpus HTTP/1.1 x\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'lower-case method', raw: 'get /corpus HTTP/1.1\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'space in the target', raw: 'GET /a b HTTP/1.1\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'control byte in the target', raw: 'GET /a\x01b HTTP/1.1\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'HTTP/1.2', raw: 'GET /corpus HTTP/1.2\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'HTTP/2.0 on an HTTP/1 line (Node accepts it)', raw: 'GET /corpus HTTP/2.0\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'HTTP/0.9 simple request (Node accepts it)', raw: 'GET /corpus\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
      { name: 'bare LF line endings', raw: 'GET /corpus HTTP/1.1\nHost: rec\n\n' + SMUGGLE, status: 400 },
      { name: 'leading NUL', raw: '\0GET /corpus HTTP/1.1\r\nHost: rec\r\n\r\n' + SMUGGLE, status: 400 },
      // NUL / CR / LF in field values and names, obs-fold.
      { name: 'NUL in a value', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX-A: o\0ne\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'bare CR in a value', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX-A: o\rne\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'bare LF splitting a header', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX-A: o\nContent-Length: 44\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'NUL in a name', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX\0A: b\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'space in a name', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX A: b\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'obs-fold', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nX-A: one\r\n two\r\n\r\n' + SMUGGLE, status: 400 },
      { name: 'obs-fold of Transfer-Encoding', raw: post('Transfer-Encoding: x\r\n chunked\r\n', '0\r\n\r\n' + SMUGGLE), status: 400 },
      // Host.
      { name: 'duplicate Host (Node accepts it)', raw: 'GET /corpus HTTP/1.1\r\nHost: rec\r\nHost: evil\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'missing Host', raw: 'GET /corpus HTTP/1.1\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'Host with a space (Node accepts it)', raw: 'GET /corpus HTTP/1.1\r\nHost: rec evil\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'Host with userinfo', raw: 'GET /corpus HTTP/1.1\r\nHost: user@rec\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'Host with a bad port', raw: 'GET /corpus HTTP/1.1\r\nHost: rec:80x\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      { name: 'absolute-form with a second Host', raw: 'GET http://rec/corpus HTTP/1.1\r\nHost: rec\r\nHost: evil\r\n\r\n' + SMUGGLE, status: 400, code: 'BAD_REQUEST' },
      // Sizes.
      { name: 'URL over --max-url-length (8 KiB)', raw: `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: rec\r\n\r\n` + SMUGGLE, status: 414, code: 'URI_TOO_LONG' },
      { name: 'URL over the header size limit', raw: `GET /${'a'.repeat(40_000)} HTTP/1.1\r\nHost: rec\r\n\r\n` + SMUGGLE, status: 431, code: 'HEADERS_TOO_LARGE' },
      { name: 'one header over the size limit', raw: `GET /corpus HTTP/1.1\r\nHost: rec\r\nX-Big: ${'b'.repeat(40_000)}\r\n\r\n` + SMUGGLE, status: 431, code: 'HEADERS_TOO_LARGE' },
      { name: '101 header fields (limit 100)', raw: `GET /corpus HTTP/1.1\r\nHost: rec\r\n${Array.from({ length: 100 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n` + SMUGGLE, status: 431, code: 'HEADERS_TOO_LARGE' },
    ];

    for (const c of cases) {
      test(`${c.name} -> ${c.status}, connection closed, nothing smuggled`, async () => {
        const r = await raw(main.proxy, c.raw);
        assert.equal(r.statuses[0], c.status, `${c.name}: got ${JSON.stringify(r.text.slice(0, 300))}`);
        assert.equal(r.statuses.length, 1, `${c.name}: exactly one response: ${JSON.stringify(r.text.slice(0, 600))}`);
        assert.ok(r.closed, 'the proxy closed the connection');
        if (c.code) assert.equal(headerOf(r.text, 'x-mesher-error'), c.code);
        assert.match(r.text, /"code":"[A-Z_]+","message":"[^"]+"/, 'JSON error body with a message');
        assert.deepEqual(rec.smuggled(), [], 'the upstream never received the trailing request');
      });
    }

    test('controls: a smuggled-looking request inside a framed body stays body (CL and chunked); pipelining still works', async () => {
      const before = rec.seen.length;
      const cl = await raw(main.proxy, post(`Content-Length: ${SMUGGLE.length}\r\nConnection: close\r\n`, SMUGGLE));
      assert.deepEqual(cl.statuses, [200]);
      const hex = SMUGGLE.length.toString(16);
      const ch = await raw(main.proxy, post('Transfer-Encoding: chunked\r\nConnection: close\r\n', `${hex}\r\n${SMUGGLE}\r\n0\r\n\r\n`));
      assert.deepEqual(ch.statuses, [200]);
      const bodies = rec.seen.slice(before).map((s) => s.body);
      assert.deepEqual(bodies, [SMUGGLE, SMUGGLE], 'both bodies reached the upstream intact');
      const piped = await raw(main.proxy, 'GET /one HTTP/1.1\r\nHost: rec\r\n\r\nGET /two HTTP/1.1\r\nHost: rec\r\nConnection: close\r\n\r\n');
      assert.deepEqual(piped.statuses, [200, 200]);
      assert.deepEqual(rec.smuggled(), []);
    });

    test('CONNECT (no egress rule for it): a JSON 4xx, closed, nothing smuggled', async () => {
      const r = await raw(main.proxy, 'CONNECT rec:443 HTTP/1.1\r\nHost: rec:443\r\n\r\n' + SMUGGLE);
      assert.equal(r.statuses.length, 1, r.text);
      assert.ok(r.statuses[0] >= 400 && r.statuses[0] < 500, r.text);
      assert.ok(r.closed);
      assert.match(r.text, /"code":"[A-Z_]+","message":"[^"]+"/);
      assert.deepEqual(rec.smuggled(), []);
    });

    test('the process survived the whole corpus', () => {
      assert.ok(alive(main));
    });
  });

  describe('intermediary rules: hop-by-hop fields, Via, loops, forwarded identity', () => {
    test('hop-by-hop fields are removed in both directions, Via is added in both', async () => {
      const r = await request(main.proxy, 'GET', 'http://rec/hop', {
        agent: false,
        headers: {
          connection: 'keep-alive, x-client-secret',
          'x-client-secret': 'leak',
          'keep-alive': 'timeout=9',
          te: 'trailers, deflate',
          'proxy-connection': 'keep-alive',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          upgrade: 'h2c',
          via: '1.1 client-proxy',
        },
      });
      assert.equal(r.status, 200);
      const up = rec.seen.at(-1)!;
      assert.equal(up.url, '/hop');
      for (const h of ['x-client-secret', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'upgrade']) {
        assert.equal(up.headers[h], undefined, `${h} must not reach the upstream`);
      }
      assert.equal(up.headers.te, 'trailers', 'TE keeps only trailers');
      assert.equal(up.headers.via, `1.1 client-proxy, ${mainVia}`);
      assert.equal(r.headers['x-up-secret'], undefined, 'field named by the upstream Connection is dropped');
      assert.equal(r.headers.upgrade, undefined);
      assert.equal(r.headers['proxy-connection'], undefined);
      assert.ok(!String(r.headers['keep-alive'] ?? '').includes('max=7'), "the upstream's Keep-Alive is not relayed");
      assert.equal(r.headers.via, `1.0 upstream-proxy, ${mainVia}`);
    });

    test("a request carrying this Mesher's Via token is a loop: 508", async () => {
      const r = await request(main.proxy, 'GET', 'http://rec/loop', { headers: { via: `1.1 other, ${mainVia}` } });
      assert.equal(r.status, 508);
      assert.equal(r.headers['x-mesher-error'], 'LOOP_DETECTED');
    });

    const FORGED = {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/admin',
      forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
      'x-real-ip': '6.6.6.6',
      'x-mesher-source': 'admin',
      'x-mesher-token': 'forged',
    };

    function assertOutboundIdentity(up: Seen): void {
      assert.equal(up.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(up.headers['x-forwarded-host'], 'rec');
      assert.equal(up.headers['x-forwarded-proto'], 'http');
      assert.equal(up.headers['x-forwarded-port'], undefined);
      assert.equal(up.headers['x-forwarded-prefix'], undefined);
      assert.equal(up.headers.forwarded, undefined);
      assert.equal(up.headers['x-real-ip'], undefined);
      assert.equal(up.headers['x-mesher-source'], 'web');
      assert.equal(up.headers['x-mesher-token'], undefined, 'no token to an instance not registered by a sidecar');
    }

    const rawWithExpect = (hostPort: string, target: string, host: string, headers: Record<string, string>, body: string) => {
      const [h, p] = splitHostPort(hostPort);
      return new Promise<{ got100: boolean; text: string }>((resolve, reject) => {
        const s = net.connect(p, h);
        let text = '';
        let sent = false;
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`no response: ${text}`));
        }, 5000);
        s.on('error', () => undefined);
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
          if (!sent && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
            sent = true;
            s.write(body);
          }
        });
        s.on('close', () => {
          clearTimeout(timer);
          resolve({ got100: sent, text });
        });
        const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        s.write(`POST ${target} HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${lines}\r\n`);
      });
    };

    test('outbound: forged identity headers are replaced by Mesher values', async () => {
      const r = await request(main.proxy, 'GET', 'http://rec/identity', { headers: FORGED });
      assert.equal(r.status, 200);
      assertOutboundIdentity(rec.seen.at(-1)!);
    });

    test('outbound: the same with Expect: 100-continue (Node answers the 100 itself)', async () => {
      const r = await rawWithExpect(main.proxy, '/identity-expect', 'rec', FORGED, 'hello');
      assert.ok(r.got100, 'the client got 100 Continue');
      assert.match(r.text, /HTTP\/1\.1 200 OK/);
      const up = rec.seen.at(-1)!;
      assert.equal(up.url, '/identity-expect');
      assert.equal(up.body, 'hello');
      assertOutboundIdentity(up);
      assert.equal(up.headers.expect, undefined, 'the expectation was met by Mesher and is not forwarded');
    });

    test('inbound from a caller that is not a Mesher: forged identity is dropped, with and without Expect', async () => {
      const r = await request(provider.inbound!, 'GET', '/in-identity', { headers: FORGED });
      assert.equal(r.status, 200);
      const withExpect = await rawWithExpect(provider.inbound!, '/in-identity-expect', 'chat', FORGED, 'hello');
      assert.ok(withExpect.got100);
      assert.match(withExpect.text, /HTTP\/1\.1 200 OK/);
      for (const up of rec.seen.slice(-2)) {
        assert.equal(up.headers['x-mesher-source'], 'unknown', up.url);
        assert.equal(up.headers['x-forwarded-for'], '127.0.0.1', up.url);
        assert.equal(up.headers['x-forwarded-host'], undefined, up.url);
        assert.equal(up.headers['x-forwarded-proto'], undefined, up.url);
        assert.equal(up.headers['x-forwarded-prefix'], undefined, up.url);
        assert.equal(up.headers.forwarded, undefined, up.url);
        assert.equal(up.headers['x-real-ip'], undefined, up.url);
        assert.equal(up.headers['x-mesher-token'], undefined, up.url);
      }
      assert.equal(rec.seen.at(-1)!.body, 'hello');
    });

    test('Mesher -> Mesher: the provider believes the consumer sidecar (mesh secret), not the client', async () => {
      const r = await request(main.proxy, 'GET', 'http://chat/two-hops', { headers: FORGED });
      assert.equal(r.status, 200);
      const up = rec.seen.at(-1)!;
      assert.equal(up.url, '/two-hops');
      assert.equal(up.headers['x-mesher-source'], 'web');
      assert.equal(up.headers['x-forwarded-for'], '127.0.0.1, 127.0.0.1');
      assert.equal(up.headers['x-forwarded-host'], 'chat');
      assert.equal(up.headers.forwarded, undefined);
      assert.equal(up.headers['x-mesher-token'], undefined, 'the mesh secret never reaches the app');
      assert.equal(String(up.headers.via).split(',').length, 2);
      assert.equal(String(r.headers.via).split(',').length, 2, 'Via on the way back names both Meshers');
    });
  });

  describe('faults', () => {
    let blackhole: ChildProcess | null = null;
    const fillers: net.Socket[] = [];

    before(async () => {
      const dead = net.createServer();
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
      const deadPort = (dead.address() as net.AddressInfo).port;
      await new Promise<void>((r) => dead.close(() => r()));
      // A listener whose accept queue is full: SYNs go unanswered, so a connect hangs.
      blackhole = spawn(
        process.execPath,
        [
          '-e',
          "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,60000)})",
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const bhPort = await new Promise<number>((resolve) => blackhole!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      for (let i = 0; i < 4; i++) {
        const s = net.connect(bhPort, '127.0.0.1');
        s.on('error', () => undefined);
        fillers.push(s);
      }
      await sleep(200);
      for (const [svc, endpoint] of [
        ['down', `http://127.0.0.1:${deadPort}`],
        ['blackhole', `http://127.0.0.1:${bhPort}`],
        ['slow', rec.url],
      ]) {
        assert.equal((await api(main.admin, 'POST', `/v1/services/${svc}/instances`, { endpoint })).status, 201);
      }
      assert.equal((await api(main.admin, 'PUT', '/v1/policies/slow', { timeout: { requestMs: 500 } })).status, 200);
      await waitFor('policy of slow applied', async () => (await request(main.proxy, 'GET', 'http://slow/hang')).status === 504);
    });

    after(() => {
      for (const s of fillers) s.destroy();
      blackhole?.kill('SIGKILL');
    });

    test('upstream down: 502 UPSTREAM_UNAVAILABLE', async () => {
      const r = await request(main.proxy, 'GET', 'http://down/x');
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_UNAVAILABLE');
    });

    test('upstream accepts no connection (full accept queue): 502 after --connect-timeout, with the reason', async () => {
      const r = await request(main.proxy, 'GET', 'http://blackhole/x');
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_UNAVAILABLE');
      assert.match(r.json<{ message: string }>().message, /connect timed out after 500 ms/);
    });

    test('upstream hangs: 504 UPSTREAM_TIMEOUT at the policy deadline, and the hung upstream request is closed', async () => {
      const r = await request(main.proxy, 'GET', 'http://slow/hang');
      assert.equal(r.status, 504);
      assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_TIMEOUT');
      await waitFor('hung upstream requests closed', () => rec.hung.size === 0);
    });

    test('upstream trickles its body: the whole body arrives', async () => {
      const r = await request(main.proxy, 'GET', 'http://rec/trickle');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'x'.repeat(40));
    });

    for (const kind of ['fixed', 'chunked'] as const) {
      test(`upstream resets mid-body (${kind} length): the client connection is cut, not left hanging`, async () => {
        const { res } = await openStream(main.proxy, `http://rec/reset-${kind}`);
        assert.equal(res.statusCode, 200);
        const d = await drain(res);
        assert.equal(d.complete, false);
        assert.equal(d.error, 'aborted');
        assert.ok(d.bytes >= 1000 && d.bytes < 100_000, `got ${d.bytes} bytes before the cut`);
      });
    }

    /**
     * Every data-plane fault of this file at once, in a bounded loop, while a probe client keeps calling:
     * upstream down, unreachable, hung, trickling and resetting mid-body (both framings), a smuggling attempt,
     * a slowloris head and a stalled upload held open, a client aborting a long response, a WebSocket echo
     * cut abruptly and a client reset during an upgrade.
     */
    test('fault soak (15 s): every fault in a loop; the process never exits, the probe always succeeds, handles return to baseline', async (t) => {
      const pid = main.proc.pid!;
      const fds0 = fdCount(pid);
      const [host, port] = splitHostPort(main.proxy);
      const noop = () => undefined;
      const failures: string[] = [];
      const counts: Record<string, number> = {};
      const check = (name: string, ok: boolean, detail: string) => {
        counts[name] = (counts[name] ?? 0) + 1;
        if (!ok) failures.push(`${name}: ${detail.slice(0, 200)}`);
      };
      let stopProbe = false;
      let probes = 0;
      const probe = (async () => {
        while (!stopProbe) {
          const r = await request(main.proxy, 'GET', `http://rec/soak-probe-${probes++}`, { agent: false }).catch((e: Error) => ({ status: 0, body: e.message }));
          check('probe', r.status === 200, `${r.status} ${r.body}`);
          await sleep(50);
        }
      })();
      const upgradesClosed0 = rec.upgradeDelayedClosed;
      const uploads0 = { ...rec.uploads };
      const long0 = { ...rec.long };
      let resets = 0;
      let cycles = 0;
      const until = Date.now() + 15_000;
      try {
        while (Date.now() < until && cycles < 40) {
          const held = [0, 1].map(() => {
            const s = net.connect(port, host);
            s.on('error', noop);
            return s;
          });
          held[0].write('GET /slowloris HTTP/1.1\r\nHost: rec\r\n');
          held[1].write(`POST http://rec/upload HTTP/1.1\r\nHost: rec\r\nContent-Length: 100000\r\n\r\n${'u'.repeat(1000)}`);
          const get = (url: string) => request(main.proxy, 'GET', url, { agent: false }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
          await Promise.all([
            get('http://down/x').then((r) => check('down', r.status === 502, `${r.status} ${r.body}`)),
            get('http://blackhole/x').then((r) => check('unreachable', r.status === 502, `${r.status} ${r.body}`)),
            get('http://slow/hang').then((r) => check('hang', r.status === 504, `${r.status} ${r.body}`)),
            get('http://rec/trickle').then((r) => check('trickle', r.status === 200 && r.body === 'x'.repeat(40), `${r.status} ${r.body}`)),
            ...(['fixed', 'chunked'] as const).map((kind) =>
              openStream(main.proxy, `http://rec/reset-${kind}`)
                .then(({ res }) => drain(res))
                .then((d) => check(`reset-${kind}`, !d.complete && d.error === 'aborted', JSON.stringify(d))),
            ),
            raw(main.proxy, `POST /corpus HTTP/1.1\r\nHost: rec\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: rec\r\n\r\n`).then((r) =>
              check('smuggling', r.statuses.length === 1 && r.statuses[0] === 400 && r.closed, r.text),
            ),
            openStream(main.proxy, 'http://rec/long').then(
              ({ req, res }) =>
                new Promise<void>((resolve) =>
                  res.once('data', () => {
                    req.destroy();
                    check('client abort', true, '');
                    resolve();
                  }),
                ),
            ),
            connectWebSocket(main.proxy, '/chat', 'rec').then(async (ws) => {
              ws.send('soak');
              check('websocket echo', (await ws.next()).payload.toString() === 'soak', '');
              (ws.socket as net.Socket).resetAndDestroy();
            }),
            new Promise<void>((resolve) => {
              const s = net.connect(port, host);
              s.on('error', noop);
              s.write(`GET /slow-upgrade HTTP/1.1\r\nHost: rec\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
              setTimeout(() => {
                s.resetAndDestroy();
                resets++;
                resolve();
              }, 30);
            }),
          ]);
          for (const s of held) s.destroy();
          cycles++;
          check('alive', alive(main), `exit ${main.proc.exitCode} ${main.proc.signalCode}`);
        }
      } finally {
        stopProbe = true;
        await probe;
      }
      t.diagnostic(`${cycles} cycles in 15 s: ${JSON.stringify(counts)}`);
      assert.deepEqual(failures, []);
      assert.ok(cycles >= 5 && probes >= 20, `${cycles} cycles, ${probes} probes`);
      assert.ok(alive(main));
      assert.deepEqual(rec.smuggled(), [], 'nothing was smuggled');
      await waitFor('every reset upgrade closed upstream', () => rec.upgradeDelayedClosed - upgradesClosed0 === resets, 10_000);
      await waitFor('hung upstream requests closed', () => rec.hung.size === 0);
      await waitFor('every held upload cut upstream', () => rec.uploads.opened - uploads0.opened === rec.uploads.aborted - uploads0.aborted, 10_000);
      await waitFor('every aborted long response closed upstream', () => rec.long.opened - long0.opened === rec.long.closed - long0.closed, 10_000);
      await waitFor('Mesher file descriptors back to baseline', () => fdCount(pid) <= fds0, 20_000);
    });

    test('the process survived every fault', () => {
      assert.ok(alive(main));
    });
  });

  describe('streaming', () => {
    test('SSE: the first event reaches the client while the upstream is still writing', async () => {
      const { res } = await openStream(main.proxy, 'http://rec/sse');
      assert.equal(res.headers['content-type'], 'text/event-stream');
      const finishedBefore = rec.sse.finished;
      const first = await new Promise<string>((resolve) => res.once('data', (c: Buffer) => resolve(c.toString())));
      assert.equal(first, 'data: 0\n\n');
      assert.equal(rec.sse.finished, finishedBefore, 'the upstream had not finished when the first event arrived');
      let rest = '';
      res.on('data', (c: Buffer) => (rest += c.toString()));
      await new Promise((r) => res.once('end', r));
      assert.equal((first + rest).split('\n\n').filter(Boolean).length, 10);
    });

    test('1 GiB up and 1 GiB down through the proxy: hashes match, peak RSS of Mesher grows < 64 MB', async (t) => {
      const N = 1024; // MiB each way
      const pid = main.proc.pid!;
      const [host, port] = splitHostPort(main.proxy);

      const upload = (n: number) =>
        new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
          const req = http.request({ host, port, method: 'POST', path: 'http://rec/upload', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode} ${body}`))));
          });
          req.on('error', reject);
          void pipeline(Readable.from(blocks(n)), req).catch(reject); // chunked: no content-length
        });
      const download = async (n: number) => {
        const { res } = await openStream(main.proxy, `http://rec/download?mib=${n}`);
        assert.equal(res.statusCode, 200);
        assert.equal(Number(res.headers['content-length']), n * MiB);
        const h = createHash('sha256');
        let bytes = 0;
        for await (const c of res) {
          bytes += (c as Buffer).length;
          h.update(c as Buffer);
        }
        return { bytes, sha256: h.digest('hex') };
      };

      // Warm-up (JIT, socket and allocator pools), so the measure is what the transfer size adds.
      await upload(16);
      await download(16);
      let baseline: number;
      try {
        fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
        baseline = procKb(pid, 'VmRSS');
      } catch {
        baseline = procKb(pid, 'VmHWM');
      }
      const want = expectedHash(N);
      assert.deepEqual(await upload(N), { bytes: N * MiB, sha256: want });
      assert.deepEqual(await download(N), { bytes: N * MiB, sha256: want });

      const growth = procKb(pid, 'VmHWM') - baseline;
      t.diagnostic(`Mesher peak RSS growth over 2 x ${N} MiB: ${(growth / MiB).toFixed(1)} MiB`);
      assert.ok(growth < 64 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    });

    test('1,000 clients abort long responses: the upstream sees every request closed, open handles return to baseline', async (t) => {
      const pid = main.proc.pid!;
      const fds0 = fdCount(pid);
      const upstream0 = await connectionsOf(rec.server);
      const opened0 = rec.long.opened;
      const closed0 = rec.long.closed;
      const N = 1000;
      const [host, port] = splitHostPort(main.proxy);
      await Promise.all(
        Array.from(
          { length: N },
          () =>
            new Promise<void>((resolve, reject) => {
              const req = http.request({ host, port, path: 'http://rec/long', agent: false }, (res) => {
                res.once('data', () => {
                  req.destroy();
                  resolve();
                });
              });
              req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
              req.end();
            }),
        ),
      );
      assert.equal(rec.long.opened - opened0, N);
      await waitFor('every aborted request closed upstream', () => rec.long.closed - closed0 === N, 20_000);
      // No socket is left behind on either side of Mesher: its descriptors and the upstream's connections
      // come back to what they were (idle pooled connections may close meanwhile, hence "at most").
      await waitFor('Mesher file descriptors back to baseline', () => fdCount(pid) <= fds0, 20_000);
      await waitFor('upstream connections back to baseline', async () => (await connectionsOf(rec.server)) <= upstream0, 20_000);
      t.diagnostic(`Mesher descriptors ${fds0} before, ${fdCount(pid)} after; upstream connections ${upstream0} before, ${await connectionsOf(rec.server)} after`);
      assert.ok(alive(main));
    });

    test('20 clients abort mid-upload: the upstream sees every upload cut', async () => {
      const opened0 = rec.uploads.opened;
      const aborted0 = rec.uploads.aborted;
      const [host, port] = splitHostPort(main.proxy);
      const reqs = Array.from({ length: 20 }, () => {
        const req = http.request({ host, port, method: 'POST', path: 'http://rec/upload', agent: false });
        req.on('error', () => undefined);
        req.write(block(0));
        return req;
      });
      await waitFor('every upload reached the upstream', () => rec.uploads.opened - opened0 === 20);
      for (const r of reqs) r.destroy();
      await waitFor('every upload closed upstream', () => rec.uploads.aborted - aborted0 === 20);
      assert.ok(alive(main));
    });

    test('5,000 concurrent connections are all answered (no EMFILE)', async (t) => {
      const N = 5000;
      // This process holds both ends it owns (5,000 clients, 5,000 upstream connections), Mesher 10,000 too.
      // Node cannot raise its own soft limit: run the suite under `ulimit -n 20000` (or more) where it is lower.
      const limits = [fdLimit(), fs.readFileSync(`/proc/${main.proc.pid}/limits`, 'utf8').match(/Max open files\s+(\d+|unlimited)/)?.[1] ?? 'unknown'];
      t.diagnostic(`soft file descriptor limit (ulimit -n): tests ${limits[0]}, Mesher ${limits[1]}`);
      for (const l of limits) assert.ok(l === 'unlimited' || Number(l) >= 2 * N + 1000, `ulimit -n ${l} is too low for ${N} connections: raise it to ${2 * N + 1000} or more`);
      const [host, port] = splitHostPort(main.proxy);
      const errors: string[] = [];
      const statuses = await Promise.all(
        Array.from(
          { length: N },
          (_, i) =>
            new Promise<number>((resolve) => {
              const req = http.request({ host, port, path: `http://rec/conn-${i}`, agent: false }, (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              });
              req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
              req.on('error', (e: NodeJS.ErrnoException) => {
                errors.push(e.code ?? e.message);
                resolve(0);
              });
              req.end();
            }),
        ),
      );
      assert.deepEqual(errors, [], `client errors (ulimit -n here: see the report)`);
      const byStatus: Record<number, number> = {};
      for (const st of statuses) byStatus[st] = (byStatus[st] ?? 0) + 1;
      assert.deepEqual(byStatus, { 200: N });
      assert.ok(!/EMFILE/.test(main.output()));
      assert.ok(alive(main));
    });
  });

  describe('WebSocket', () => {
    test('echo through one Mesher (Host: service), with Mesher identity and Via on the upgrade', async () => {
      const ws = await connectWebSocket(main.proxy, '/chat', 'rec', { 'x-mesher-source': 'forged', 'x-forwarded-for': '6.6.6.6' });
      assert.equal(ws.response.headers['x-echo'], '1');
      assert.ok(String(ws.response.headers.via).endsWith(mainVia));
      const up = rec.ws.upgrades.at(-1)!;
      assert.equal(up['x-mesher-source'], 'web');
      assert.equal(up['x-forwarded-for'], '127.0.0.1');
      assert.equal(up.via, mainVia);
      ws.send('hello');
      assert.equal((await ws.next()).payload.toString(), 'hello');
      const big = randomBytes(200_000);
      ws.send(big);
      assert.ok((await ws.next()).payload.equals(big));
      ws.send('bye');
      await ws.closed;
    });

    test('echo through two Meshers (consumer sidecar -> provider sidecar -> app)', async () => {
      const ws = await connectWebSocket(main.proxy, '/chat', 'chat');
      const up = rec.ws.upgrades.at(-1)!;
      assert.equal(up['x-mesher-source'], 'web');
      assert.equal(up['x-mesher-token'], undefined);
      assert.equal(String(up.via).split(',').length, 2);
      assert.equal(String(ws.response.headers.via).split(',').length, 2);
      for (const m of ['one', 'two', 'three']) {
        ws.send(m);
        assert.equal((await ws.next()).payload.toString(), m);
      }
      ws.send('bye');
      await ws.closed;
    });

    for (const hops of ['one', 'two'] as const) {
      const host = hops === 'one' ? 'rec' : 'chat';
      test(`abrupt close by the client (${hops} Mesher${hops === 'two' ? 's' : ''}): the app side closes`, async () => {
        const ws = await connectWebSocket(main.proxy, '/chat', host);
        ws.send('ping');
        await ws.next();
        const closed0 = rec.ws.closed;
        (ws.socket as net.Socket).resetAndDestroy();
        await waitFor('app-side socket closed', () => rec.ws.closed > closed0);
      });

      test(`abrupt close by the app (${hops} Mesher${hops === 'two' ? 's' : ''}): the client side closes`, async () => {
        const ws = await connectWebSocket(main.proxy, '/chat', host);
        ws.send('ping');
        await ws.next();
        const before = new Set(rec.ws.sockets);
        assert.ok(before.size >= 1);
        for (const s of before) (s as net.Socket).resetAndDestroy();
        await Promise.race([ws.closed, sleep(5000).then(() => assert.fail('client side not closed'))]);
      });
    }

    test('client reset during the upgrade (20 times): no crash, upstream side closed, echo still works', async () => {
      const [host, port] = splitHostPort(main.proxy);
      const closed0 = rec.upgradeDelayedClosed;
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port, host);
        s.on('error', () => undefined);
        s.write(
          'GET /slow-upgrade HTTP/1.1\r\nHost: rec\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
        );
        await sleep(30);
        s.resetAndDestroy();
      }
      await waitFor('every pending upstream upgrade closed', () => rec.upgradeDelayedClosed - closed0 === 20);
      assert.ok(alive(main));
      const ws = await connectWebSocket(main.proxy, '/chat', 'rec');
      ws.send('still here');
      assert.equal((await ws.next()).payload.toString(), 'still here');
      ws.send('bye');
      await ws.closed;
    });

    test('an upgrade the app declines is relayed as its response; unknown service is a JSON 404', async () => {
      const declined = await connectWebSocket(main.proxy, '/no-ws', 'rec').then(
        () => assert.fail('upgrade should be declined'),
        (e: unknown) => e as UpgradeRefused,
      );
      assert.ok(declined instanceof UpgradeRefused);
      assert.equal(declined.status, 403);
      assert.equal(declined.body, 'no way');
      assert.ok(String(declined.headers.via).endsWith(mainVia));
      const unknown = await connectWebSocket(main.proxy, '/chat', 'nosuch').catch((e: unknown) => e as UpgradeRefused);
      assert.ok(unknown instanceof UpgradeRefused);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.headers['x-mesher-error'], 'SERVICE_NOT_FOUND');
    });
  });

  describe('listener limits and overload (the tight Mesher)', () => {
    test('slowloris: dribbling clients get 408 after --headers-timeout while a probe keeps succeeding', async () => {
      const [host, port] = splitHostPort(tight.proxy);
      const slow = Array.from({ length: 30 }, () => {
        const s = net.connect(port, host);
        let text = '';
        s.on('error', () => undefined);
        s.on('data', (c: Buffer) => (text += c.toString('latin1')));
        const closed = new Promise<string>((r) => s.once('close', () => r(text)));
        s.write('GET /slow HTTP/1.1\r\nHost: rec\r\n');
        const iv = setInterval(() => s.writable && s.write('X'), 200);
        void closed.then(() => clearInterval(iv));
        return { s, closed, iv };
      });
      let probes = 0;
      const end = Date.now() + 2500;
      while (Date.now() < end) {
        const r = await request(tight.proxy, 'GET', 'http://rec/probe', { agent: false });
        assert.equal(r.status, 200);
        probes++;
        await sleep(100);
      }
      assert.ok(probes >= 5);
      const texts = await Promise.race([
        Promise.all(slow.map((x) => x.closed)),
        sleep(10_000).then(() => null),
      ]);
      for (const x of slow) {
        clearInterval(x.iv);
        x.s.destroy();
      }
      assert.ok(texts, 'every slow connection was closed by the proxy');
      for (const t of texts) {
        assert.match(t, /^HTTP\/1\.1 408 /);
        assert.match(t, /"code":"REQUEST_TIMEOUT"/);
      }
      assert.ok(!rec.seen.some((s) => s.url === '/slow'));
    });

    test('--max-connections 40: connections past the limit are refused and counted in /metrics', async () => {
      // Keep-alive connections, opened one by one until the listener refuses one (the shared test
      // agent may hold one connection of its own, so the count is 39 or 40).
      const [host, port] = splitHostPort(tight.proxy);
      const held: net.Socket[] = [];
      let refused = false;
      try {
        for (let i = 0; i < 45 && !refused; i++) {
          const s = net.connect(port, host);
          s.on('error', () => undefined);
          const answer = await new Promise<string>((resolve) => {
            let text = '';
            s.on('data', (c: Buffer) => {
              text += c.toString('latin1');
              if (text.includes(`ok GET /hold-${i}`)) resolve(text);
            });
            s.once('close', () => resolve(text));
            setTimeout(() => resolve(text || 'no answer'), 5000);
            s.write(`GET /hold-${i} HTTP/1.1\r\nHost: rec\r\n\r\n`);
          });
          if (answer === '') refused = true;
          else {
            assert.match(answer, /^HTTP\/1\.1 200 /);
            held.push(s);
          }
        }
        assert.ok(refused, 'a connection past the limit was refused');
        assert.ok(held.length >= 39 && held.length <= 40, `${held.length} connections were accepted`);
        const m = await request(tight.admin, 'GET', '/metrics');
        const line = m.body.split('\n').find((l) => l.startsWith('mesher_listener_refused_connections_total{listener="outbound"}'));
        assert.ok(line && Number(line.split(' ').pop()) >= 1, line);
      } finally {
        for (const s of held) s.destroy();
      }
      await waitFor('a connection slot frees up', async () => (await request(tight.proxy, 'GET', 'http://rec/after', { agent: false }).catch(() => ({ status: 0 }))).status === 200);
    });

    test('overload: after an event-loop stall past the limit, requests are shed with 503 and connection: close, then served again', async () => {
      const pid = tight.proc.pid!;
      await waitFor('tight serves', async () => (await request(tight.proxy, 'GET', 'http://rec/pre', { agent: false }).catch(() => ({ status: 0 }))).status === 200);
      process.kill(pid, 'SIGSTOP');
      let pending: Array<Promise<RawResult>>;
      try {
        await sleep(200);
        // Sent while the process is stopped: the kernel queues them, the stall is still going on.
        pending = Array.from({ length: 3 }, () => raw(tight.proxy, 'GET http://rec/shed HTTP/1.1\r\nHost: rec\r\n\r\n', 8000));
        await sleep(800);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const results = await Promise.all(pending);
      for (const r of results) {
        assert.deepEqual(r.statuses, [503], r.text.slice(0, 300));
        assert.equal(headerOf(r.text, 'x-mesher-error'), 'OVERLOADED');
        assert.equal(headerOf(r.text, 'connection'), 'close');
        assert.match(r.text, /event loop delay \d+ ms is over the 300 ms limit/);
      }
      await waitFor('served again', async () => (await request(tight.proxy, 'GET', 'http://rec/post', { agent: false })).status === 200);
      const m = await request(tight.admin, 'GET', '/metrics');
      const line = m.body.split('\n').find((l) => l.startsWith('mesher_overload_shed_requests_total'));
      assert.ok(line && Number(line.split(' ').pop()) >= 3, line);
      assert.ok(!rec.seen.some((s) => s.url === '/shed'));
    });

    test('the tight Mesher survived', () => {
      assert.ok(alive(tight));
      assert.ok(alive(provider));
    });
  });
});
