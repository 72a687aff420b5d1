import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { api, request, type HttpResult } from './support/http-client';
import { startMesher, type MesherProcess } from './support/mesher-process';
import {
  badBool,
  badEndpoint,
  badEnum,
  badInt,
  badList,
  badNumber,
  badPattern,
  badRegex,
  badString,
  badStringMap,
  fieldOf,
  notString,
  unknownKey,
  withValue,
  type Path,
} from './support/admin-arbitraries';

/*
 * Property-based tests (fast-check) of every admin DTO and hand-validated body: a valid document with one
 * field made invalid (a wrong type, out of range, a bad pattern, an unknown key, a required field removed)
 * must get a 4xx whose `errors` name that field, never a 5xx, and must change nothing in the store
 * (GET /v1/config, the ingress and egress rules and the revision count are compared before and after).
 * Each endpoint runs a bounded number of cases from a fixed seed: fast-check prints the seed and the
 * shrunk counterexample of a failure, so it can be replayed. Afterwards the unmodified document is sent
 * once and must be accepted: the refusals came from the mutation, not from a broken template.
 */

const SEED = 0x6d657368;
const RUNS = 100;

const SERVICE_NAME = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;
const INSTANCE_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$/;
const STATUSES = ['UP', 'DOWN', 'DRAINING'];
const STRATEGIES = ['RoundRobin', 'Random', 'WeightedRoundRobin', 'LeastRequest', 'SessionSticky'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT'];
const RETRY_ON = ['connect-failure', 'reset', 'timeout', '5xx'];
const POLICY_SECTIONS = ['loadBalancer', 'timeout', 'retry', 'circuitBreaker', 'outlier', 'rateLimit', 'fault', 'healthCheck'];

/** One way to break a document: a bad value at a path, an unknown key in an object, or a required field removed. */
type Case = { path: Path; bad: fc.Arbitrary<unknown> } | { strict: Path; known: readonly string[] } | { required: Path };
type Mutation = { path: Path; value?: unknown; del?: boolean };

const under = (prefix: Path, cases: Case[]): Case[] =>
  cases.map((c) => ('bad' in c ? { path: [...prefix, ...c.path], bad: c.bad } : 'strict' in c ? { strict: [...prefix, ...c.strict], known: c.known } : { required: [...prefix, ...c.required] }));

function mutation(cases: Case[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    ...cases.map((c): fc.Arbitrary<Mutation> => {
      if ('bad' in c) return c.bad.map((value) => ({ path: c.path, value }));
      if ('strict' in c) return fc.tuple(unknownKey(c.known), fc.jsonValue({ maxDepth: 1 })).map(([k, value]) => ({ path: [...c.strict, k], value }));
      return fc.constant({ path: c.required, del: true });
    }),
  );
}

/** Policy sections with their field rules (the policy lib's validation, from its documentation). */
const policyCases = (): Case[] => [
  { strict: [], known: POLICY_SECTIONS },
  { path: ['loadBalancer', 'strategy'], bad: badEnum(STRATEGIES) },
  { path: ['timeout', 'requestMs'], bad: badNumber(0, undefined) },
  { path: ['timeout', 'perTryMs'], bad: badNumber(0, undefined) },
  { strict: ['timeout'], known: ['requestMs', 'perTryMs'] },
  { path: ['retry', 'attempts'], bad: badInt(1, 10) },
  {
    path: ['retry', 'retryOn'],
    bad: badList(fc.oneof(notString(), fc.string({ maxLength: 8 }).filter((s) => !RETRY_ON.includes(s) && !/^[1-5][0-9][0-9]$/.test(s)))),
  },
  { path: ['retry', 'budgetRatio'], bad: badNumber(0, 1) },
  { path: ['circuitBreaker', 'errorThresholdPercent'], bad: badNumber(0, 100) },
  { path: ['outlier', 'consecutiveErrors'], bad: badInt(1, Infinity) },
  { path: ['rateLimit', 'requestsPerSecond'], bad: badNumber(0, undefined, { exclusiveLo: true }) },
  { path: ['fault', 'abort', 'httpStatus'], bad: badInt(200, 599) },
  { path: ['healthCheck', 'path'], bad: fc.oneof(notString(), fc.string({ maxLength: 10 }).filter((s) => !s.startsWith('/'))) },
];

/** Route rule fields (service, precedence, match, route, policy). */
const ruleCases = (): Case[] => [
  { strict: [], known: ['service', 'precedence', 'match', 'route', 'policy'] },
  { required: ['service'] },
  { required: ['route'] },
  { path: ['service'], bad: fc.oneof(notString(true), fc.constant('')) },
  { path: ['precedence'], bad: badInt(0, 1_000_000) },
  { path: ['match'], bad: fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer(), { maxLength: 2 })) },
  { strict: ['match'], known: ['source', 'headers', 'pathPrefix', 'methods'] },
  { path: ['match', 'source'], bad: fc.oneof(notString(), fc.constant('')) },
  { path: ['match', 'pathPrefix'], bad: fc.oneof(notString(), fc.string({ maxLength: 10 }).filter((s) => !s.startsWith('/'))) },
  { path: ['match', 'methods'], bad: badList(badEnum(METHODS)) },
  { path: ['match', 'headers'], bad: fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer(), { maxLength: 2 })) },
  { path: ['match', 'headers', 'x-canary', 'regex'], bad: badRegex() },
  { path: ['match', 'headers', 'x-canary'], bad: fc.oneof(fc.string(), fc.integer(), fc.constant({})) },
  { path: ['route'], bad: fc.oneof(badList(), fc.constant([])) },
  { path: ['route', 0, 'weight'], bad: badInt(0, 100) },
  { path: ['route', 0, 'tags'], bad: badStringMap() },
  { strict: ['route', 0], known: ['tags', 'weight'] },
  ...under(['policy'], policyCases()),
];

