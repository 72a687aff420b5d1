import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { api, request, viaProxy, type HttpResult } from './support/http-client';
import { revisionOf, runPool, tally } from './support/load';
import { createRule, putPolicy, register } from './support/mesh-admin';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

type AdminErrorBody = { statusCode: number; code: string; message: string; errors?: Array<{ field: string; message: string }> };

/**
 * Asserts the status, that the field list names `field`, and that a message names it too (for an
 * imported rule, the message may name the field within the rule it reports, e.g. `route` of rule 0).
 */
function assertRejected(r: HttpResult, status: number, field: string): AdminErrorBody {
  assert.equal(r.status, status, r.body);
  const body = r.json<AdminErrorBody>();
  assert.equal(body.statusCode, status);
  const entry = body.errors?.find((e) => e.field === field);
  assert.ok(entry, `errors list ${field}: ${JSON.stringify(body.errors)}`);
  const local = field.replace(/^routeRule\.[^.[]+\[\d+\]\./, '');
  assert.ok([body.message, entry.message].some((msg) => msg.includes(local)), `a message names ${local}: ${body.message} / ${entry.message}`);
  return body;
}

const yamlPost = (admin: string, path: string, text: string, method = 'POST') =>
  request(admin, method, path, { headers: { 'content-type': 'application/yaml' }, body: text });

describe('admin API: bad input is refused and changes nothing', () => {
  let m: MesherProcess;
  let a: Upstream;
  let b: Upstream;

  before(async () => {
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    m = await startMesher();
    await register(m.admin, 'cart', a, '1.0.0');
    await register(m.admin, 'cart', b, '2.0.0');
  });
  after(async () => {
    await m?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  const upstreamOf = async (headers: Record<string, string> = {}) => {
    const r = await viaProxy(m.proxy, 'GET', 'http://cart/x', { headers });
    assert.equal(r.status, 200, r.body);
    return r.headers['x-upstream'];
  };

  test('invalid route rules get 422 naming the field; the stored rules and routing stay as they were', async (t) => {
    const canary = await createRule(m.admin, {
      service: 'cart',
      precedence: 5,
      match: { headers: { 'x-canary': { exact: 'yes' } } },
      route: [{ tags: { version: '2.0.0' }, weight: 100 }],
    });
    await createRule(m.admin, { service: 'cart', precedence: 0, route: [{ tags: { version: '1.0.0' }, weight: 100 }] });
    const before = (await api(m.admin, 'GET', '/v1/routes?service=cart')).body;
    const rev = await revisionOf(m.admin);
    const route = [{ tags: { version: '1.0.0' }, weight: 100 }];
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['bad regex', { service: 'cart', match: { headers: { 'x-user': { regex: '(unclosed' } } }, route }, 'match.headers.x-user.regex'],
      ['weights not summing to 100', { service: 'cart', route: [{ tags: { version: '1.0.0' }, weight: 60 }, { tags: { version: '2.0.0' }, weight: 30 }] }, 'route'],
      ['negative weight', { service: 'cart', route: [{ tags: { version: '1.0.0' }, weight: -10 }, { tags: { version: '2.0.0' }, weight: 110 }] }, 'route[0].weight'],
      ['negative precedence', { service: 'cart', precedence: -1, route }, 'precedence'],
      ['precedence of the wrong type', { service: 'cart', precedence: 'high', route }, 'precedence'],
      ['unknown destination service', { service: 'nosuch', route }, 'service'],
      ['unknown field', { service: 'cart', route, destination: 'x' }, 'destination'],
      ['non-string tag', { service: 'cart', route: [{ tags: { version: 2 }, weight: 100 }] }, 'route[0].tags'],
      ['unknown strategy in the rule policy', { service: 'cart', route, policy: { loadBalancer: { strategy: 'Fastest' } } }, 'policy.loadBalancer.strategy'],
    ];
    for (const [what, body, field] of cases) {
      await t.test(what, async () => {
        assert.equal(assertRejected(await api(m.admin, 'POST', '/v1/routes', body), 422, field).code, 'INVALID');
        assertRejected(await api(m.admin, 'PUT', `/v1/routes/${canary}`, body), 422, field);
      });
    }
    assert.equal((await api(m.admin, 'POST', '/v1/routes', 'null')).status, 422);
    assert.equal((await api(m.admin, 'PUT', '/v1/routes/nope', { service: 'cart', route })).status, 404);
    assert.equal((await api(m.admin, 'GET', '/v1/routes/nope')).status, 404);
    assert.equal((await api(m.admin, 'DELETE', '/v1/routes/nope')).status, 404);

    assert.equal((await api(m.admin, 'GET', '/v1/routes?service=cart')).body, before, 'stored rules unchanged');
    assert.equal(await revisionOf(m.admin), rev, 'no revision was written');
    assert.equal(await upstreamOf({ 'x-canary': 'yes' }), 'b');
    assert.equal(await upstreamOf(), 'a');
  });

  test('invalid policies get 422 naming the field; the stored policy keeps applying', async (t) => {
    await putPolicy(m.admin, 'cart', { retry: { attempts: 2 }, fault: { abort: { httpStatus: 418, percent: 100 }, headers: { 'x-chaos': { exact: 'on' } } } });
    const before = (await api(m.admin, 'GET', '/v1/policies/cart')).body;
    const rev = await revisionOf(m.admin);
    const cases: Array<[string, unknown, string]> = [
      ['unknown strategy', { loadBalancer: { strategy: 'Fastest' } }, 'loadBalancer.strategy'],
      ['negative timeout', { timeout: { requestMs: -1 } }, 'timeout.requestMs'],
      ['negative rate', { rateLimit: { requestsPerSecond: -5 } }, 'rateLimit.requestsPerSecond'],
      ['negative attempts', { retry: { attempts: -1 } }, 'retry.attempts'],
      ['negative ejection time', { outlier: { consecutiveErrors: 5, baseEjectionMs: -1, maxEjectionPercent: 10 } }, 'outlier.baseEjectionMs'],
      ['percent over 100', { fault: { abort: { httpStatus: 503, percent: 101 } } }, 'fault.abort.percent'],
      ['wrong type', { fault: { delay: { fixedDelayMs: 'slow', percent: 10 } } }, 'fault.delay.fixedDelayMs'],
      ['unknown field', { retry: { attempts: 2, tries: 3 } }, 'retry.tries'],
      ['missing required field', { circuitBreaker: { errorThresholdPercent: 50 } }, 'circuitBreaker.requestVolumeThreshold'],
      ['bad regex', { fault: { headers: { 'x-user': { regex: '[' } } } }, 'fault.headers.x-user.regex'],
      ['unknown retry condition', { retry: { attempts: 2, retryOn: ['sometimes'] } }, 'retry.retryOn.0'],
      ['not an object', [], 'policy'],
    ];
    for (const [what, body, field] of cases) {
      await t.test(what, async () => {
        assert.equal(assertRejected(await api(m.admin, 'PUT', '/v1/policies/cart', body), 422, field).code, 'INVALID');
      });
    }
    assert.equal((await api(m.admin, 'PUT', '/v1/policies/nosuch', {})).status, 404);
    assert.equal((await api(m.admin, 'DELETE', '/v1/policies/nosuch')).status, 404);

    assert.equal((await api(m.admin, 'GET', '/v1/policies/cart')).body, before, 'stored policy unchanged');
    assert.equal(await revisionOf(m.admin), rev, 'no revision was written');
    const chaos = await viaProxy(m.proxy, 'GET', 'http://cart/x', { headers: { 'x-chaos': 'on' } });
    assert.equal(chaos.status, 418);
    assert.equal(chaos.headers['x-mesher-error'], 'FAULT_INJECTED');
    assert.equal((await viaProxy(m.proxy, 'GET', 'http://cart/x')).status, 200);
  });

  test('services and instances: malformed input is a 400, duplicates 409, unknown ids 404; nothing changes', async (t) => {
    const state = async () => [(await api(m.admin, 'GET', '/v1/services')).body, (await api(m.admin, 'GET', '/v1/services/cart/instances')).body];
    const before = await state();
    const rev = await revisionOf(m.admin);
    const ok = { endpoint: 'http://127.0.0.1:9', version: '1.0.0' };

    const invalidJson = await api(m.admin, 'POST', '/v1/services', '{"name":');
    assert.equal(invalidJson.status, 400);
    assert.match(invalidJson.json<AdminErrorBody>().message, /not valid JSON/);
    assert.equal((await api(m.admin, 'POST', '/v1/services/cart/instances', '{"endpoint": http://x}')).status, 400);

    const bad: Array<[string, string, string, unknown, number, string]> = [
      ['service name of the wrong type', 'POST', '/v1/services', { name: 5 }, 400, 'name'],
      ['service name with spaces', 'POST', '/v1/services', { name: 'Bad Name' }, 400, 'name'],
      ['unknown service field', 'POST', '/v1/services', { name: 'fresh', colour: 'red' }, 400, 'colour'],
      ['duplicate service', 'POST', '/v1/services', { name: 'cart' }, 409, 'name'],
      ['endpoint that is no URL', 'POST', '/v1/services/cart/instances', { endpoint: 'not a url' }, 400, 'endpoint'],
      ['endpoint with another scheme', 'POST', '/v1/services/cart/instances', { endpoint: 'ftp://127.0.0.1:21' }, 400, 'endpoint'],
      ['endpoint with credentials', 'POST', '/v1/services/cart/instances', { endpoint: 'http://u:p@127.0.0.1:1' }, 400, 'endpoint'],
      ['endpoint with a query', 'POST', '/v1/services/cart/instances', { endpoint: 'http://127.0.0.1:1/?q=1' }, 400, 'endpoint'],
      ['weight of the wrong type', 'POST', '/v1/services/cart/instances', { ...ok, weight: 'heavy' }, 400, 'weight'],
      ['label that is not a string', 'POST', '/v1/services/cart/instances', { ...ok, labels: { zone: 1 } }, 400, 'labels'],
      ['unknown status', 'POST', '/v1/services/cart/instances', { ...ok, status: 'MAYBE' }, 400, 'status'],
      ['negative ttl', 'POST', '/v1/services/cart/instances', { ...ok, ttl: -1 }, 400, 'ttl'],
      ['unknown instance field', 'POST', '/v1/services/cart/instances', { ...ok, zone: 'z1' }, 400, 'zone'],
      ['duplicate endpoint', 'POST', '/v1/services/cart/instances', { endpoint: a.url }, 409, 'endpoint'],
      ['invalid service name in the path', 'POST', '/v1/services/Bad%20Name/instances', ok, 422, 'name'],
    ];
    for (const [what, method, path, body, status, field] of bad) {
      await t.test(what, async () => {
        assertRejected(await api(m.admin, method, path, body), status, field);
      });
    }
    const id = (await api(m.admin, 'GET', '/v1/services/cart/instances')).json<Array<{ id: string }>>()[0].id;
    assertRejected(await api(m.admin, 'PUT', `/v1/services/cart/instances/${id}`, { weight: -1 }), 400, 'weight');
    assertRejected(await api(m.admin, 'PUT', `/v1/services/cart/instances/${id}`, { endpoint: 'nope' }), 400, 'endpoint');

    for (const [method, path] of [
      ['GET', '/v1/services/cart/instances/nope'],
      ['PUT', '/v1/services/cart/instances/nope'],
      ['DELETE', '/v1/services/cart/instances/nope'],
      ['PUT', '/v1/services/cart/instances/nope/heartbeat'],
      ['GET', '/v1/services/nosuch'],
      ['DELETE', '/v1/services/nosuch'],
      ['GET', '/v1/services/nosuch/instances'],
    ]) {
      const r = await api(m.admin, method, path, method === 'PUT' && !path.endsWith('heartbeat') ? { weight: 1 } : undefined);
      assert.equal(r.status, 404, `${method} ${path}: ${r.body}`);
      const body = r.json<AdminErrorBody>();
      assert.equal(body.code, 'NOT_FOUND');
      assert.ok(body.message.includes(path.includes('nosuch') ? 'nosuch' : 'nope'), body.message);
    }

    assert.deepEqual(await state(), before, 'services and instances unchanged');
    assert.equal(await revisionOf(m.admin), rev, 'no revision was written');
    assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200, 'the process is fine');
  });

  describe('ServiceComb routeRule YAML', () => {
    let c1: Upstream;
    let c2: Upstream;
    let p1: Upstream;
    // A go-chassis router.yaml as its docs write it: CamelCase service key, numeric-looking versions,
    // an unanchored regex, a source template, and the `router` block go-chassis reads its source from.
    const routerYaml = `
router:
  infra: cse
routeRule:
  Carts:
    - precedence: 3
      match:
        refer: jason-cookie
      route:
        - weight: 100
          tags:
            version: 2.0
    - precedence: 2
      match:
        headers:
          Foo:
            exact: bar
          X-Build:
            regex: canary
      route:
        - weight: 100
          tags:
            version: 2.0
    - precedence: 0
      route:
        - weight: 80
          tags:
            version: 1.0
            app: HelloWorld
        - weight: 20
          tags:
            version: 2.0
            app: HelloWorld
sourceTemplate:
  jason-cookie:
    headers:
      cookie:
        regex: "^(.*?;)?(user=jason)(;.*)?$"
`;

    before(async () => {
      [c1, c2, p1] = await Promise.all([startUpstream('c1'), startUpstream('c2'), startUpstream('p1')]);
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'carts', app: 'HelloWorld' })).status, 201);
      await register(m.admin, 'carts', c1, '1.0');
      await register(m.admin, 'carts', c2, '2.0');
      await register(m.admin, 'payment', p1, '0.1');
    });
    after(() => Promise.all([c1?.close(), c2?.close(), p1?.close()]));

    const cartsVia = async (headers: Record<string, string> = {}) => {
      const r = await viaProxy(m.proxy, 'GET', 'http://carts/x', { headers });
      assert.equal(r.status, 200, r.body);
      return r.headers['x-upstream'];
    };
    const rulesOf = async (svc: string) =>
      (await api(m.admin, 'GET', `/v1/routes?service=${svc}`)).json<Array<Record<string, unknown>>>().map(({ id: _id, ...r }) => r);

    test('a go-chassis router.yaml imports unchanged and routes as go-chassis would', async () => {
      const r = await yamlPost(m.admin, '/v1/mesher/routeRule', routerYaml);
      assert.equal(r.status, 201, r.body);
      const rules = await rulesOf('carts');
      assert.equal(rules.length, 3);
      assert.deepEqual(rules[2].route, [
        { tags: { version: '1.0', app: 'HelloWorld' }, weight: 80 },
        { tags: { version: '2.0', app: 'HelloWorld' }, weight: 20 },
      ]);
      assert.equal(await cartsVia({ cookie: 'a=1;user=jason' }), 'c2');
      assert.equal(await cartsVia({ foo: 'bar', 'x-build': 'nightly-canary-7' }), 'c2', 'the regex matches anywhere, as in Go');
      const plain = await runPool(200, 10, () => viaProxy(m.proxy, 'GET', 'http://carts/x'));
      const by = tally(plain, (x) => String(x.headers['x-upstream']));
      assert.ok((by.c1 ?? 0) > 120 && (by.c2 ?? 0) > 10, `80/20 by version and app: ${JSON.stringify(by)}`);
    });

    test('GET returns YAML that imports back to the same rules and the same text', async () => {
      const first = await api(m.admin, 'GET', '/v1/mesher/routeRule/carts');
      assert.equal(first.status, 200);
      assert.match(String(first.headers['content-type']), /^application\/yaml/);
      const doc = parse(first.body) as Array<Record<string, unknown>>;
      assert.equal(doc.length, 3);
      const before = await rulesOf('carts');
      const put = await yamlPost(m.admin, '/v1/mesher/routeRule/Carts', first.body, 'PUT');
      assert.equal(put.status, 200, put.body);
      assert.deepEqual(await rulesOf('carts'), before);
      assert.equal((await api(m.admin, 'GET', '/v1/mesher/routeRule/carts')).body, first.body);
      assert.equal(await cartsVia({ foo: 'bar', 'x-build': 'canary' }), 'c2');
    });

    test('the servicecomb.routeRule.<svc> string form imports too', async () => {
      const doc = 'servicecomb.routeRule.payment: |\n  - precedence: 1\n    route:\n      - tags:\n          version: 0.1\n        weight: 100\n';
      const r = await yamlPost(m.admin, '/v1/mesher/routeRule', doc);
      assert.equal(r.status, 201, r.body);
      assert.deepEqual(await rulesOf('payment'), [{ service: 'payment', precedence: 1, match: null, route: [{ tags: { version: '0.1' }, weight: 100 }], policy: null }]);
      const via = await viaProxy(m.proxy, 'GET', 'http://payment/pay');
      assert.equal(via.status, 200);
      assert.equal(via.headers['x-upstream'], 'p1');
    });

    test('an invalid document imports nothing (all or nothing)', async (t) => {
      const carts = await rulesOf('carts');
      const payment = await rulesOf('payment');
      const rev = await revisionOf(m.admin);
      const good = '  carts:\n    - route:\n        - {tags: {version: 1.0}, weight: 100}\n';
      const cases: Array<[string, string, number, string]> = [
        ['weights not summing to 100', `routeRule:\n${good}  payment:\n    - route:\n        - {tags: {version: 0.1}, weight: 50}\n        - {tags: {version: 0.2}, weight: 40}\n`, 422, 'routeRule.payment[0].route'],
        ['unknown destination', `routeRule:\n${good}  nosuch:\n    - route:\n        - {tags: {}, weight: 100}\n`, 422, 'service'],
        ['bad regex', `routeRule:\n${good}  payment:\n    - match: {headers: {x: {regex: "("}}}\n      route:\n        - {tags: {}, weight: 100}\n`, 422, 'routeRule.payment[0].match.headers.x.regex'],
        ['unsupported operator', `routeRule:\n${good}  payment:\n    - match: {headers: {age: {noLess: 18}}}\n      route:\n        - {tags: {}, weight: 100}\n`, 422, 'routeRule.payment[0].match.headers.age.noLess'],
        ['unknown template', `routeRule:\n${good}  payment:\n    - match: {refer: nosuch}\n      route:\n        - {tags: {}, weight: 100}\n`, 422, 'routeRule.payment[0].match.refer'],
        ['unknown key', `routeRule:\n${good}routeRules: {}\n`, 422, 'routeRules'],
        ['malformed YAML', `routeRule:\n${good}  payment: [\n`, 400, 'body'],
      ];
      for (const [what, text, status, field] of cases) {
        await t.test(what, async () => {
          assertRejected(await yamlPost(m.admin, '/v1/mesher/routeRule', text), status, field);
        });
      }
      assertRejected(await yamlPost(m.admin, '/v1/mesher/routeRule/carts', 'precedence: 1\n', 'PUT'), 422, 'body');
      assert.deepEqual(await rulesOf('carts'), carts);
      assert.deepEqual(await rulesOf('payment'), payment);
      assert.equal(await revisionOf(m.admin), rev, 'no revision was written');
    });
  });
});

