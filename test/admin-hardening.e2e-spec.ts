import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { api, request, type HttpResult } from './support/http-client';
import fc from 'fast-check';
import { hostileBody } from './support/admin-arbitraries';
import { REPO_ROOT, startMesher, type MesherProcess } from './support/mesher-process';

type ErrorBody = { statusCode: number; code: string; message: string };

const OP = 'operator-token-7f3a9c1e5b';
const VIEW = 'viewer-token-2d8e4b6a0c';
const asOp = { authorization: `Bearer ${OP}` };
const asViewer = { authorization: `Bearer ${VIEW}` };

/** One request from a chosen loopback source address (the failure limit is per client address). */
function from(source: string, admin: string, method: string, target: string, headers: http.OutgoingHttpHeaders = {}, body?: string): Promise<HttpResult> {
  const [host, port] = [admin.slice(0, admin.lastIndexOf(':')), Number(admin.slice(admin.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: target, headers, localAddress: source, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${target}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Exact bytes on a fresh connection (paths Node's client would refuse to send); returns status and body. */
function raw(admin: string, head: string): Promise<{ status: number; body: string; text: string }> {
  const i = admin.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(admin.slice(i + 1)), admin.slice(0, i));
    const chunks: Buffer[] = [];
    sock.setTimeout(10_000, () => sock.destroy(new Error(`timeout: ${JSON.stringify(head.slice(0, 60))}`)));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), text });
    });
    // write, not end: a half-closed client makes the server drop a response it produces asynchronously (a file)
    sock.write(head);
  });
}

const config = async (admin: string) => {
  const r = await api(admin, 'GET', '/v1/config', undefined, asOp);
  assert.equal(r.status, 200, r.body);
  return r.body;
};

const accessControlHeaders = (r: HttpResult) => Object.keys(r.headers).filter((h) => h.startsWith('access-control-'));

