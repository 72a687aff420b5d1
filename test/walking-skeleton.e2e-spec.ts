import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, viaProxy } from './support/http-client';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

describe('walking skeleton: admin API + outbound proxy over real sockets', () => {
  let m: MesherProcess;
  let a: Upstream;
  let b: Upstream;
  const dataDir = tempDir();

  before(async () => {
    m = await startMesher([], { dataDir });
    a = await startUpstream('a');
    b = await startUpstream('b');
  });
  after(async () => {
    await m?.stop();
    await a?.close();
    await b?.close();
  });

  test('two instances registered through the API share 100 proxied requests alternately', async () => {
    const r1 = await api(m.admin, 'POST', '/v1/services/cart/instances', { endpoint: a.url, version: '1.0.0' });
    assert.equal(r1.status, 201, r1.body);
    assert.match(r1.json<{ id: string }>().id, /\S+/);
    const r2 = await api(m.admin, 'POST', '/v1/services/cart/instances', { endpoint: b.url, version: '1.0.0' });
    assert.equal(r2.status, 201, r2.body);

    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await viaProxy(m.proxy, 'GET', `http://cart:8080/items?i=${i}`);
      assert.equal(r.status, 200, r.body);
      seen.push(r.headers['x-upstream'] as string);
    }
    assert.equal(seen.filter((s) => s === 'a').length, 50);
    assert.equal(seen.filter((s) => s === 'b').length, 50);
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `round robin alternates (at ${i})`);
    const last = a.requests.at(-1)!;
    assert.match(last.url, /^\/items\?i=\d+$/);
    assert.equal(last.headers['x-forwarded-port'], '8080');
    assert.equal(last.headers['x-forwarded-host'], 'cart:8080');
    assert.equal(last.headers['x-forwarded-proto'], 'http');
    assert.equal(last.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(String(last.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('a plain request with Host: cart is routed the same way', async () => {
    const r = await viaProxy(m.proxy, 'GET', '/hello', { headers: { host: 'cart' } });
    assert.equal(r.status, 200);
    assert.match(r.body, /^(a|b) GET \/hello$/);
  });

  test('the path reaches the upstream exactly as the route match saw it (no re-parse turning \\ into /)', async () => {
    const r = await viaProxy(m.proxy, 'GET', '/files\\a%5Cb?q=x\\y', { headers: { host: 'cart' } });
    assert.equal(r.status, 200);
    assert.match(r.body, /^(a|b) GET \/files\\a%5Cb\?q=x\\y$/);
  });

  test('hop-by-hop headers, including those named in Connection, are not forwarded', async () => {
    const r = await viaProxy(m.proxy, 'GET', 'http://cart/hop', {
      headers: { connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'proxy-connection': 'keep-alive', 'keep-alive': 'timeout=5', 'x-end-to-end': 'yes' },
    });
    assert.equal(r.status, 200);
    const got = [...a.requests, ...b.requests].find((q) => q.url === '/hop')!;
    assert.equal(got.headers['x-secret-hop'], undefined);
    assert.equal(got.headers['proxy-connection'], undefined);
    assert.equal(got.headers['keep-alive'], undefined);
    assert.equal(got.headers['x-end-to-end'], 'yes');
  });

  test('a request body streams to the upstream and back', async () => {
    const payload = 'x'.repeat(200_000);
    const echo = await startUpstream('echo', (req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.method}:${body.length}`);
    });
    try {
      assert.equal((await api(m.admin, 'POST', '/v1/services/echo/instances', { endpoint: echo.url })).status, 201);
      const r = await viaProxy(m.proxy, 'POST', 'http://echo/upload', { body: payload, headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, `POST:${payload.length}`);
    } finally {
      await echo.close();
    }
  });

  test('deleting an instance moves all traffic to the other at once; deleting the last gives NO_HEALTHY_INSTANCE', async () => {
    const list = (await api(m.admin, 'GET', '/v1/services/cart/instances')).json<Array<{ id: string; endpoint: string }>>();
    const ia = list.find((i) => i.endpoint === a.url)!;
    const ib = list.find((i) => i.endpoint === b.url)!;
    assert.equal((await api(m.admin, 'DELETE', `/v1/services/cart/instances/${ia.id}`)).status, 204);
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(m.proxy, 'GET', 'http://cart/after-delete');
      assert.equal(r.headers['x-upstream'], 'b');
    }
    assert.equal((await api(m.admin, 'DELETE', `/v1/services/cart/instances/${ib.id}`)).status, 204);
    const r = await viaProxy(m.proxy, 'GET', 'http://cart/none');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-mesher-error'], 'NO_HEALTHY_INSTANCE');
    assert.equal(r.json<{ code: string }>().code, 'NO_HEALTHY_INSTANCE');
  });

  test('an unknown service answers SERVICE_NOT_FOUND naming it', async () => {
    const r = await viaProxy(m.proxy, 'GET', 'http://nosuch/x');
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-mesher-error'], 'SERVICE_NOT_FOUND');
    assert.deepEqual(r.json(), { code: 'SERVICE_NOT_FOUND', message: "no service named 'nosuch' is registered" });
  });

  test('an upstream killed mid-way gives UPSTREAM_UNAVAILABLE and the next request still works', async () => {
    const doomed = await startUpstream('doomed');
    const reg = await api(m.admin, 'POST', '/v1/services/inventory/instances', { endpoint: doomed.url });
    assert.equal(reg.status, 201);
    assert.equal((await viaProxy(m.proxy, 'GET', 'http://inventory/ok')).status, 200);
    await doomed.close();
    const r = await viaProxy(m.proxy, 'GET', 'http://inventory/gone');
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_UNAVAILABLE');
    // the process is alive and the next request to a healthy service works
    const fresh = await startUpstream('fresh');
    try {
      await api(m.admin, 'PUT', `/v1/services/inventory/instances/${reg.json<{ id: string }>().id}`, { endpoint: fresh.url });
      const ok = await viaProxy(m.proxy, 'GET', 'http://inventory/again');
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['x-upstream'], 'fresh');
    } finally {
      await fresh.close();
    }
  });

  test('an upstream that resets mid-body cuts the client instead of leaving it hanging', async () => {
    const rude = await startUpstream('rude', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      await api(m.admin, 'POST', '/v1/services/rude/instances', { endpoint: rude.url });
      await assert.rejects(viaProxy(m.proxy, 'GET', 'http://rude/x'), /aborted|socket hang up|ECONNRESET/);
      assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200);
    } finally {
      await rude.close();
    }
  });

  test('an upstream that hangs answers UPSTREAM_TIMEOUT within the policy timeout', async () => {
    const slow = await startUpstream('slow', () => undefined); // never answers
    try {
      await api(m.admin, 'POST', '/v1/services/slow/instances', { endpoint: slow.url });
      await api(m.admin, 'PUT', '/v1/policies/slow', { timeout: { requestMs: 300 } });
      const r = await viaProxy(m.proxy, 'GET', 'http://slow/x');
      assert.equal(r.status, 504);
      assert.equal(r.headers['x-mesher-error'], 'UPSTREAM_TIMEOUT');
    } finally {
      await slow.close();
    }
  });

  test('data survives a restart of Mesher on the same data dir', async () => {
    await api(m.admin, 'POST', '/v1/services', { name: 'persisted', description: 'kept' });
    const reg = await api(m.admin, 'POST', '/v1/services/persisted/instances', { endpoint: a.url, version: '2.0.0', labels: { zone: 'z1' } });
    assert.equal(reg.status, 201);
    assert.equal(await m.stop(), 0);
    m = await startMesher([], { dataDir });
    const svc = await api(m.admin, 'GET', '/v1/services/persisted');
    assert.equal(svc.status, 200);
    const body = svc.json<{ description: string; instances: Array<{ version: string; labels: Record<string, string> }> }>();
    assert.equal(body.description, 'kept');
    assert.equal(body.instances[0].version, '2.0.0');
    assert.deepEqual(body.instances[0].labels, { zone: 'z1' });
    const r = await viaProxy(m.proxy, 'GET', 'http://persisted/after-restart');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-upstream'], 'a');
  });
});
