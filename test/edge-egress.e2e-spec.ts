import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { api, request, splitHostPort, viaProxy } from './support/http-client';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

/** Sends raw bytes and returns everything the server wrote before closing (or the timeout). */
function raw(hostPort: string, payload: string, waitMs = 2000): Promise<string> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => s.write(payload));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    setTimeout(() => {
      s.destroy();
      resolve(out);
    }, waitMs).unref();
  });
}

describe('edge mode: ingress rules in front of the mesh', () => {
  let edge: MesherProcess;
  let cart: Upstream;
  let catalog: Upstream;

  before(async () => {
    edge = await startMesher(['--mode', 'edge', '--edge-port', '0']);
    cart = await startUpstream('cart');
    catalog = await startUpstream('catalog');
    await api(edge.admin, 'POST', '/v1/services/cart/instances', { endpoint: cart.url });
    await api(edge.admin, 'POST', '/v1/services/catalog/instances', { endpoint: catalog.url });
    for (const rule of [
      { id: 'wild', host: '*.example.com', service: 'catalog' },
      { id: 'special', pathPrefix: '/cart/special', service: 'catalog' },
      { id: 'shop-cart', host: 'shop.example.com', pathPrefix: '/cart', rewritePath: '/', service: 'cart', port: 8080 },
      { id: 'users', pathRegex: '^/users/([0-9]+)$', rewritePath: '/profile/$1', service: 'cart' },
    ]) {
      const r = await api(edge.admin, 'POST', '/v1/ingress', rule);
      assert.equal(r.status, 201, r.body);
    }
  });
  after(async () => {
    await edge?.stop();
    await cart?.close();
    await catalog?.close();
  });

  const get = (host: string, p: string) => request(edge.edge!, 'GET', p, { headers: { host } });

  test('host and path rules route to the right services, with the prefix stripped', async () => {
    const a = await get('shop.example.com', '/cart/items?x=1');
    assert.equal(a.status, 200);
    assert.equal(a.body, 'cart GET /items?x=1');
    assert.equal(cart.requests.at(-1)!.headers['x-forwarded-port'], '8080');
    assert.equal(cart.requests.at(-1)!.headers['x-mesher-source'], undefined, 'outside callers get no mesh identity');
    const b = await get('blog.example.com', '/anything');
    assert.equal(b.body, 'catalog GET /anything');
    const c = await get('other.org', '/users/42');
    assert.equal(c.body, 'cart GET /profile/42');
  });

  test('overlapping rules pick the most specific, not the first inserted', async () => {
    // shop.example.com + /cart beats the host-less /cart/special although that one is more specific by path.
    assert.equal((await get('shop.example.com', '/cart/special/x')).body, 'cart GET /special/x');
    assert.equal((await get('other.org', '/cart/special/x')).body, 'catalog GET /cart/special/x');
  });

  test('an unknown host or path gets 404 with ROUTE_NOT_FOUND; proxy-style requests a clear 400', async () => {
    const r = await get('nowhere.org', '/nothing');
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-mesher-error'], 'ROUTE_NOT_FOUND');
    assert.match(r.json<{ message: string }>().message, /no ingress rule for host 'nowhere.org'/);
    const p = await request(edge.edge!, 'GET', 'http://shop.example.com/cart/x');
    assert.equal(p.status, 400);
    assert.match(p.json<{ message: string }>().message, /edge listener/);
    const c = await raw(edge.edge!, 'CONNECT shop.example.com:443 HTTP/1.1\r\nHost: shop.example.com:443\r\n\r\n');
    assert.match(c, /^HTTP\/1\.1 4\d\d /, 'CONNECT gets an HTTP error, not a silent close');
  });

  test('edge traffic is counted as coming from outside', async () => {
    const metrics = (await api(edge.admin, 'GET', '/metrics')).body;
    assert.match(metrics, /mesher_requests_total\{[^}]*direction="edge"[^}]*source="outside"[^}]*destination="cart"/);
    const t = (await api(edge.admin, 'GET', '/v1/traffic')).json<{ edges: Array<{ source: string; destination: string }> }>();
    assert.ok(t.edges.some((e) => e.source === 'outside' && e.destination === 'catalog'));
  });

  test('rules change under load with zero failed requests', async () => {
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const worker = async () => {
      while (!stop) {
        const r = await get('shop.example.com', '/cart/load').catch((e: Error) => ({ status: 0, body: e.message }));
        if (r.status === 200 && (r.body === 'cart GET /load' || r.body === 'cart GET /v2/load')) ok++;
        else failures.push(`${r.status} ${r.body}`);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let i = 0; i < 20; i++) {
      const rewrite = i % 2 === 0 ? '/v2' : '/';
      const r = await api(edge.admin, 'PUT', '/v1/ingress/shop-cart', { host: 'shop.example.com', pathPrefix: '/cart', rewritePath: rewrite, service: 'cart', port: 8080 });
      assert.equal(r.status, 200, r.body);
      await new Promise((res) => setTimeout(res, 100));
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `load ran (${ok})`);
  });

  test('clients are rate limited per IP at the edge', async () => {
    assert.equal((await api(edge.admin, 'PUT', '/v1/policies/catalog', { rateLimit: { perSourceRequestsPerSecond: 1, burst: 2 } })).status, 200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get('blog.example.com', '/rl')).status);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    await api(edge.admin, 'DELETE', '/v1/policies/catalog');
  });

  test('invalid ingress rules are rejected naming the field, and nothing is stored', async () => {
    const before = (await api(edge.admin, 'GET', '/v1/ingress')).body;
    const r1 = await api(edge.admin, 'POST', '/v1/ingress', { pathRegex: '([', service: 'cart' });
    assert.equal(r1.status, 422);
    assert.deepEqual(r1.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field), ['pathRegex']);
    const r2 = await api(edge.admin, 'POST', '/v1/ingress', { pathPrefix: '/x', service: 'nope' });
    assert.equal(r2.status, 422);
    assert.deepEqual(r2.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field), ['service']);
    assert.equal((await api(edge.admin, 'POST', '/v1/ingress', { id: 'wild', service: 'cart' })).status, 409);
    assert.equal((await api(edge.admin, 'PUT', '/v1/ingress/missing', { service: 'cart' })).status, 404);
    assert.equal((await api(edge.admin, 'GET', '/v1/ingress')).body, before);
  });
});

