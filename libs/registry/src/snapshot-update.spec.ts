import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceRecord, sourcesOf, type InstanceRecord, type RegistryState, type RouteRuleRecord } from '@mesher/contracts';
import type { RouteRequest } from './route-matcher';
import { buildSnapshot, updateSnapshot, type RegistrySnapshot } from './registry-snapshot';

const NOW = 5_000_000;

const inst = (service: string, id: string, over: Partial<InstanceRecord> = {}): InstanceRecord =>
  instanceRecord(service, id, { lastHeartbeat: NOW, ...over });

function rule(service: string, id: string, over: Partial<RouteRuleRecord> = {}): RouteRuleRecord {
  return {
    id,
    service,
    precedence: 1,
    match: { headers: { 'x-canary': { exact: '1' } } },
    route: [
      { tags: { version: '2.0.0' }, weight: 80 },
      { tags: { version: '1.0.0' }, weight: 20 },
    ],
    policy: null,
    ...over,
  };
}

/** Three services: cart (rules, policy, a TTL instance), shop, empty. */
function base(): RegistryState {
  return {
    revision: 10,
    services: ['cart', 'shop', 'empty'].map((name) => ({ name, app: null, description: null })),
    instances: [
      inst('cart', 'c1'),
      inst('cart', 'c2', { version: '2.0.0' }),
      inst('cart', 'c3', { ttl: 10, lastHeartbeat: NOW - 4_000 }),
      inst('shop', 's1'),
      inst('shop', 's2', { status: 'DOWN' }),
    ],
    routes: [rule('cart', 'r1'), rule('cart', 'r2', { precedence: 5, match: { pathPrefix: '/api' } })],
    policies: [{ service: 'cart', spec: { loadBalancer: { strategy: 'Random' } } }],
    ingress: [{ id: 'in1', host: 'a.example.com', pathPrefix: '/', pathRegex: null, rewritePath: null, service: 'cart', port: null }],
    egress: [],
  };
}

const probes: RouteRequest[] = [
  { source: null, method: 'GET', path: '/', headers: {} },
  { source: null, method: 'GET', path: '/api/x', headers: {} },
  { source: 'web', method: 'POST', path: '/', headers: { 'x-canary': '1' } },
];

/** Everything a snapshot decides, as plain data: compiled matchers are compared by what they answer. */
function plain(s: RegistrySnapshot) {
  const services = [...s.services.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, e]) => ({
      name,
      record: e.record,
      allInstances: e.allInstances,
      instances: e.instances,
      policy: e.policy,
      routes: e.routes.map((r) => ({ ...r, matches: probes.map((p) => r.matches(p)) })),
    }));
  return {
    revision: s.revision,
    expiresAt: s.expiresAt,
    services,
    ingress: s.ingress.map((i) => ({ rule: i.rule, probe: i.match('a.example.com', '/x') })),
    egress: s.egress,
  };
}

/** Applies `edit` to a copy of the state, updates incrementally for the named services, and compares with a full build. */
function check(edit: (s: RegistryState) => void, touched: string[], edge = false) {
  const before = base();
  const prev = buildSnapshot(before, NOW);
  const after = structuredClone(before);
  after.revision = 11;
  edit(after);
  const sources = sourcesOf(after);
  const change = {
    revision: after.revision,
    services: new Map(touched.map((n) => [n, sources.get(n) ?? null])),
    ...(edge ? { ingress: after.ingress, egress: after.egress } : {}),
  };
  const next = updateSnapshot(prev, change, NOW);
  assert.deepEqual(plain(next), plain(buildSnapshot(after, NOW)));
  // Structural sharing: untouched entries are the previous snapshot's own objects.
  for (const [name, e] of prev.services) if (!touched.includes(name)) assert.equal(next.services.get(name), e, `${name} is shared`);
  for (const name of touched) if (prev.services.has(name) && next.services.has(name)) assert.notEqual(next.services.get(name), prev.services.get(name));
  assert.equal(next.ingress === prev.ingress, !edge, 'compiled ingress is reused unless edge rules changed');
  assert.notEqual(next, prev);
  return { prev, next };
}

