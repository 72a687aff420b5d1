import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { api, request, splitHostPort } from './support/http-client';
import { startMesher, type MesherProcess } from './support/mesher-process';
import { sleep, waitFor as waitUntil, type Condition } from './support/load';

/*
 * Request body idle timeout and request deadlines on all three listeners of one real Mesher (edge mode,
 * with a local app behind its inbound listener), against a recording upstream over real sockets; also
 * upstream keep-alive expiry and per-client limits that a forged X-Forwarded-For must not escape.
 * The timeouts are short (1 s body idle, 2.5 s inbound deadline) so the suite stays quick; every wait
 * polls with a generous deadline.
 */

const MiB = 1024 * 1024;
const BODY_IDLE_MS = 1000;
const INBOUND_DEADLINE_MS = 2500;

const waitFor = <T>(what: string, fn: Condition<T>, ms = 10_000) => waitUntil(what, fn, ms, 25);

/** Upstream that counts how its requests end: every body it was sending or receiving, and every hang. */
class Upstream {
  server!: http.Server;
  port = 0;
  /** Requests whose connection closed before the upstream finished its response, per path. */
  cut: Record<string, number> = {};
  opened: Record<string, number> = {};

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      this.opened[path] = (this.opened[path] ?? 0) + 1;
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      res.once('close', () => {
        if (!res.writableFinished) this.cut[path] = (this.cut[path] ?? 0) + 1;
      });
      let bytes = 0;
      const count = () => req.on('data', (c: Buffer) => (bytes += c.length));
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes }));
      };
      switch (path) {
        case '/slow-reader':
          // Reads nothing for longer than the body idle timeout: the stall is ours, not the client's.
          req.pause();
          setTimeout(() => {
            count();
            req.resume();
            req.on('end', answer);
          }, BODY_IDLE_MS * 2.5);
          return;
        case '/early': {
          // Answers before the body is in, then streams: a timeout now can only cut the connection.
          count();
          res.writeHead(200, { 'content-type': 'text/plain' });
          const iv = setInterval(() => res.write('tick\n'), 100);
          res.write('tick\n');
          res.once('close', () => clearInterval(iv));
          return;
        }
        case '/hang':
          req.resume();
          return;
        default:
          count();
          req.on('end', answer);
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }
}

interface Stalled {
  text: string;
  status: number;
  /** ms from the last byte sent to the server's answer (or the close when there was none). */
  afterLastByteMs: number;
  closedByServer: boolean;
}

/** Sends a request head and part of its body, then nothing: what does the server do? */
function stall(hostPort: string, head: string, partialBody: string, timeoutMs = 15_000): Promise<Stalled> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let text = '';
    let lastByte = 0;
    let answeredAt = 0;
    let closedByServer = false;
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      if (!answeredAt) answeredAt = Date.now();
      text += c.toString('latin1');
    });
    s.on('end', () => (closedByServer = true));
    s.on('close', (hadError) => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
      resolve({ text, status, afterLastByteMs: (answeredAt || Date.now()) - lastByte, closedByServer: closedByServer || hadError });
    });
    s.write(head, () => s.write(partialBody, () => (lastByte = Date.now())));
  });
}

const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { code: string; message: string };
const headerOf = (text: string, name: string) => new RegExp(`\\r\\n${name}: ([^\\r]*)\\r\\n`, 'i').exec(text)?.[1];