const RULE = {
  service: 'cart',
  precedence: 5,
  match: { source: 'web', pathPrefix: '/a', methods: ['GET'], headers: { 'x-canary': { exact: 'yes' } } },
  route: [{ tags: { version: '1.0.0' }, weight: 100 }],
  policy: { timeout: { requestMs: 1000 } },
};

interface Endpoint {
  name: string;
  method: string;
  path: () => string;
  template: () => unknown;
  cases: Case[];
  /** How the API names a field: prefix of the path (e.g. the imported service's rule list). */
  prefix?: string;
  format?: 'json' | 'yaml' | 'either';
  /** Status of the unmodified document. */
  ok: number;
}

type ErrorBody = { statusCode: number; message: string; errors?: Array<{ field: string; message: string }> };

describe('admin API properties (fast-check): an invalid field gets a 4xx naming it, and the store does not change', () => {
  let m: MesherProcess;
  const ids = { route: '', ingress: '', egress: '' };
  let config: unknown;

  before(async () => {
    m = await startMesher();
    const mustBe = async (r: Promise<HttpResult>, status: number) => {
      const x = await r;
      assert.equal(x.status, status, x.body);
      return x;
    };
    await mustBe(api(m.admin, 'POST', '/v1/services/cart/instances', { id: 'i1', endpoint: 'http://127.0.0.1:9', version: '1.0.0', labels: { zone: 'a' } }), 201);
    ids.route = (await mustBe(api(m.admin, 'POST', '/v1/routes', RULE), 201)).json<{ id: string }>().id;
    await mustBe(api(m.admin, 'PUT', '/v1/policies/cart', { timeout: { requestMs: 1500 } }), 200);
    ids.ingress = (await mustBe(api(m.admin, 'POST', '/v1/ingress', { host: 'shop.example.com', pathPrefix: '/cart', service: 'cart' }), 201)).json<{ id: string }>().id;
    ids.egress = (await mustBe(api(m.admin, 'POST', '/v1/egress', { host: 'api.partner.test', ports: [443] }), 201)).json<{ id: string }>().id;
    config = (await mustBe(api(m.admin, 'GET', '/v1/config'), 200)).json();
  });
  after(async () => {
    await m?.stop();
  });

  /** Everything an admin write could change, as one comparable text. */
  const store = async () => {
    const parts = await Promise.all(['/v1/config', '/v1/ingress', '/v1/egress', '/v1/revisions?limit=1'].map((p) => api(m.admin, 'GET', p)));
    for (const p of parts) assert.equal(p.status, 200, p.body);
    const [cfg, ingress, egress, revisions] = parts;
    return JSON.stringify({ cfg: cfg.body, ingress: ingress.body, egress: egress.body, revisions: revisions.json<{ total: number }>().total });
  };

  const CHASSIS_RULE = { precedence: 5, route: [{ tags: { version: '1.0.0' }, weight: 100 }] };
  const chassisCases = (at: Path): Case[] => [
    { path: [...at, 'precedence'], bad: badInt(0, 1_000_000) },
    { path: [...at, 'route'], bad: fc.oneof(fc.string({ minLength: 1 }), fc.integer(), fc.constant([])) },
    { path: [...at, 'route', 0, 'weight'], bad: badInt(0, 100) },
    // YAML import turns numbers and booleans in tags into strings, so only other types are invalid there.
    { path: [...at, 'route', 0, 'tags'], bad: badStringMap(false, true) },
    { strict: at, known: ['precedence', 'match', 'route', 'policy'] },
  ];

  const endpoints: Endpoint[] = [
    {
      name: 'POST /v1/services (CreateServiceDto)',
      method: 'POST',
      path: () => '/v1/services',
      template: () => ({ name: 'p-svc', app: 'shop', description: 'made by fast-check' }),
      cases: [
        { strict: [], known: ['name', 'app', 'description'] },
        { required: ['name'] },
        { path: ['name'], bad: badPattern(SERVICE_NAME, true) },
        { path: ['app'], bad: badString(200) },
        { path: ['description'], bad: badString(2000) },
      ],
      ok: 201,
    },
    {
      name: 'POST /v1/services/:name/instances (RegisterInstanceDto)',
      method: 'POST',
      path: () => '/v1/services/cart/instances',
      template: () => ({ id: 'p1', endpoint: 'http://127.0.0.1:19', version: '1.0.0', labels: { zone: 'a' }, weight: 100, status: 'UP', ttl: 0 }),
      cases: [
        { strict: [], known: ['id', 'endpoint', 'version', 'labels', 'weight', 'status', 'ttl'] },
        { required: ['endpoint'] },
        { path: ['id'], bad: badPattern(INSTANCE_ID) },
        { path: ['endpoint'], bad: badEndpoint(true) },
        { path: ['version'], bad: badString(100) },
        { path: ['labels'], bad: badStringMap() },
        { path: ['weight'], bad: badInt(0, 10_000) },
        { path: ['status'], bad: badEnum(STATUSES) },
        { path: ['ttl'], bad: badInt(0, 86_400) },
      ],
      ok: 201,
    },
    {
      name: 'PUT /v1/services/:name/instances/:id (UpdateInstanceDto: null is refused too)',
      method: 'PUT',
      path: () => '/v1/services/cart/instances/i1',
      template: () => ({ endpoint: 'http://127.0.0.1:9', version: '1.0.0', labels: { zone: 'a' }, weight: 100, status: 'UP', ttl: 0 }),
      cases: [
        { strict: [], known: ['endpoint', 'version', 'labels', 'weight', 'status', 'ttl'] },
        { path: ['endpoint'], bad: badEndpoint(true) },
        { path: ['version'], bad: badString(100, true) },
        { path: ['labels'], bad: badStringMap(true) },
        { path: ['weight'], bad: badInt(0, 10_000, true) },
        { path: ['status'], bad: badEnum(STATUSES, true) },
        { path: ['ttl'], bad: badInt(0, 86_400, true) },
      ],
      ok: 200,
    },
    { name: 'POST /v1/routes', method: 'POST', path: () => '/v1/routes', template: () => RULE, cases: ruleCases(), ok: 201 },
    { name: 'PUT /v1/routes/:id', method: 'PUT', path: () => `/v1/routes/${ids.route}`, template: () => RULE, cases: ruleCases(), ok: 200 },
    {
      name: 'PUT /v1/policies/:service',
      method: 'PUT',
      path: () => '/v1/policies/cart',
      template: () => ({ loadBalancer: { strategy: 'RoundRobin' }, timeout: { requestMs: 1500, perTryMs: 500 }, retry: { attempts: 2, retryOn: ['5xx'] } }),
      cases: policyCases(),
      ok: 200,
    },
    ...(['POST', 'PUT'] as const).map(
      (method): Endpoint => ({
        name: `${method} /v1/ingress${method === 'PUT' ? '/:id' : ''}`,
        method,
        path: () => (method === 'PUT' ? `/v1/ingress/${ids.ingress}` : '/v1/ingress'),
        template: () => ({ host: method === 'POST' ? 'p.example.com' : 'shop.example.com', pathPrefix: '/p', rewritePath: '/', service: 'cart', port: 8080 }),
        cases: [
          { strict: [], known: ['host', 'pathPrefix', 'pathRegex', 'rewritePath', 'service', 'port'] },
          { required: ['service'] },
          { path: ['host'], bad: badPattern((s) => HOST.test(s.toLowerCase())) },
          { path: ['pathPrefix'], bad: fc.oneof(notString(), fc.string({ maxLength: 10 }).filter((s) => !s.startsWith('/'))) },
          // With pathPrefix present any pathRegex is refused (one or the other); a broken one is refused either way.
          { path: ['pathRegex'], bad: badRegex() },
          { path: ['rewritePath'], bad: fc.oneof(notString(), fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.startsWith('/'))) },
          { path: ['service'], bad: fc.oneof(notString(true), fc.constant('')) },
          { path: ['port'], bad: badInt(1, 65_535) },
        ],
        ok: method === 'POST' ? 201 : 200,
      }),
    ),
    ...(['POST', 'PUT'] as const).map(
      (method): Endpoint => ({
        name: `${method} /v1/egress${method === 'PUT' ? '/:id' : ''}`,
        method,
        path: () => (method === 'PUT' ? `/v1/egress/${ids.egress}` : '/v1/egress'),
        template: () => ({ host: method === 'POST' ? 'api.other.test' : 'api.partner.test', ports: [443, 8443], tls: true, policy: { timeout: { requestMs: 3000 } } }),
        cases: [
          { strict: [], known: ['host', 'ports', 'tls', 'policy'] },
          { required: ['host'] },
          { path: ['host'], bad: badPattern((s) => HOST.test(s.toLowerCase()), true) },
          { path: ['ports'], bad: fc.oneof(badList(badInt(1, 65_535)), fc.constant([])) },
          { path: ['tls'], bad: badBool(true) },
          ...under(['policy'], policyCases()),
        ],
        ok: method === 'POST' ? 201 : 200,
      }),
    ),
    {
      name: 'PUT /v1/config (JSON or YAML)',
      method: 'PUT',
      path: () => '/v1/config',
      template: () => config,
      format: 'either',
      cases: [
        { strict: [], known: ['services', 'routes', 'policies'] },
        { path: ['services'], bad: badList() },
        { path: ['services', 0, 'name'], bad: badPattern(SERVICE_NAME, true) },
        { path: ['services', 0, 'app'], bad: notString() },
        { path: ['services', 0, 'instances'], bad: badList() },
        { path: ['services', 0, 'instances', 0, 'endpoint'], bad: badEndpoint(true) },
        { path: ['services', 0, 'instances', 0, 'weight'], bad: badInt(0, 10_000) },
        { path: ['services', 0, 'instances', 0, 'status'], bad: badEnum(STATUSES) },
        { path: ['services', 0, 'instances', 0, 'ttl'], bad: badInt(0, Infinity) },
        { path: ['routes'], bad: badList() },
        { path: ['routes', 0, 'precedence'], bad: badInt(0, 1_000_000) },
        { path: ['routes', 0, 'route', 0, 'weight'], bad: badInt(0, 100) },
        { path: ['policies'], bad: fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer(), { maxLength: 2 })) },
        ...under(['policies', 'cart'], policyCases()),
      ],
      ok: 200,
    },
    {
      name: 'PUT /v1/mesher/routeRule/:service (routeRule YAML)',
      method: 'PUT',
      path: () => '/v1/mesher/routeRule/cart',
      template: () => [CHASSIS_RULE],
      prefix: 'routeRule.cart',
      format: 'yaml',
      cases: chassisCases([0]),
      ok: 200,
    },
    {
      name: 'POST /v1/mesher/routeRule (router.yaml)',
      method: 'POST',
      path: () => '/v1/mesher/routeRule',
      template: () => ({ routeRule: { cart: [CHASSIS_RULE] } }),
      format: 'yaml',
      cases: [{ strict: [], known: ['routeRule', 'sourceTemplate', 'servicecomb', 'router'] }, { path: ['routeRule', 'cart'], bad: fc.oneof(fc.string({ minLength: 1 }), fc.integer(), fc.constant({ a: 1 })) }, ...chassisCases(['routeRule', 'cart', 0])],
      ok: 201,
    },
  ];

  endpoints.forEach((ep, i) => {
    test(ep.name, async (t) => {
      const statuses: Record<number, number> = {};
      const baseline = await store();
      const send = (doc: unknown, yaml: boolean) =>
        request(m.admin, ep.method, ep.path(), {
          headers: { 'content-type': yaml ? 'application/yaml' : 'application/json' },
          body: yaml ? toYaml(doc) : JSON.stringify(doc),
        });
      await fc.assert(
        fc.asyncProperty(mutation(ep.cases), fc.boolean(), async (mut, yamlPick) => {
          const doc = withValue(ep.template(), mut.path, mut.value, mut.del);
          const yaml = ep.format === 'yaml' || (ep.format === 'either' && yamlPick);
          const r = await send(doc, yaml);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          const field = fieldOf(mut.path, ep.prefix);
          const what = `${mut.del ? 'without' : 'bad'} ${field} = ${JSON.stringify(mut.value)?.slice(0, 120)} -> ${r.status} ${r.body.slice(0, 300)}`;
          assert.ok(r.status >= 400 && r.status < 500, what);
          const body = r.json<ErrorBody>();
          assert.equal(body.statusCode, r.status, what);
          assert.ok(
            body.errors?.some((e) => e.field === field || e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`)),
            `the errors name ${field}: ${what}`,
          );
          assert.equal(await store(), baseline, `the store changed: ${what}`);
        }),
        { seed: SEED + i, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
      );
      t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
      // The document without the mutation is accepted: the refusals above came from the broken field.
      const control = await send(ep.template(), ep.format === 'yaml');
      assert.equal(control.status, ep.ok, `unmodified document: ${control.body.slice(0, 300)}`);
    });
  });

  test('the Mesher survived every case', async () => {
    assert.equal(m.proc.exitCode, null);
    assert.equal((await api(m.admin, 'GET', '/health/live')).status, 200);
  });
});