describe('egress: calls to hosts outside the mesh', () => {
  let m: MesherProcess;
  let external: Upstream;
  let echo: net.Server;
  let echoPort: number;
  let tlsServer: https.Server;
  let tlsPort: number;

  before(async () => {
    const dir = tempDir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    m = await startMesher(['--service-name', 'web'], { env: { NODE_EXTRA_CA_CERTS: cert } });
    external = await startUpstream('external');
    echo = net.createServer((s) => s.on('data', (d) => s.write(`echo:${d.toString()}`)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
    tlsServer = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => res.end(`tls ${req.url}`));
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    tlsPort = (tlsServer.address() as AddressInfo).port;
  });
  after(async () => {
    await m?.stop();
    await external?.close();
    echo?.close();
    tlsServer?.close();
  });

  test('an unlisted external host is refused; a listed one is reached and counted in metrics', async () => {
    const url = `http://localhost:${external.port}/ext`;
    const refused = await viaProxy(m.proxy, 'GET', url);
    assert.equal(refused.status, 404);
    assert.equal(refused.headers['x-mesher-error'], 'SERVICE_NOT_FOUND');
    assert.equal(external.requests.length, 0);
    const rule = await api(m.admin, 'POST', '/v1/egress', { host: 'localhost', ports: [external.port], policy: { timeout: { requestMs: 2000 } } });
    assert.equal(rule.status, 201, rule.body);
    const ok = await viaProxy(m.proxy, 'GET', url);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, 'external GET /ext');
    const metrics = (await api(m.admin, 'GET', '/metrics')).body;
    assert.match(metrics, /mesher_requests_total\{[^}]*source="web"[^}]*destination="localhost"[^}]*status_class="2xx"[^}]*\} 1/);
    // Another port of the same host is not allowed by that rule.
    assert.equal((await viaProxy(m.proxy, 'GET', `http://localhost:${echoPort}/x`)).status, 404);
  });

  test('TLS origination: the app speaks http, Mesher speaks https to the external host', async () => {
    await api(m.admin, 'POST', '/v1/egress', { host: 'localhost', ports: [tlsPort], tls: true });
    const r = await viaProxy(m.proxy, 'GET', `http://localhost:${tlsPort}/secure`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'tls /secure');
  });

  test('CONNECT tunnels bytes both ways to an allowed host and answers 403 for a refused one', async () => {
    const denied = await raw(m.proxy, `CONNECT localhost:${echoPort} HTTP/1.1\r\nHost: localhost:${echoPort}\r\n\r\n`);
    assert.match(denied, /^HTTP\/1\.1 403 /);
    assert.match(denied, /EGRESS_DENIED/);
    await api(m.admin, 'POST', '/v1/egress', { host: 'localhost', ports: [echoPort] });
    const got = await new Promise<string>((resolve, reject) => {
      const [host, port] = splitHostPort(m.proxy);
      const s = net.connect({ host, port }, () => s.write(`CONNECT localhost:${echoPort} HTTP/1.1\r\nHost: localhost:${echoPort}\r\n\r\n`));
      let buf = '';
      let sent = false;
      s.on('data', (d) => {
        buf += d.toString();
        if (!sent && buf.includes('\r\n\r\n')) {
          assert.match(buf, /^HTTP\/1\.1 200 /);
          sent = true;
          buf = '';
          s.write('ping');
        } else if (sent && buf.includes('echo:ping')) {
          s.destroy();
          resolve(buf);
        }
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`no echo: ${buf}`)), 3000).unref();
    });
    assert.equal(got, 'echo:ping');
  });
});