describe('request body idle timeout and request deadlines on the outbound, inbound and edge listeners', () => {
  const up = new Upstream();
  let m: MesherProcess;

  before(async () => {
    await up.start();
    m = await startMesher([
      '--mode', 'edge', '--edge-port', '0', '--edge-address', '127.0.0.1',
      '--service-name', 'app', '--app-port', String(up.port), '--inbound-port', '0',
      '--request-body-timeout', `${BODY_IDLE_MS}ms`, '--inbound-timeout', `${INBOUND_DEADLINE_MS}ms`,
    ]);
    assert.equal((await api(m.admin, 'POST', '/v1/services/up/instances', { endpoint: up.url })).status, 201);
    assert.equal((await api(m.admin, 'POST', '/v1/services/deadline/instances', { endpoint: up.url })).status, 201);
    assert.equal((await api(m.admin, 'PUT', '/v1/policies/deadline', { timeout: { requestMs: 800 }, retry: { attempts: 1 } })).status, 200);
    assert.equal((await api(m.admin, 'POST', '/v1/ingress', { host: 'edge.test', service: 'up' })).status, 201);
    await waitFor('up routable', async () => (await request(m.proxy, 'POST', 'http://up/ready', { body: 'x' })).status === 200);
    await waitFor('edge rule live', async () => (await request(m.edge!, 'POST', '/ready', { headers: { host: 'edge.test' }, body: 'x' })).status === 200);
    await waitFor('policy of deadline live', async () => (await request(m.proxy, 'GET', 'http://deadline/hang')).status === 504);
  });

  after(async () => {
    await m?.stop();
    await up.close();
  });

  const listeners = () =>
    [
      ['outbound', m.proxy, 'POST http://up/upload HTTP/1.1\r\nHost: up'],
      ['inbound', m.inbound!, 'POST /upload HTTP/1.1\r\nHost: app'],
      ['edge', m.edge!, 'POST /upload HTTP/1.1\r\nHost: edge.test'],
    ] as const;

  for (const i of [0, 1, 2]) {
    for (const framing of ['content-length', 'chunked'] as const) {
      test(`${['outbound', 'inbound', 'edge'][i]}: a body that stalls (${framing}) gets 408 REQUEST_TIMEOUT, the connection closes and the upstream request is cut`, async () => {
        const [name, hostPort, line] = listeners()[i];
        const opened0 = up.opened['/upload'] ?? 0;
        const cut0 = up.cut['/upload'] ?? 0;
        const head = framing === 'chunked' ? `${line}\r\nTransfer-Encoding: chunked\r\n\r\n` : `${line}\r\nContent-Length: 1000\r\n\r\n`;
        const part = framing === 'chunked' ? `64\r\n${'a'.repeat(100)}\r\n` : 'a'.repeat(100);
        const r = await stall(hostPort, head, part);
        assert.equal(r.status, 408, `${name}: ${r.text.slice(0, 300)}`);
        assert.equal(headerOf(r.text, 'x-mesher-error'), 'REQUEST_TIMEOUT');
        assert.equal(headerOf(r.text, 'connection'), 'close');
        const b = bodyOf(r.text);
        assert.equal(b.code, 'REQUEST_TIMEOUT');
        assert.match(b.message, new RegExp(`no data for ${BODY_IDLE_MS} ms`));
        assert.ok(r.closedByServer, 'the server closed the connection');
        // Not early: the stall had to last the whole timeout (the answer may come later on a loaded machine).
        assert.ok(r.afterLastByteMs >= BODY_IDLE_MS - 20, `answered ${r.afterLastByteMs} ms after the last byte`);
        assert.equal(up.opened['/upload'] - opened0, 1, 'the upload reached the upstream');
        await waitFor(`${name}: upstream request cut`, () => (up.cut['/upload'] ?? 0) - cut0 === 1);
      });
    }
  }

  test('a body that keeps trickling (gaps shorter than the timeout) is not cut', async () => {
    const [host, port] = splitHostPort(m.proxy);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host, port, method: 'POST', path: 'http://up/upload', agent: false, headers: { 'content-length': 8 * 100 } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      void (async () => {
        for (let i = 0; i < 8; i++) {
          req.write('t'.repeat(100));
          await sleep(BODY_IDLE_MS / 4);
        }
        req.end();
      })();
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { bytes: 800 });
  });

  test('an upstream that stops reading the body for longer than the timeout is not the client stalling: 8 MiB arrive whole', async () => {
    const body = Buffer.alloc(8 * MiB, 'b');
    for (const [hostPort, target, hostHeader] of [
      [m.proxy, 'http://up/slow-reader', 'up'],
      [m.edge!, '/slow-reader', 'edge.test'],
    ] as const) {
      const r = await request(hostPort, 'POST', target, { headers: { host: hostHeader, 'content-type': 'application/octet-stream' }, body, timeoutMs: 30_000, agent: false });
      assert.equal(r.status, 200, `${hostPort} ${target}: ${r.body.slice(0, 200)}`);
      assert.deepEqual(r.json(), { bytes: body.length });
    }
  });

  test('a body that stalls after the upstream began answering: the client connection is cut, and so is the upstream request', async () => {
    const cut0 = up.cut['/early'] ?? 0;
    const r = await stall(m.proxy, 'POST http://up/early HTTP/1.1\r\nHost: up\r\nContent-Length: 1000\r\n\r\n', 'e'.repeat(10));
    assert.equal(r.status, 200, 'the upstream answer had started');
    assert.ok(r.closedByServer);
    assert.ok(!r.text.includes('REQUEST_TIMEOUT'), 'no second status line inside a started response');
    await waitFor('upstream request of /early cut', () => (up.cut['/early'] ?? 0) - cut0 === 1);
  });

  test('body timeouts are counted per listener in /metrics, and the requests under code REQUEST_TIMEOUT', async () => {
    const text = (await request(m.admin, 'GET', '/metrics')).body;
    for (const l of ['outbound', 'inbound', 'edge']) {
      const line = text.split('\n').find((x) => x.startsWith(`mesher_request_body_timeouts_total{listener="${l}"}`));
      assert.ok(line && Number(line.split(' ').pop()) >= 2, `${l}: ${line}`);
      // The requests they ended are counted under their error code, as every other Mesher error is.
      const coded = text.split('\n').find((x) => x.startsWith(`mesher_requests_total{direction="${l}"`) && x.includes('code="REQUEST_TIMEOUT"'));
      assert.ok(coded && Number(coded.split(' ').pop()) >= 1, `${l}: no mesher_requests_total with code REQUEST_TIMEOUT`);
    }
  });

  test('total request deadline: 504 UPSTREAM_TIMEOUT at the policy deadline (outbound) and at --inbound-timeout (inbound), not at a library default', async () => {
    for (const [what, call, deadline] of [
      ['outbound, policy timeout.requestMs 800', () => request(m.proxy, 'GET', 'http://deadline/hang', { agent: false }), 800],
      [`inbound, --inbound-timeout ${INBOUND_DEADLINE_MS}ms`, () => request(m.inbound!, 'GET', '/hang', { headers: { host: 'app' }, agent: false }), INBOUND_DEADLINE_MS],
    ] as const) {
      const cut0 = up.cut['/hang'] ?? 0;
      const t0 = Date.now();
      const r = await call();
      const took = Date.now() - t0;
      assert.equal(r.status, 504, `${what}: ${r.body}`);
      assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_TIMEOUT');
      // The per-try share of the deadline or the deadline itself: both are the configured one, less elapsed ms.
      const said = Number(/within (\d+) ms/.exec(r.json<{ message: string }>().message)?.[1]);
      assert.ok(said <= deadline && said >= deadline - 50, `${what}: ${r.body}`);
      assert.ok(took >= deadline - 20, `${what}: answered after ${took} ms, before the deadline`);
      // Far below any library default (Node's 300 s requestTimeout, node:http client's none): ours fired.
      assert.ok(took < deadline + 15_000, `${what}: answered after ${took} ms`);
      await waitFor(`${what}: hung upstream request closed`, () => (up.cut['/hang'] ?? 0) - cut0 === 1);
    }
  });

  test('upstream keep-alive: an upstream closing idle connections (announced or not) never costs a request', async (t) => {
    // A: Node's default manner, `Keep-Alive: timeout=1` announced. B: closes after 400 ms idle and says nothing.
    const announced = http.createServer((_req, res) => res.end('a'));
    announced.keepAliveTimeout = 1000;
    const silent = http.createServer((req, res) => {
      req.socket.setTimeout(400, () => req.socket.destroy());
      res.end('b');
    });
    silent.keepAliveTimeout = 0; // no timeout of Node's own, so no Keep-Alive hint is sent
    for (const s of [announced, silent]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const portOf = (s: http.Server) => (s.address() as net.AddressInfo).port;
    try {
      for (const [name, server] of [['ka-announced', announced], ['ka-silent', silent]] as const) {
        assert.equal((await api(m.admin, 'POST', `/v1/services/${name}/instances`, { endpoint: `http://127.0.0.1:${portOf(server)}` })).status, 201);
      }
      await waitFor('keep-alive services routable', async () => (await request(m.proxy, 'GET', 'http://ka-silent/')).status === 200);
      const statuses: string[] = [];
      // Gaps around each server's idle close, so some requests meet a connection that is just closing.
      for (const [name, gaps] of [['ka-announced', [900, 980, 1000, 1020, 1100]], ['ka-silent', [350, 390, 400, 410, 450, 400]]] as const) {
        for (const gap of gaps) {
          const r = await request(m.proxy, 'GET', `http://${name}/`);
          statuses.push(`${name} ${r.status} ${r.body}`);
          await sleep(gap);
        }
      }
      t.diagnostic(statuses.join(', '));
      assert.deepEqual(statuses.filter((x) => !/ 200 [ab]$/.test(x)), []);
    } finally {
      for (const s of [announced, silent]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    }
  });

  test('X-Forwarded-For from the client is not trusted for policy: per-client limits at the edge count the peer address', async () => {
    assert.equal((await api(m.admin, 'POST', '/v1/services/limited/instances', { endpoint: up.url })).status, 201);
    assert.equal((await api(m.admin, 'POST', '/v1/ingress', { host: 'limited.test', service: 'limited' })).status, 201);
    assert.equal((await api(m.admin, 'PUT', '/v1/policies/limited', { rateLimit: { perSourceRequestsPerSecond: 0.01, burst: 2 } })).status, 200);
    const call = (i: number) =>
      request(m.edge!, 'GET', `/rl-${i}`, { headers: { host: 'limited.test', 'x-forwarded-for': `10.0.0.${i}`, forwarded: `for=10.0.0.${i}`, 'x-real-ip': `10.0.0.${i}` } });
    // Each request claims a new client address. The burst of 2 is spent whatever they claim (bounded: 20 tries).
    let i = 0;
    let first429 = 0;
    while (i < 20 && !first429) if ((await call(++i)).status === 429) first429 = i;
    assert.ok(first429 === 3 || first429 === 4, `the first 429 came at request ${first429} (burst 2; one later if the policy was not live yet)`);
    const after: number[] = [];
    for (let k = 0; k < 3; k++) after.push((await call(++i)).status);
    assert.deepEqual(after, [429, 429, 429], 'a new forged address each time buys nothing');
  });

  test('the Mesher survived', () => {
    assert.equal(m.proc.exitCode, null);
    assert.equal(m.proc.signalCode, null);
  });
});