describe('admin plane hardening (real process, tokens, limits, Host/Origin checks)', () => {
  let m: MesherProcess;
  let port: number;
  let ruleId: string;

  before(async () => {
    m = await startMesher(['--admin-token', OP, '--admin-viewer-token', VIEW, '--admin-allowed-hosts', 'mesher.internal,Admin.Example.Test.', '--admin-body-limit', '64k']);
    port = Number(m.admin.slice(m.admin.lastIndexOf(':') + 1));
    const inst = await api(m.admin, 'POST', '/v1/services/cart/instances', { id: 'i1', endpoint: 'http://127.0.0.1:9', version: '1.0.0', labels: { zone: 'a' } }, asOp);
    assert.equal(inst.status, 201, inst.body);
    const rule = await api(m.admin, 'POST', '/v1/routes', { service: 'cart', precedence: 5, route: [{ tags: { version: '1.0.0' }, weight: 100 }] }, asOp);
    assert.equal(rule.status, 201, rule.body);
    ruleId = rule.json<{ id: string }>().id;
    const pol = await api(m.admin, 'PUT', '/v1/policies/cart', { timeout: { requestMs: 1500 } }, asOp);
    assert.equal(pol.status, 200, pol.body);
  });
  after(async () => {
    await m?.stop();
  });

  describe('scoped tokens', () => {
    test('the viewer token reads (GET, HEAD) and every write with it is 403 naming the operator token; nothing changes', async () => {
      for (const p of ['/v1/services', '/v1/config', `/v1/routes/${ruleId}`, '/v1/policies/cart', '/v1/revisions']) {
        assert.equal((await api(m.admin, 'GET', p, undefined, asViewer)).status, 200, p);
      }
      assert.equal((await request(m.admin, 'HEAD', '/v1/services', { headers: asViewer })).status, 200);
      const before = await config(m.admin);
      const writes: Array<[string, string, unknown]> = [
        ['POST', '/v1/services', { name: 'by-viewer' }],
        ['POST', '/v1/services/cart/instances', { endpoint: 'http://127.0.0.1:10' }],
        ['PUT', '/v1/policies/cart', { timeout: { requestMs: 10 } }],
        ['PUT', `/v1/routes/${ruleId}`, { service: 'cart', precedence: 1, route: [{ tags: {}, weight: 100 }] }],
        ['DELETE', '/v1/services/cart', undefined],
        ['PUT', '/v1/config', { services: [], routes: [], policies: {} }],
        ['POST', '/v1/revisions/1/rollback', undefined],
      ];
      for (const [method, p, body] of writes) {
        const r = await api(m.admin, method, p, body, asViewer);
        assert.equal(r.status, 403, `${method} ${p}: ${r.body}`);
        const e = r.json<ErrorBody>();
        assert.equal(e.code, 'FORBIDDEN');
        assert.match(e.message, new RegExp(`^the viewer token is read-only: ${method} /v1/.* needs the operator token \\(--admin-token\\)$`));
      }
      assert.equal(await config(m.admin), before, 'no viewer write changed anything');
    });

    test('revisions name the token that made them, keeping a known client label', async () => {
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'actor-api' }, asOp)).status, 201);
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'actor-cli' }, { ...asOp, 'x-mesher-actor': 'cli' })).status, 201);
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'actor-odd' }, { ...asOp, 'x-mesher-actor': 'sidecar:forged' })).status, 201);
      const revs = (await api(m.admin, 'GET', '/v1/revisions?limit=20', undefined, asViewer)).json<{ items: Array<{ actor: string; summary: string }> }>().items;
      const actorOf = (svc: string) => revs.find((r) => r.summary === `create service ${svc}`)?.actor;
      assert.equal(actorOf('actor-api'), 'operator');
      assert.equal(actorOf('actor-cli'), 'operator:cli');
      assert.equal(actorOf('actor-odd'), 'operator', 'an unknown client label is not trusted');
    });

    test('a token in the query string is 400, even alongside a valid header, on any path', async () => {
      for (const p of ['/v1/services?token=' + OP, '/v1/config?access_token=' + OP, '/health/ready?token=x', '/?access_token=x']) {
        const r = await api(m.admin, 'GET', p, undefined, asOp);
        assert.equal(r.status, 400, `${p}: ${r.body}`);
        const e = r.json<ErrorBody>();
        assert.equal(e.code, 'BAD_REQUEST');
        assert.match(e.message, /not accepted in the URL.*Authorization: Bearer/);
      }
    });

    test('ten wrong tokens from one address: 429 with Retry-After for the rest of the minute, even with the right token; others unaffected', async () => {
      const attacker = '127.0.0.77';
      for (let i = 0; i < 10; i++) {
        const r = await from(attacker, m.admin, 'GET', '/v1/services', { authorization: `Bearer guess-${i}` });
        assert.equal(r.status, 401, `guess ${i}: ${r.body}`);
        assert.equal(r.json<ErrorBody>().code, 'UNAUTHORIZED');
      }
      for (const auth of ['Bearer guess-10', `Bearer ${OP}`]) {
        const r = await from(attacker, m.admin, 'GET', '/v1/services', { authorization: auth });
        assert.equal(r.status, 429, r.body);
        const e = r.json<ErrorBody>();
        assert.equal(e.code, 'TOO_MANY_REQUESTS');
        assert.match(e.message, /too many wrong admin tokens from 127\.0\.0\.77: try again in \d+s/);
        const retry = Number(r.headers['retry-after']);
        assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `retry-after ${r.headers['retry-after']}`);
      }
      assert.equal((await from('127.0.0.78', m.admin, 'GET', '/v1/services', asOp)).status, 200, 'another address still gets in');
      assert.equal((await api(m.admin, 'GET', '/v1/services', undefined, asOp)).status, 200);
      assert.equal((await from(attacker, m.admin, 'GET', '/health/ready')).status, 200, 'health needs no token and is not limited');
      // A missing token is not a guess: the dashboard's first load must not lock anyone out.
      for (let i = 0; i < 15; i++) assert.equal((await from('127.0.0.79', m.admin, 'GET', '/v1/services')).status, 401);
      assert.equal((await from('127.0.0.79', m.admin, 'GET', '/v1/services', asOp)).status, 200);
    });
  });

  test('every /v1 route from the router refuses a missing and a wrong token with 401; only health and /metrics are open', async () => {
    const docs = await api(m.admin, 'GET', '/docs-json');
    assert.equal(docs.status, 200);
    const paths = docs.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    const ops: Array<[string, string]> = [];
    for (const [p, methods] of Object.entries(paths)) {
      for (const method of Object.keys(methods)) if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) ops.push([method.toUpperCase(), p]);
    }
    assert.ok(ops.length >= 30, `the router lists ${ops.length} operations`);
    for (const known of ['GET /v1/services', 'POST /v1/routes', 'PUT /v1/config', 'GET /v1/traffic/stream', 'POST /v1/revisions/{id}/rollback']) {
      assert.ok(ops.some(([mth, p]) => `${mth} ${p}` === known), `${known} is enumerated`);
    }
    const open = ops.filter(([, p]) => !p.startsWith('/v1/'));
    for (const [, p] of open) assert.ok(p.startsWith('/health/') || p === '/metrics', `${p} is outside /v1 and not a health or metrics route`);
    let n = 0;
    for (const [method, p] of ops.filter(([, q]) => q.startsWith('/v1/'))) {
      const target = p.replace(/\{[^}]+\}/g, 'x');
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      const headers = body ? { 'content-type': 'application/json' } : {};
      const missing = await api(m.admin, method, target, body, headers);
      assert.equal(missing.status, 401, `${method} ${target} without a token: ${missing.body.slice(0, 200)}`);
      assert.equal(missing.json<ErrorBody>().code, 'UNAUTHORIZED');
      // Wrong tokens count towards the per-address limit: spread them over source addresses.
      const source = `127.0.1.${1 + Math.floor(n++ / 9)}`;
      const wrong = await from(source, m.admin, method, target, { ...headers, authorization: `Bearer ${OP}x` }, body);
      assert.equal(wrong.status, 401, `${method} ${target} with a wrong token: ${wrong.body.slice(0, 200)}`);
    }
    for (const [, p] of open) assert.notEqual((await api(m.admin, 'GET', p)).status, 401, p);
  });

  test('a body over --admin-body-limit is 413 JSON and changes nothing; one under it is handled', async () => {
    const before = await config(m.admin);
    const big = JSON.stringify({ name: 'too-big', description: 'x'.repeat(70 * 1024) });
    const r = await api(m.admin, 'POST', '/v1/services', big, asOp);
    assert.equal(r.status, 413, r.body);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const e = r.json<ErrorBody>();
    assert.equal(e.statusCode, 413);
    assert.equal(e.code, 'PAYLOAD_TOO_LARGE');
    assert.ok(e.message.length > 0);
    const yaml = await request(m.admin, 'PUT', '/v1/config', { headers: { ...asOp, 'content-type': 'application/yaml' }, body: `services: []\n# ${'y'.repeat(70 * 1024)}\n` });
    assert.equal(yaml.status, 413, yaml.body);
    assert.equal(yaml.json<ErrorBody>().code, 'PAYLOAD_TOO_LARGE');
    assert.equal(await config(m.admin), before);
    const fits = await api(m.admin, 'POST', '/v1/services', JSON.stringify({ name: 'fits', description: 'x'.repeat(60 * 1024) }), asOp);
    assert.notEqual(fits.status, 413);
    assert.ok(fits.status < 500, fits.body.slice(0, 200));
  });

  describe('DNS rebinding, Origin and CORS', () => {
    test('a Host that is not this admin API is 421 JSON on every kind of path', async () => {
      for (const host of ['attacker.example', `attacker.example:${port}`, `localhost.attacker.example:${port}`, '10.20.30.40', 'evil.com@127.0.0.1']) {
        for (const p of ['/v1/services', '/', '/health/ready', '/docs-json', '/metrics', '/assets/x.js']) {
          const r = await request(m.admin, 'GET', p, { headers: { ...asOp, host } });
          assert.equal(r.status, 421, `${host} ${p}: ${r.body}`);
          const e = r.json<ErrorBody>();
          assert.equal(e.code, 'MISDIRECTED_REQUEST');
          assert.match(e.message, /--admin-allowed-hosts/);
        }
      }
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'mesher.internal', `admin.example.test:${port}`, 'LOCALHOST']) {
        assert.equal((await request(m.admin, 'GET', '/v1/services', { headers: { ...asOp, host } })).status, 200, host);
      }
      const noHost = await raw(m.admin, `GET /health/live HTTP/1.0\r\n\r\n`);
      assert.equal(noHost.status, 400, noHost.text);
      const twoHosts = await raw(m.admin, `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`);
      assert.equal(twoHosts.status, 400, twoHosts.text);
    });

    test('a write with a foreign Origin is 403 and changes nothing; the own origin and no Origin pass', async () => {
      const before = await config(m.admin);
      for (const origin of ['http://attacker.example', 'null', `http://localhost:${port}`, `https://127.0.0.1:${port}`]) {
        for (const [method, p, body] of [
          ['POST', '/v1/services', { name: 'cross-site' }],
          ['DELETE', '/v1/services/cart', undefined],
          ['PUT', '/v1/policies/cart', { timeout: { requestMs: 1 } }],
        ] as const) {
          const r = await api(m.admin, method, p, body, { ...asOp, origin });
          assert.equal(r.status, 403, `${method} ${p} from ${origin}: ${r.body}`);
          assert.equal(r.json<ErrorBody>().code, 'FORBIDDEN');
          assert.match(r.json<ErrorBody>().message, /^cross-origin .* refused: Origin/);
        }
      }
      assert.equal(await config(m.admin), before);
      assert.equal((await api(m.admin, 'POST', '/v1/services', { name: 'same-origin' }, { ...asOp, origin: `http://127.0.0.1:${port}` })).status, 201);
      assert.equal((await api(m.admin, 'DELETE', '/v1/services/same-origin', undefined, asOp)).status, 204);
    });

    test('no CORS headers, ever: not on a preflight, not on a request with an Origin', async () => {
      const preflight = await request(m.admin, 'OPTIONS', '/v1/services', {
        headers: { origin: 'http://attacker.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert.ok(preflight.status >= 400, `preflight answered ${preflight.status}`);
      assert.deepEqual(accessControlHeaders(preflight), []);
      for (const origin of ['http://attacker.example', `http://127.0.0.1:${port}`]) {
        for (const p of ['/v1/services', '/health/ready', '/', '/docs-json']) {
          const r = await api(m.admin, 'GET', p, undefined, { ...asOp, origin });
          assert.ok(r.status < 400, `${p}: ${r.status}`);
          assert.deepEqual(accessControlHeaders(r), [], `${p} from ${origin}`);
        }
      }
    });
  });

  test('dashboard static files: traversal attempts get 400/403/404 and never a file from outside web/dist', async () => {
    const assetsDir = path.join(REPO_ROOT, 'web', 'dist', 'assets');
    const asset = fs.existsSync(assetsDir) ? fs.readdirSync(assetsDir).find((f) => f.endsWith('.js')) : undefined;
    if (asset) {
      const ok = await raw(m.admin, `GET /assets/${asset} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.equal(ok.status, 200, 'the static server itself works');
    }
    const pkg = fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8');
    const secrets = [pkg.slice(0, 60), '"workspaces"', 'root:x:0:0', '"compilerOptions"'];
    const attempts = [
      '/assets/../package.json',
      '/assets/../../package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/%252e%252e%252f%252e%252e%252fpackage.json',
      '/assets/..%252f..%252fpackage.json',
      '/assets/..\\..\\package.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/%5c..%5c..%5cpackage.json',
      '/assets/....//....//package.json',
      '/assets/..%c0%af..%c0%afpackage.json',
      '/assets/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json',
      '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/assets/../../../../../../etc/passwd',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/%00',
      '/assets/index.html%00.js',
      '/assets/..%00/package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/..%5cpackage.json',
      '/%2e%2e%2fweb%2ftsconfig.json',
      '/index.html/../../package.json',
      '/assets/.%2e/.%2e/package.json',
      '/assets/%2E%2E/%2E%2E/tsconfig.json',
    ];
    for (const target of attempts) {
      const r = await raw(m.admin, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 403, 404].includes(r.status), `${target}: ${r.status} ${r.body.slice(0, 120)}`);
      for (const s of secrets) assert.ok(!r.body.includes(s), `${target} leaked ${JSON.stringify(s)}`);
    }
    // A raw NUL byte in the request line: refused by the parser or the router, never served.
    const nul = await raw(m.admin, `GET /assets/..\u0000/package.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.ok([0, 400, 403, 404].includes(nul.status), `NUL: ${nul.text.slice(0, 120)}`);
    for (const s of secrets) assert.ok(!nul.body.includes(s));
  });

  /**
   * fast-check: hostile bodies (broken JSON and YAML tricks, deep nesting, prototype keys, duplicate keys, odd
   * numbers, valid templates with one value gone bad) at every write route the router lists. Seeded and
   * bounded; test/admin-properties.e2e-spec.ts checks field by field that invalid values are named.
   */
  test('hostile bodies at every write route: never a 5xx, and a refused one never changes the configuration', async (t) => {
    const seed = 0x5eed;
    const docs = (await api(m.admin, 'GET', '/docs-json')).json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    const route = (await api(m.admin, 'GET', `/v1/routes/${ruleId}`, undefined, asOp)).json<Record<string, unknown>>();
    const { id: _id, ...ruleTemplate } = route;
    const configTemplate = JSON.parse(await config(m.admin)) as unknown;
    const chassis = parseYaml((await api(m.admin, 'GET', '/v1/mesher/routeRule/cart', undefined, asOp)).body) as unknown;
    const fields = ['name', 'app', 'description', 'endpoint', 'version', 'labels', 'weight', 'status', 'ttl', 'id', 'service', 'precedence', 'match', 'route', 'policy', 'tags', 'headers', 'source', 'timeout', 'retry', 'loadBalancer', 'circuitBreaker', 'outlier', 'rateLimit', 'fault', 'healthCheck', 'services', 'routes', 'policies', 'routeRule', 'instances', 'host', 'pathPrefix', 'pathRegex', 'rewritePath', 'port', 'ports', 'tls'];
    const templates: Record<string, unknown> = {
      'POST /v1/services': { name: 'fz-svc', app: 'shop', description: 'made by the fuzzer' },
      'POST /v1/services/{name}/instances': { id: 'i1', endpoint: 'http://127.0.0.1:9', version: '1.0.0', labels: { zone: 'a' }, weight: 100, status: 'UP', ttl: 0 },
      'PUT /v1/services/{name}/instances/{id}': { version: '1.0.0', weight: 100, status: 'UP', labels: { zone: 'a' } },
      'POST /v1/routes': ruleTemplate,
      'PUT /v1/routes/{id}': ruleTemplate,
      'PUT /v1/policies/{service}': { timeout: { requestMs: 1500 }, retry: { attempts: 2 } },
      'PUT /v1/config': configTemplate,
      'PUT /v1/mesher/routeRule/{service}': chassis,
      'POST /v1/mesher/routeRule': { routeRule: { cart: chassis } },
      'POST /v1/ingress': { host: 'fz.example.com', pathPrefix: '/fz', service: 'cart' },
      'POST /v1/egress': { host: 'fz.partner.test', ports: [443], tls: true },
    };
    const yamlRoutes = new Set(['PUT /v1/config', 'PUT /v1/mesher/routeRule/{service}', 'POST /v1/mesher/routeRule']);
    const params = (p: string) =>
      p
        .replace('/v1/routes/{id}', `/v1/routes/${ruleId}`)
        .replace('/instances/{id}', '/instances/i1')
        .replace(/\{(name|service)\}/g, 'cart')
        .replace(/\{[^}]+\}/g, 'fz-none');
    const writes = Object.entries(docs).flatMap(([p, methods]) =>
      Object.keys(methods)
        .filter((x) => ['post', 'put', 'patch'].includes(x) && p.startsWith('/v1/'))
        .map((x) => `${x.toUpperCase()} ${p}`),
    );
    // Whole-configuration writes last: a valid mutation of them may remove what the other routes' cases aim at.
    writes.sort((a, b) => Number(/config|revisions/.test(a)) - Number(/config|revisions/.test(b)));
    assert.ok(writes.length >= 10, `write routes: ${writes.join(', ')}`);
    const PER_ROUTE = 200;
    let baseline = await config(m.admin);
    const seen: Record<string, Record<number, number>> = {};
    for (const [n, op] of writes.entries()) {
      const [method, p] = op.split(' ');
      const target = params(p);
      seen[op] = {};
      const contentType = yamlRoutes.has(op)
        ? fc.constantFrom('application/yaml', 'application/json', 'text/plain')
        : fc.oneof({ weight: 19, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constant('text/plain') });
      await fc.assert(
        fc.asyncProperty(hostileBody(fields, templates[op]), contentType, async (text, ct) => {
          const r = await request(m.admin, method, target, { headers: { ...asOp, 'content-type': ct }, body: text });
          seen[op][r.status] = (seen[op][r.status] ?? 0) + 1;
          const where = `${op} (${ct}, ${text.length} bytes: ${JSON.stringify(text.slice(0, 160))})`;
          assert.ok(r.status < 500, `${where} -> ${r.status} ${r.body.slice(0, 300)}`);
          assert.ok(r.status >= 200, where);
          if (r.status >= 400) {
            const e = r.json<ErrorBody>();
            assert.equal(e.statusCode, r.status, where);
            assert.equal(typeof e.message, 'string', where);
            assert.equal(await config(m.admin), baseline, `${where} -> ${r.status} changed the configuration`);
          } else {
            baseline = await config(m.admin); // a hostile-looking body can still be valid
          }
        }),
        { seed: seed + n, numRuns: PER_ROUTE, endOnFailure: true, includeErrorInReport: true },
      );
    }
    t.diagnostic(`statuses per route: ${JSON.stringify(seen)}`);
    // The process is alive and still serves its health and data.
    assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200);
    const refused = Object.values(seen).reduce((a, s) => a + Object.entries(s).filter(([st]) => Number(st) >= 400).reduce((x, [, c]) => x + c, 0), 0);
    assert.ok(refused > writes.length * PER_ROUTE * 0.8, `most cases are refused (${refused}): ${JSON.stringify(seen)}`);
  });
});