describe('updateSnapshot equals a full build of the same state', () => {
  test('service created, updated, deleted', () => {
    check((s) => s.services.push({ name: 'new', app: 'shopapp', description: 'd' }), ['new']);
    check((s) => (s.services[1] = { name: 'shop', app: 'a2', description: 'changed' }), ['shop']);
    const { next } = check((s) => {
      s.services = s.services.filter((x) => x.name !== 'cart');
      s.instances = s.instances.filter((i) => i.service !== 'cart');
      s.routes = [];
      s.policies = [];
    }, ['cart']);
    assert.equal(next.services.has('cart'), false);
    assert.equal(next.expiresAt, Infinity, 'the TTL instance went with its service');
  });

  test('instance created, updated (status, version, heartbeat), deleted', () => {
    check((s) => s.instances.push(inst('empty', 'e1')), ['empty']);
    check((s) => s.instances.push(inst('cart', 'c4', { version: '2.0.0' })), ['cart']);
    check((s) => (s.instances.find((i) => i.id === 's2')!.status = 'UP'), ['shop']);
    check((s) => (s.instances.find((i) => i.id === 'c1')!.version = '2.0.0'), ['cart']);
    const { next } = check((s) => (s.instances.find((i) => i.id === 'c3')!.lastHeartbeat = NOW - 1_000), ['cart']);
    assert.equal(next.expiresAt, NOW + 9_000);
    check((s) => (s.instances = s.instances.filter((i) => i.id !== 'c2')), ['cart']);
  });

  test('route rule created, updated, moved to another service, deleted', () => {
    check((s) => s.routes.push(rule('shop', 'r3', { route: [{ tags: { version: '1.0.0' }, weight: 1 }] })), ['shop']);
    check((s) => (s.routes[0] = { ...s.routes[0], precedence: 9, match: { methods: ['POST'] } }), ['cart']);
    check((s) => (s.routes[1] = { ...s.routes[1], service: 'shop' }), ['cart', 'shop']);
    check((s) => (s.routes = s.routes.slice(1)), ['cart']);
  });

  test('policy created, updated, deleted', () => {
    check((s) => s.policies.push({ service: 'shop', spec: { timeout: { requestMs: 100 } } }), ['shop']);
    check((s) => (s.policies[0] = { service: 'cart', spec: { retry: { attempts: 3 } } }), ['cart']);
    check((s) => (s.policies = []), ['cart']);
  });

  test('edge rules replace the compiled lists; a revision-only change shares every entry', () => {
    check((s) => {
      s.ingress = [{ id: 'in2', host: null, pathPrefix: '/x', pathRegex: null, rewritePath: '/', service: 'shop', port: null }];
      s.egress = [{ id: 'eg', host: 'api.example.org', ports: [443], tls: true, policy: null }];
    }, [], true);
    const { next, prev } = check(() => undefined, []);
    assert.equal(next.revision, 11);
    assert.equal(prev.revision, 10);
  });

  test('the previous snapshot is left as it was (in-flight requests keep theirs)', () => {
    const prev = buildSnapshot(base(), NOW);
    const seen = plain(prev);
    const sources = sourcesOf(base());
    updateSnapshot(prev, { revision: 12, services: new Map([['cart', null], ['shop', { ...sources.get('shop')!, instances: [] }]]) }, NOW);
    assert.deepEqual(plain(prev), seen);
  });

  test('a rebuild at a later time drops instances whose TTL ran out, and only in the services given', () => {
    const prev = buildSnapshot(base(), NOW);
    const later = NOW + 7_000;
    const next = updateSnapshot(prev, { revision: prev.revision, services: new Map([['cart', sourcesOf(base()).get('cart')!]]) }, later);
    assert.deepEqual(next.services.get('cart')!.instances.map((i) => i.id), ['c1', 'c2']);
    assert.equal(next.expiresAt, Infinity);
    assert.equal(next.services.get('shop'), prev.services.get('shop'));
  });
});
