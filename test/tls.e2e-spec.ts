import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { api, request, splitHostPort, viaProxy, type HttpResult } from './support/http-client';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { createTestCa, type CertFiles, type TestCa } from './support/tls-certs';
import { startUpstream, type Upstream } from './support/upstream';
import { attachWebSocketEcho, connectWebSocket, UpgradeRefused, type WsEchoServer } from './support/websocket';
import { waitFor as waitUntil, type Condition } from './support/load';

/*
 * TLS and mTLS between Meshers, over real processes: `web` (consumer sidecar) calls `cart` (provider
 * sidecar with an mTLS inbound listener and admin over HTTPS) and `pay` (a provider whose certificate
 * is rotated to wrong identities). All certificates come from a throwaway CA; `other` is a CA nobody trusts.
 */

const waitFor = <T>(what: string, fn: Condition<T>, ms = 20_000) => waitUntil(what, fn, ms, 100);

/** Copies a certificate and key to files a test may overwrite later (rotation). */
function ownCopy(dir: string, name: string, c: CertFiles): CertFiles {
  const out = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  fs.copyFileSync(c.cert, out.cert);
  fs.copyFileSync(c.key, out.key);
  return out;
}

/** Rotation as a deploy tool does it: write aside, then rename over (key first, so no moment pairs a new cert with an old key for long). */
function rotate(into: CertFiles, from: CertFiles): void {
  for (const k of ['key', 'cert'] as const) {
    fs.copyFileSync(from[k], `${into[k]}.tmp`);
    fs.renameSync(`${into[k]}.tmp`, into[k]);
  }
}

interface TlsClient {
  ca?: string;
  id?: CertFiles;
  servername?: string;
}

function tlsOptions(c: TlsClient): tls.ConnectionOptions {
  return {
    ca: c.ca ? fs.readFileSync(c.ca) : undefined,
    cert: c.id ? fs.readFileSync(c.id.cert) : undefined,
    key: c.id ? fs.readFileSync(c.id.key) : undefined,
    servername: c.servername,
  };
}

/** An HTTPS request with its own connection (no pooling: each call is a fresh handshake). */
function httpsRequest(hostPort: string, method: string, target: string, c: TlsClient, headers: http.OutgoingHttpHeaders = {}, body?: string): Promise<HttpResult> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, method, path: target, headers, agent: false, ...tlsOptions(c) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
      });
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${method} ${target}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate a TLS listener serves now (a new handshake each time; read, not verified). */
function servedCertificate(hostPort: string, c: TlsClient): Promise<tls.PeerCertificate> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ...tlsOptions(c), rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.setTimeout(15_000, () => s.destroy(new Error('TLS handshake timed out')));
    s.on('error', reject);
  });
}

type Inst = { id: string; endpoint: string; registeredBy: string };

