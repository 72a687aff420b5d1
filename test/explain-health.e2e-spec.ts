import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, viaProxy } from './support/http-client';
import { startMesher, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('decision explainer, active health checks and per-route rate limits', () => {
  let m: MesherProcess;
  let v1: Upstream;
  let v2: Upstream;
  let v2Healthy = true;

  before(async () => {
    m = await startMesher();
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2', (req, res) => {
      if (req.url === '/health') {
        res.writeHead(v2Healthy ? 200 : 503);
        res.end();
        return;
      }
      res.writeHead(200, { 'x-upstream': 'v2' });
      res.end('v2');
    });
    assert.equal((await api(m.admin, 'POST', '/v1/services/cart/instances', { endpoint: v1.url, version: '1.0.0' })).status, 201);
    assert.equal((await api(m.admin, 'POST', '/v1/services/cart/instances', { endpoint: v2.url, version: '2.0.0' })).status, 201);
  });
  after(async () => {
    await m?.stop();
    await v1?.close();
    await v2?.close();
  });

  test('x-mesher-explain: 1 shows the rules tried, the matched one, the subset and the attempts', async () => {
    const canary = await api(m.admin, 'POST', '/v1/routes', {
      service: 'cart',
      precedence: 10,
      match: { headers: { 'x-canary': { exact: 'yes' } } },
      route: [{ tags: { version: '2.0.0' }, weight: 100 }],
    });
    assert.equal(canary.status, 201, canary.body);
    const fallback = await api(m.admin, 'POST', '/v1/routes', { service: 'cart', precedence: 1, route: [{ tags: { version: '1.0.0' }, weight: 100 }] });
    const r = await viaProxy(m.proxy, 'GET', 'http://cart/x', { headers: { 'x-canary': 'yes', 'x-mesher-explain': '1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-upstream'], 'v2');
    const e = JSON.parse(String(r.headers['x-mesher-explain']));
    assert.deepEqual(
      e.rules.map((x: { id: string; matched: boolean }) => [x.id, x.matched]),
      [
        [canary.json<{ id: string }>().id, true],
        [fallback.json<{ id: string }>().id, true],
      ],
    );
    assert.equal(e.matchedRule, canary.json<{ id: string }>().id);
    assert.deepEqual(e.subset.tags, { version: '2.0.0' });
    assert.equal(e.balancer, 'RoundRobin');
    assert.equal(e.attempts.length, 1);
    assert.equal(e.attempts[0].endpoint, v2.url);
    assert.equal(e.attempts[0].outcome, '200');
    const stored = await api(m.admin, 'GET', `/v1/explain/${r.headers['x-request-id']}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.json<{ matchedRule: string }>().matchedRule, e.matchedRule);
    // Without the header there is no explanation.
    const plain = await viaProxy(m.proxy, 'GET', 'http://cart/x');
    assert.equal(plain.headers['x-mesher-explain'], undefined);
    assert.equal((await api(m.admin, 'GET', '/v1/explain/no-such-id')).status, 404);
    for (const id of [canary.json<{ id: string }>().id, fallback.json<{ id: string }>().id]) await api(m.admin, 'DELETE', `/v1/routes/${id}`);
  });

  test('an instance failing its active health check gets no traffic until it passes again', async () => {
    const p = await api(m.admin, 'PUT', '/v1/policies/cart', {
      healthCheck: { path: '/health', intervalMs: 100, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 1 },
    });
    assert.equal(p.status, 200, p.body);
    v2Healthy = false;
    await sleep(400);
    for (let i = 0; i < 10; i++) assert.notEqual((await viaProxy(m.proxy, 'GET', 'http://cart/hc')).headers['x-upstream'], 'v2');
    v2Healthy = true;
    await sleep(400);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(String((await viaProxy(m.proxy, 'GET', 'http://cart/hc')).headers['x-upstream']));
    assert.ok(seen.has('v2'), 'v2 is back in rotation');
    await api(m.admin, 'DELETE', '/v1/policies/cart');
  });

  test('a route rule with its own rate limit limits only the traffic it matches', async () => {
    const rule = await api(m.admin, 'POST', '/v1/routes', {
      service: 'cart',
      precedence: 5,
      match: { pathPrefix: '/limited' },
      route: [{ tags: { version: '1.0.0' }, weight: 100 }],
      policy: { rateLimit: { requestsPerSecond: 1, burst: 2 } },
    });
    assert.equal(rule.status, 201, rule.body);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await viaProxy(m.proxy, 'GET', 'http://cart/limited/x')).status);
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    const limited = await viaProxy(m.proxy, 'GET', 'http://cart/limited/y');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['x-mesher-error'], 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    // Other paths are not limited by this rule.
    for (let i = 0; i < 5; i++) assert.equal((await viaProxy(m.proxy, 'GET', 'http://cart/free')).status, 200);
  });
});
