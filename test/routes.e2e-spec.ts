import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api } from './support/http-client';
import { loadAgent, proxyGet, revisionOf, runPool, tally, waitForRevision } from './support/load';
import { createRule, register } from './support/mesh-admin';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

/**
 * Route rules over real processes: `m` has no --service-name (source 'unknown'), `web` runs with
 * --service-name web on the same store, so a `source` rule can be told apart.
 */
describe('route rules: weighted subsets, precedence, source', () => {
  const shared = tempDir();
  const agent = loadAgent(20);
  let m: MesherProcess;
  let web: MesherProcess;
  let a1: Upstream;
  let a2: Upstream;
  let b: Upstream;
  let splitRule = '';

  before(async () => {
    [a1, a2, b] = await Promise.all([startUpstream('a1'), startUpstream('a2'), startUpstream('b')]);
    m = await startMesher([], { dataDir: shared });
    web = await startMesher(['--service-name', 'web'], { dataDir: shared });
    await register(m.admin, 'shop', a1, '1.0.0');
    await register(m.admin, 'shop', a2, '1.0.0');
    await register(m.admin, 'shop', b, '2.0.0');
    splitRule = await createRule(m.admin, {
      service: 'shop',
      precedence: 1,
      route: [
        { tags: { version: '1.0.0' }, weight: 90 },
        { tags: { version: '2.0.0' }, weight: 10 },
      ],
    });
  });
  after(async () => {
    agent.destroy();
    await Promise.all([m?.stop(), web?.stop()]);
    await Promise.all([a1?.close(), a2?.close(), b?.close()]);
  });

  const upstreamOf = (headers: Record<string, unknown>) => String(headers['x-upstream']);

  test('a 90/10 split over 10,000 requests lands within 2 points; the v1 subset is shared evenly', async () => {
    const results = await runPool(10_000, 20, (i) => proxyGet(m.proxy, `http://shop/split?i=${i}`, agent));
    assert.ok(results.every((r) => r.status === 200), 'every request answered 200');
    const by = tally(results, (r) => upstreamOf(r.headers));
    const v2 = (by.b ?? 0) / 100;
    assert.ok(Math.abs(v2 - 10) <= 2, `v2 share ${v2}% (${JSON.stringify(by)})`);
    // Round robin inside the v1 subset: its two instances split its traffic evenly.
    const v1 = (by.a1 ?? 0) + (by.a2 ?? 0);
    assert.ok(Math.abs((by.a1 ?? 0) - (by.a2 ?? 0)) <= v1 * 0.02 + 2, `v1 subset split ${by.a1}/${by.a2}`);
    // Each request reached exactly one upstream, with the route decided per request.
    assert.equal(a1.requests.length + a2.requests.length + b.requests.length, 10_000);
  });

  test('a header rule with higher precedence always wins; one with lower precedence never does', async () => {
    const canary = await createRule(m.admin, {
      service: 'shop',
      precedence: 10,
      match: { headers: { 'x-canary': { exact: 'yes' } } },
      route: [{ tags: { version: '2.0.0' }, weight: 100 }],
    });
    const shadowed = await createRule(m.admin, {
      service: 'shop',
      precedence: 0,
      match: { headers: { 'x-old': { exact: 'yes' } } },
      route: [{ tags: { version: '2.0.0' }, weight: 100 }],
    });
    const withHeader = await runPool(300, 10, () => proxyGet(m.proxy, 'http://shop/canary', agent, { 'x-canary': 'yes' }));
    assert.deepEqual(tally(withHeader, (r) => `${r.status} ${upstreamOf(r.headers)}`), { '200 b': 300 });
    for (const r of withHeader) assert.equal(r.body, 'b GET /canary');

    // x-old matches only a precedence-0 rule, below the 90/10 rule that matches everything.
    const lower = await runPool(300, 10, () => proxyGet(m.proxy, 'http://shop/old', agent, { 'x-old': 'yes' }));
    const byLower = tally(lower, (r) => upstreamOf(r.headers));
    assert.ok((byLower.a1 ?? 0) + (byLower.a2 ?? 0) > 200, `the 90/10 rule decided: ${JSON.stringify(byLower)}`);

    // A header value that does not match the canary rule falls through to the split.
    const other = await runPool(100, 10, () => proxyGet(m.proxy, 'http://shop/not-canary', agent, { 'x-canary': 'no' }));
    assert.ok(other.some((r) => upstreamOf(r.headers) !== 'b'));
    for (const id of [canary, shadowed]) assert.equal((await api(m.admin, 'DELETE', `/v1/routes/${id}`)).status, 204);
  });

  test('a source rule applies only to traffic from that service', async () => {
    await createRule(m.admin, {
      service: 'shop',
      precedence: 20,
      match: { source: 'web' },
      route: [{ tags: { version: '2.0.0' }, weight: 100 }],
    });
    await waitForRevision(web.admin, await revisionOf(m.admin));
    const before = b.requests.length;
    const fromWeb = await runPool(200, 10, () => proxyGet(web.proxy, 'http://shop/from-web', agent));
    assert.deepEqual(tally(fromWeb, (r) => `${r.status} ${upstreamOf(r.headers)}`), { '200 b': 200 });
    const seen = b.requests.slice(before).filter((q) => q.url === '/from-web');
    assert.equal(seen.length, 200);
    assert.ok(seen.every((q) => q.headers['x-mesher-source'] === 'web'), 'the provider sees the caller named');

    // The same destination from a Mesher without a service name (source 'unknown'): the split rule.
    const fromUnknown = await runPool(200, 10, () => proxyGet(m.proxy, 'http://shop/from-unknown', agent));
    const byUnknown = tally(fromUnknown, (r) => upstreamOf(r.headers));
    assert.ok((byUnknown.a1 ?? 0) + (byUnknown.a2 ?? 0) > 140, `source rule did not apply: ${JSON.stringify(byUnknown)}`);
    const unnamed = [...a1.requests, ...a2.requests].filter((q) => q.url === '/from-unknown');
    assert.ok(unnamed.every((q) => q.headers['x-mesher-source'] === undefined), 'no source header without a service name');
  });

  test('rules select by label, path prefix and method too', async () => {
    const list = (await api(m.admin, 'GET', '/v1/services/shop/instances')).json<Array<{ id: string; endpoint: string }>>();
    const id = list.find((i) => i.endpoint === a2.url)!.id;
    assert.equal((await api(m.admin, 'PUT', `/v1/services/shop/instances/${id}`, { labels: { zone: 'z2' } })).status, 200);
    await createRule(m.admin, {
      service: 'shop',
      precedence: 15,
      match: { pathPrefix: '/zone', methods: ['GET'] },
      route: [{ tags: { zone: 'z2' }, weight: 100 }],
    });
    const zoned = await runPool(50, 5, () => proxyGet(m.proxy, 'http://shop/zone/x', agent));
    assert.deepEqual(tally(zoned, (r) => upstreamOf(r.headers)), { a2: 50 });
    // POST is not in the rule's methods: the 90/10 rule decides.
    const posted = await runPool(20, 5, () => api(m.proxy, 'POST', 'http://shop/zone/x', 'x'));
    assert.ok(posted.every((r) => r.status === 200));
    assert.ok(posted.some((r) => upstreamOf(r.headers) !== 'a2'), JSON.stringify(tally(posted, (r) => upstreamOf(r.headers))));
  });

  test('a rule whose subset has no instance answers NO_HEALTHY_INSTANCE; deleting it restores routing', async () => {
    const id = await createRule(m.admin, { service: 'shop', precedence: 30, match: { pathPrefix: '/v3' }, route: [{ tags: { version: '3.0.0' }, weight: 100 }] });
    const r = await proxyGet(m.proxy, 'http://shop/v3/x', agent);
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-mesher-error'], 'NO_HEALTHY_INSTANCE');
    assert.equal((await api(m.admin, 'DELETE', `/v1/routes/${id}`)).status, 204);
    assert.equal((await proxyGet(m.proxy, 'http://shop/v3/x', agent)).status, 200);
    assert.equal((await api(m.admin, 'GET', `/v1/routes/${splitRule}`)).status, 200);
  });
});