describe('TLS and mTLS between Meshers', () => {
  const shared = tempDir();
  const files = tempDir('mesher-tls-files-');
  let ca: TestCa;
  let other: TestCa;
  let cartApp: Upstream;
  let payApp: Upstream;
  let cart: MesherProcess;
  let pay: MesherProcess;
  let web: MesherProcess;
  let cartId: CertFiles;
  let payId: CertFiles;
  let webId: CertFiles;
  let adminId: CertFiles;
  let webClient: CertFiles;

  before(async () => {
    ca = createTestCa('mesh-ca');
    other = createTestCa('other-ca');
    cartId = ownCopy(files, 'cart', ca.issue('cart', ['DNS:cart']));
    // pay's certificate names another service: consumers must refuse it.
    payId = ownCopy(files, 'pay', ca.issue('pay-wrong', ['DNS:cart', 'IP:127.0.0.1']));
    webId = ownCopy(files, 'web', ca.issue('web', ['DNS:web']));
    adminId = ownCopy(files, 'admin', ca.issue('admin', ['DNS:localhost', 'IP:127.0.0.1']));
    webClient = ca.issue('web-client', ['DNS:web']);
    cartApp = await startUpstream('cart-app');
    attachWebSocketEcho(cartApp.server);
    payApp = await startUpstream('pay-app');
    const mesh = (id: CertFiles) => ['--tls-cert', id.cert, '--tls-key', id.key, '--tls-ca', ca.caFile];
    // One at a time: the first creates the shared store; each is assigned as soon as it runs, so after() stops it.
    cart = await startMesher(['--service-name', 'cart', '--app-port', String(cartApp.port), '--inbound-port', '0', '--inbound-tls', 'mtls', ...mesh(cartId),
      '--admin-tls-cert', adminId.cert, '--admin-tls-key', adminId.key], { dataDir: shared });
    pay = await startMesher(['--service-name', 'pay', '--app-port', String(payApp.port), '--inbound-port', '0', ...mesh(payId)],
      { dataDir: shared, env: { MESHER_INBOUND_TLS: 'tls' } });
    web = await startMesher(['--service-name', 'web', ...mesh(webId)], { dataDir: shared });
  });
  after(async () => {
    await Promise.all([web?.stop(), cart?.stop(), pay?.stop()]);
    await cartApp?.close();
    await payApp?.close();
    ca?.dispose();
    other?.dispose();
  });

  test('a provider with a TLS inbound listener registers an https:// endpoint', async () => {
    const list = (await api(web.admin, 'GET', '/v1/services/cart/instances')).json<Inst[]>();
    assert.equal(list.length, 1);
    assert.equal(list[0].endpoint, `https://${cart.inbound}`);
    assert.match(list[0].registeredBy, /^sidecar:cart@/);
    const pays = (await api(web.admin, 'GET', '/v1/services/pay/instances')).json<Inst[]>();
    assert.equal(pays[0].endpoint, `https://${pay.inbound}`);
  });

  test('consumer -> Mesher -> mTLS -> Mesher -> provider: 200 with the body, the caller named by its certificate', async () => {
    const r = await waitFor('a routed call to cart', async () => {
      const res = await viaProxy(web.proxy, 'GET', 'http://cart/items?id=7');
      return res.status === 200 ? res : undefined;
    });
    assert.equal(r.body, 'cart-app GET /items?id=7');
    const seen = cartApp.requests.at(-1)!;
    assert.equal(seen.headers['x-mesher-source'], 'web');
    assert.equal(String(seen.headers.via).split(',').length, 2, 'both Meshers added themselves to Via');
    assert.equal(seen.headers.host, 'cart', 'the Host is the service, not the instance address');
    const post = await viaProxy(web.proxy, 'POST', 'http://cart/orders', { body: 'x'.repeat(10_000), headers: { 'content-type': 'text/plain' } });
    assert.equal(post.status, 200);
    assert.equal(cartApp.requests.at(-1)!.body.length, 10_000);
  });

  test('the source comes from the client certificate, not from a forged header', async () => {
    // A loopback caller's header would be believed without mTLS; the certificate says who it is.
    const r = await httpsRequest(cart.inbound!, 'GET', '/direct', { ca: ca.caFile, id: webClient, servername: 'cart' }, { 'x-mesher-source': 'forged' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'cart-app GET /direct');
    assert.equal(cartApp.requests.at(-1)!.headers['x-mesher-source'], 'web');
  });

  test('the mTLS inbound listener refuses plain HTTP, no certificate and a certificate from another CA', async () => {
    const before = cartApp.requests.length;
    await assert.rejects(request(cart.inbound!, 'GET', '/plain', { agent: false }), /socket hang up|ECONNRESET|EPIPE/);
    await assert.rejects(httpsRequest(cart.inbound!, 'GET', '/no-cert', { ca: ca.caFile, servername: 'cart' }), (e: NodeJS.ErrnoException) => {
      assert.match(`${e.code} ${e.message}`, /CERTIFICATE_REQUIRED|ECONNRESET|socket hang up/);
      return true;
    });
    const stranger = other.issue('web', ['DNS:web']);
    await assert.rejects(httpsRequest(cart.inbound!, 'GET', '/other-ca', { ca: ca.caFile, id: stranger, servername: 'cart' }), (e: NodeJS.ErrnoException) => {
      assert.match(`${e.code} ${e.message}`, /UNKNOWN_CA|BAD_CERTIFICATE|DECRYPT_ERROR|ECONNRESET|socket hang up/);
      return true;
    });
    assert.equal(cartApp.requests.length, before, 'no refused request reached the app');
    // The listener still serves verified callers.
    assert.equal((await httpsRequest(cart.inbound!, 'GET', '/after', { ca: ca.caFile, id: webClient, servername: 'cart' })).status, 200);
  });

  test('WebSocket upgrades go through the TLS hop and echo', async () => {
    const ws = await connectWebSocket(web.proxy, '/chat', 'cart');
    try {
      assert.equal(ws.response.statusCode, 101);
      ws.send('hello over mtls');
      assert.equal((await ws.next()).payload.toString(), 'hello over mtls');
    } finally {
      ws.socket.destroy();
    }
  });

  test('active health checks probe an https:// sidecar instance over mTLS', async () => {
    const hc = { path: '/healthz', intervalMs: 200, timeoutMs: 2000, healthyThreshold: 1, unhealthyThreshold: 1 };
    assert.equal((await api(web.admin, 'PUT', '/v1/policies/cart', { healthCheck: hc })).status, 200);
    try {
      const probe = await waitFor('a probe at the provider app', () => cartApp.requests.find((r) => r.url === '/healthz'));
      assert.equal(probe.headers['x-mesher-source'], 'web', 'the probe came through the mTLS listener with the consumer identity');
      const rt = (await api(web.admin, 'GET', '/v1/runtime/cart')).json<{ instances: Array<{ unhealthy: boolean }> }>();
      assert.equal(rt.instances[0].unhealthy, false);
      assert.equal((await viaProxy(web.proxy, 'GET', 'http://cart/checked')).status, 200);
    } finally {
      await api(web.admin, 'DELETE', '/v1/policies/cart');
    }
  });

  test('a provider certificate naming another service: the consumer answers 502 UPSTREAM_TLS_ERROR (wrong identity)', async () => {
    const before = payApp.requests.length;
    const r = await waitFor('pay in the consumer snapshot', async () => {
      const res = await viaProxy(web.proxy, 'GET', 'http://pay/charge');
      return res.status !== 404 ? res : undefined;
    });
    assert.equal(r.status, 502, r.body);
    assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_TLS_ERROR');
    const body = r.json<{ code: string; message: string }>();
    assert.equal(body.code, 'UPSTREAM_TLS_ERROR');
    assert.match(body.message, /wrong identity: the certificate names 'cart', not the service 'pay'/);
    // A WebSocket upgrade takes the same TLS hop and is refused the same way.
    await assert.rejects(connectWebSocket(web.proxy, '/chat', 'pay'), (e: unknown) => {
      assert.ok(e instanceof UpgradeRefused, String(e));
      assert.equal(e.status, 502);
      assert.equal(e.headers['x-mesher-error'], 'UPSTREAM_TLS_ERROR');
      assert.match(e.body, /wrong identity/);
      return true;
    });
    assert.equal(payApp.requests.length, before, 'nothing reached the app behind the wrong certificate');
  });

  test('a consumer without a client certificate, or without the mesh CA, gets UPSTREAM_TLS_ERROR saying so', async () => {
    const anon = await startMesher(['--service-name', 'anon', '--tls-ca', ca.caFile], { dataDir: shared });
    const bare = await startMesher(['--service-name', 'bare'], { dataDir: shared });
    try {
      const before = cartApp.requests.length;
      const refused = await waitFor('cart in the snapshot of anon', async () => {
        const res = await viaProxy(anon.proxy, 'GET', 'http://cart/anon');
        return res.status !== 404 ? res : undefined;
      });
      assert.equal(refused.status, 502, refused.body);
      assert.equal(refused.headers['x-mesher-error'], 'UPSTREAM_TLS_ERROR');
      assert.match(refused.json<{ message: string }>().message, /refused the handshake|client certificate/);
      const noCa = await waitFor('cart in the snapshot of bare', async () => {
        const res = await viaProxy(bare.proxy, 'GET', 'http://cart/bare');
        return res.status !== 404 ? res : undefined;
      });
      assert.equal(noCa.status, 502, noCa.body);
      assert.equal(noCa.headers['x-mesher-error'], 'UPSTREAM_TLS_ERROR');
      assert.match(noCa.json<{ message: string }>().message, /no mesh CA \(--tls-ca\) to verify the certificate of 'cart'/);
      assert.equal(cartApp.requests.length, before);
    } finally {
      await Promise.all([anon.stop(), bare.stop()]);
    }
  });

  test("rotating the provider's files: the new certificate is served without a restart, a bad file keeps the old one", async () => {
    const client = { ca: ca.caFile, servername: 'pay' };
    const first = await servedCertificate(pay.inbound!, client);
    // A broken certificate file is reported and the old material stays in use.
    fs.writeFileSync(payId.cert, 'not a certificate\n');
    await waitFor('the reload error in the log', () => /mesh TLS files changed but cannot be used.*--tls-cert/.test(pay.output()));
    assert.equal((await servedCertificate(pay.inbound!, client)).serialNumber, first.serialNumber);
    // A certificate from an untrusted CA, naming the right service: now the consumer says "untrusted".
    rotate(payId, other.issue('pay', ['DNS:pay']));
    const untrusted = await waitFor('the consumer to see an untrusted certificate', async () => {
      const res = await viaProxy(web.proxy, 'GET', 'http://pay/charge');
      return /untrusted/.test(res.body) ? res : undefined;
    });
    assert.equal(untrusted.status, 502);
    assert.equal(untrusted.headers['x-mesher-error'], 'UPSTREAM_TLS_ERROR');
    // Finally a good one: served (new serial), and the consumer gets through.
    const good = ca.issue('pay', ['DNS:pay']);
    rotate(payId, good);
    const served = await waitFor('the rotated certificate', async () => {
      const c = await servedCertificate(pay.inbound!, client).catch(() => undefined);
      return c && c.serialNumber !== first.serialNumber && c.issuer.CN === 'mesh-ca' ? c : undefined;
    });
    assert.equal(served.subject.CN, 'pay');
    const ok = await waitFor('a call to pay with the new certificate', async () => {
      const res = await viaProxy(web.proxy, 'GET', 'http://pay/charge');
      return res.status === 200 ? res : undefined;
    });
    assert.equal(ok.body, 'pay-app GET /charge');
    assert.equal(pay.proc.exitCode, null, 'no restart');
  });

  test("rotating the consumer's client certificate: new connections present the new identity", async () => {
    rotate(webId, ca.issue('web-renamed', ['DNS:web-v2']));
    const seen = await waitFor('the new client certificate at the provider', async () => {
      const res = await viaProxy(web.proxy, 'GET', 'http://cart/who', { agent: false });
      return res.status === 200 && cartApp.requests.at(-1)!.headers['x-mesher-source'] === 'web-v2' ? res : undefined;
    });
    assert.equal(seen.body, 'cart-app GET /who');
  });

  test('admin over HTTPS answers /health/ready; plain HTTP gets no answer', async () => {
    const r = await httpsRequest(cart.admin, 'GET', '/health/ready', { ca: ca.caFile });
    assert.equal(r.status, 200, r.body);
    const live = await httpsRequest(cart.admin, 'GET', '/health/live', { ca: ca.caFile });
    assert.equal(live.status, 200);
    const list = await httpsRequest(cart.admin, 'GET', '/v1/services/cart/instances', { ca: ca.caFile });
    assert.equal(list.status, 200);
    assert.equal(list.json<Inst[]>()[0].endpoint, `https://${cart.inbound}`);
    // The dashboard's own origin is now https://: its writes pass, the http:// origin is another site.
    const json = { 'content-type': 'application/json' };
    const write = await httpsRequest(cart.admin, 'POST', '/v1/services', { ca: ca.caFile }, { ...json, origin: `https://${cart.admin}` }, JSON.stringify({ name: 'from-dashboard' }));
    assert.equal(write.status, 201, write.body);
    const cross = await httpsRequest(cart.admin, 'POST', '/v1/services', { ca: ca.caFile }, { ...json, origin: `http://${cart.admin}` }, JSON.stringify({ name: 'cross-site' }));
    assert.equal(cross.status, 403, cross.body);
    await assert.rejects(request(cart.admin, 'GET', '/health/ready', { agent: false }));
    assert.match(cart.output(), /"dashboard":"https:\/\//);
  });

  test('the admin certificate is rotated without a restart too', async () => {
    const first = await servedCertificate(cart.admin, { ca: ca.caFile });
    assert.equal(first.subject.CN, 'admin');
    rotate(adminId, ca.issue('admin-next', ['DNS:localhost', 'IP:127.0.0.1']));
    const next = await waitFor('the new admin certificate', async () => {
      const c = await servedCertificate(cart.admin, { ca: ca.caFile });
      return c.serialNumber !== first.serialNumber ? c : undefined;
    });
    assert.equal(next.subject.CN, 'admin-next');
    assert.equal((await httpsRequest(cart.admin, 'GET', '/health/ready', { ca: ca.caFile })).status, 200);
  });
});

describe('edge listener over HTTPS (--edge-tls-cert)', () => {
  const files = tempDir('mesher-edge-tls-');
  let ca: TestCa;
  let edgeId: CertFiles;
  let app: Upstream;
  let ws: WsEchoServer;
  let m: MesherProcess;

  before(async () => {
    ca = createTestCa('public-ca');
    edgeId = ownCopy(files, 'edge', ca.issue('shop.example.com', ['DNS:shop.example.com', 'IP:127.0.0.1']));
    app = await startUpstream('shop-app');
    ws = attachWebSocketEcho(app.server);
    m = await startMesher(['--mode', 'edge', '--edge-port', '0', '--edge-address', '127.0.0.1', '--edge-tls-cert', edgeId.cert, '--edge-tls-key', edgeId.key]);
    assert.equal((await api(m.admin, 'POST', '/v1/services/shop/instances', { endpoint: app.url })).status, 201);
    const rule = await api(m.admin, 'POST', '/v1/ingress', { id: 'shop-host', host: 'shop.example.com', service: 'shop' });
    assert.equal(rule.status, 201, rule.body);
  });
  after(async () => {
    await m?.stop();
    await app?.close();
    ca?.dispose();
  });

  test('an HTTPS request is routed by its ingress rule; the app sees X-Forwarded-Proto https', async () => {
    const before = app.requests.length;
    const r = await waitFor('the ingress rule in the snapshot', async () => {
      const x = await httpsRequest(m.edge!, 'GET', '/cart?id=7', { ca: ca.caFile, servername: 'shop.example.com' }, { host: 'shop.example.com' });
      return x.status === 200 ? x : undefined;
    });
    assert.equal(r.body, 'shop-app GET /cart?id=7');
    const seen = app.requests.slice(before).at(-1)!;
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-mesher-source'], undefined);
    const unknown = await httpsRequest(m.edge!, 'GET', '/', { ca: ca.caFile, servername: 'shop.example.com' }, { host: 'other.example.com' });
    assert.equal(unknown.status, 404, unknown.body);
  });

  test('plain HTTP on the TLS edge port gets no HTTP answer; the certificate is the configured one', async () => {
    await assert.rejects(request(m.edge!, 'GET', '/', { agent: false, headers: { host: 'shop.example.com' } }));
    const cert = await servedCertificate(m.edge!, { ca: ca.caFile, servername: 'shop.example.com' });
    assert.equal(cert.subject.CN, 'shop.example.com');
  });

  test('a WebSocket upgrade over the TLS edge reaches the app with X-Forwarded-Proto https and echoes', async () => {
    const [host, port] = splitHostPort(m.edge!);
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const sock = tls.connect({ host, port, ...tlsOptions({ ca: ca.caFile, servername: 'shop.example.com' }) });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('secureConnect', () => resolve());
        sock.once('error', reject);
      });
      sock.write(`GET /live HTTP/1.1\r\nHost: shop.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
      const head = await new Promise<string>((resolve, reject) => {
        let text = '';
        sock.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (text.includes('\r\n\r\n')) resolve(text);
        });
        sock.once('close', () => reject(new Error(`closed before the 101: ${text}`)));
      });
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.match(head, /\r\nx-echo: 1\r\n/i);
      assert.equal(ws.upgrades.at(-1)?.['x-forwarded-proto'], 'https');
    } finally {
      sock.destroy();
    }
  });

  test('the edge certificate is rotated without a restart; a bad file keeps the served one', async () => {
    const first = await servedCertificate(m.edge!, { ca: ca.caFile, servername: 'shop.example.com' });
    fs.writeFileSync(edgeId.cert, 'not a certificate');
    await waitFor('the reload error in the log', () => /edge TLS files changed but cannot be used.*--edge-tls-cert/.test(m.output()));
    assert.equal((await servedCertificate(m.edge!, { ca: ca.caFile, servername: 'shop.example.com' })).serialNumber, first.serialNumber);
    rotate(edgeId, ca.issue('shop-next', ['DNS:shop.example.com', 'IP:127.0.0.1']));
    const next = await waitFor('the new edge certificate', async () => {
      const c = await servedCertificate(m.edge!, { ca: ca.caFile, servername: 'shop.example.com' });
      return c.serialNumber !== first.serialNumber ? c : undefined;
    });
    assert.equal(next.subject.CN, 'shop-next');
    const r = await httpsRequest(m.edge!, 'GET', '/after', { ca: ca.caFile, servername: 'shop.example.com' }, { host: 'shop.example.com' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'shop-app GET /after');
  });
});

describe('TLS start-up options', () => {
  let ca: TestCa;
  let id: CertFiles;
  let otherId: CertFiles;
  let garbage: string;

  before(() => {
    ca = createTestCa();
    id = ca.issue('cart', ['DNS:cart']);
    otherId = ca.issue('other', ['DNS:other']);
    garbage = path.join(ca.dir, 'garbage.pem');
    fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  });
  after(() => ca?.dispose());

  const cases: Array<[string, () => string[], RegExp, NodeJS.ProcessEnv?]> = [
    ['a certificate without its key', () => ['--tls-cert', id.cert], /invalid --tls-cert: needs --tls-key/],
    ['a key without its certificate', () => ['--tls-key', id.key], /invalid --tls-key: needs --tls-cert/],
    ['an unreadable certificate', () => ['--tls-cert', '/nonexistent/cart.crt', '--tls-key', id.key], /invalid --tls-cert: cannot read \/nonexistent\/cart.crt/],
    ['an invalid PEM certificate', () => ['--tls-cert', garbage, '--tls-key', id.key], /invalid --tls-cert: .*garbage.pem holds no PEM certificate/],
    ['a key that is not PEM', () => ['--tls-cert', id.cert, '--tls-key', garbage], /invalid --tls-key: .*holds no PEM private key/],
    ['the key of another certificate', () => ['--tls-cert', id.cert, '--tls-key', otherId.key], /invalid --tls-key: .* is not the key of the certificate in --tls-cert/],
    ['an invalid CA file', () => ['--tls-ca', garbage], /invalid --tls-ca: .*holds no PEM certificate/],
    ['mtls without a CA', () => ['--service-name', 'cart', '--app-port', '9', '--inbound-tls', 'mtls', '--tls-cert', id.cert, '--tls-key', id.key], /invalid --inbound-tls: 'mtls' needs --tls-ca/],
    ['tls without a certificate', () => ['--service-name', 'cart', '--app-port', '9', '--inbound-tls', 'tls'], /invalid --inbound-tls: 'tls' needs --tls-cert and --tls-key/],
    ['inbound TLS without an inbound listener', () => ['--inbound-tls', 'tls', '--tls-cert', id.cert, '--tls-key', id.key], /invalid --inbound-tls: 'tls' needs an inbound listener \(--app-port\)/],
    ['an unknown inbound TLS mode (env)', () => [], /invalid --inbound-tls \(env MESHER_INBOUND_TLS\): "strict" must be one of off, tls, mtls/, { MESHER_INBOUND_TLS: 'strict' }],
    ['an admin certificate without its key', () => ['--admin-tls-cert', id.cert], /invalid --admin-tls-cert: needs --admin-tls-key/],
    ['an unreadable admin key', () => ['--admin-tls-cert', id.cert, '--admin-tls-key', '/nonexistent/admin.key'], /invalid --admin-tls-key: cannot read/],
    ['an edge certificate without its key', () => ['--mode', 'edge', '--edge-tls-cert', id.cert], /invalid --edge-tls-cert: needs --edge-tls-key/],
    ['an edge certificate without --mode edge', () => ['--edge-tls-cert', id.cert, '--edge-tls-key', id.key], /invalid --edge-tls-cert: there is no edge listener without --mode edge/],
    ['the key of another certificate for the edge', () => ['--mode', 'edge', '--edge-tls-cert', id.cert, '--edge-tls-key', otherId.key], /invalid --edge-tls-key: .* is not the key of the certificate in --edge-tls-cert/],
  ];
  for (const [what, args, message, env] of cases) {
    test(`${what} stops start-up with a message naming the option`, async () => {
      const r = await runMesher(['start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', tempDir(), ...args()], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  test('the YAML file takes the same keys', async () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'mesher.yaml');
    fs.writeFileSync(cfg, `tlsCert: ${id.cert}\ntlsKey: ${otherId.key}\ntlsCa: ${ca.caFile}\n`);
    const r = await runMesher(['start', '--config', cfg, '--data-dir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid --tls-key: .* is not the key of the certificate in --tls-cert/);
  });
});