describe('admin token', () => {
  test('with MESHER_ADMIN_TOKEN set, /v1 needs the bearer token; health does not', async () => {
    const m = await startMesher([], { env: { MESHER_ADMIN_TOKEN: 's3cret-token' } });
    try {
      const none = await api(m.admin, 'GET', '/v1/services');
      assert.equal(none.status, 401);
      assert.equal(none.json<AdminErrorBody>().code, 'UNAUTHORIZED');
      assert.match(none.json<AdminErrorBody>().message, /Bearer/);
      assert.equal((await api(m.admin, 'GET', '/v1/services', undefined, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await api(m.admin, 'GET', '/v1/services', undefined, { authorization: 's3cret-token' })).status, 401, 'the Bearer scheme is required');
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'sneaky' }, { authorization: 'Bearer wrong' })).status, 401);
      const right = await api(m.admin, 'GET', '/v1/services', undefined, { authorization: 'Bearer s3cret-token' });
      assert.equal(right.status, 200);
      assert.deepEqual(right.json(), [], 'the refused POST created nothing');
      assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200);
    } finally {
      await m.stop();
    }
  });

  test('binding the admin API to 0.0.0.0 without a token refuses to start', async () => {
    const r = await runMesher(['start', '--admin-address', '0.0.0.0', '--admin-port', '0', '--proxy-port', '0', '--data-dir', tempDir()], { MESHER_ADMIN_TOKEN: '' });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /admin-token/);
    assert.doesNotMatch(r.stdout, /mesher started/);
  });
});
