import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceRecord, type InstanceRecord, type RegistryState, type RouteRuleRecord } from '@mesher/contracts';
import { seededRandom } from '@mesher/policies';
import { buildSnapshot, decideRoute, EMPTY_STATE, instanceMatchesTags, pickTarget, type ServiceEntry } from './registry-snapshot';

const NOW = 1_000_000;

const inst = (id: string, over: Partial<InstanceRecord> = {}): InstanceRecord => instanceRecord('cart', id, { lastHeartbeat: NOW, ...over });

function rule(id: string, over: Partial<RouteRuleRecord> = {}): RouteRuleRecord {
  return { id, service: 'cart', precedence: 0, match: null, route: [{ tags: {}, weight: 100 }], policy: null, ...over };
}

function state(over: Partial<RegistryState> = {}): RegistryState {
  return { revision: 7, services: [{ name: 'cart', app: null, description: null }], instances: [], routes: [], policies: [], ...over };
}

const cart = (s: RegistryState): ServiceEntry => buildSnapshot(s, NOW).services.get('cart')!;
const get = { source: null, method: 'GET', path: '/', headers: {} };

describe('buildSnapshot', () => {
  test('only UP instances within their TTL are routable; all are listed, sorted by id', () => {
    const e = cart(
      state({
        instances: [
          inst('c'),
          inst('a', { status: 'DOWN' }),
          inst('d', { status: 'DRAINING' }),
          inst('b', { ttl: 10, lastHeartbeat: NOW - 11_000 }), // expired
          inst('e', { ttl: 10, lastHeartbeat: NOW - 5_000 }),
        ],
      }),
    );
    assert.deepEqual(e.allInstances.map((i) => i.id), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(e.instances.map((i) => i.id), ['c', 'e']);
  });

  test('expiresAt is the earliest TTL expiry of a routable instance, Infinity without TTLs', () => {
    const s = buildSnapshot(
      state({ instances: [inst('a', { ttl: 10, lastHeartbeat: NOW - 2_000 }), inst('b', { ttl: 10, lastHeartbeat: NOW - 5_000 }), inst('c')] }),
      NOW,
    );
    assert.equal(s.expiresAt, NOW + 5_000);
    assert.equal(buildSnapshot(state({ instances: [inst('c')] }), NOW).expiresAt, Infinity);
    assert.equal(s.revision, 7);
    assert.equal(s.builtAt, NOW);
  });

  test('an empty state gives an empty snapshot', () => {
    const s = buildSnapshot(EMPTY_STATE, NOW);
    assert.equal(s.services.size, 0);
    assert.equal(s.revision, 0);
  });

  test('rules are ordered by precedence (highest first), ties by id; rules of unknown services are ignored', () => {
    const s = buildSnapshot(
      state({ routes: [rule('r2', { precedence: 1 }), rule('r9', { precedence: 5 }), rule('r1', { precedence: 1 }), rule('x', { service: 'ghost' })] }),
      NOW,
    );
    assert.deepEqual(s.services.get('cart')!.routes.map((r) => r.id), ['r9', 'r1', 'r2']);
    assert.equal(s.services.has('ghost'), false);
  });

  test('each subset holds the routable instances carrying its tags', () => {
    const e = cart(
      state({
        instances: [inst('a'), inst('b', { version: '2.0.0' }), inst('c', { version: '2.0.0', labels: { zone: 'z1' } }), inst('d', { version: '2.0.0', status: 'DOWN' })],
        routes: [
          rule('r', {
            route: [
              { tags: { version: '2.0.0' }, weight: 50 },
              { tags: { version: '2.0.0', zone: 'z1' }, weight: 30 },
              { tags: { version: '1.0.0' }, weight: 20 },
            ],
          }),
        ],
      }),
    );
    const [v2, v2z1, v1] = e.routes[0].targets;
    assert.deepEqual(v2.instances.map((i) => i.id), ['b', 'c']);
    assert.deepEqual(v2z1.instances.map((i) => i.id), ['c']);
    assert.deepEqual(v1.instances.map((i) => i.id), ['a']);
    assert.equal(e.routes[0].totalWeight, 100);
  });

  test('the service policy and rule policy are carried into the snapshot', () => {
    const e = cart(state({ policies: [{ service: 'cart', spec: { retry: { attempts: 3 } } }], routes: [rule('r', { policy: { timeout: { requestMs: 50 } } })] }));
    assert.deepEqual(e.policy, { retry: { attempts: 3 } });
    assert.deepEqual(e.routes[0].policy, { timeout: { requestMs: 50 } });
  });
});

describe('instanceMatchesTags', () => {
  test('version compares the instance version, other keys its labels; all must hold', () => {
    const i = inst('a', { version: '2.0.0', labels: { zone: 'z1', app: 'shop' } });
    assert.equal(instanceMatchesTags(i, {}), true);
    assert.equal(instanceMatchesTags(i, { version: '2.0.0' }), true);
    assert.equal(instanceMatchesTags(i, { version: '2.0' }), false);
    assert.equal(instanceMatchesTags(i, { version: '2.0.0', zone: 'z1' }), true);
    assert.equal(instanceMatchesTags(i, { version: '2.0.0', zone: 'z2' }), false);
    assert.equal(instanceMatchesTags(i, { rack: 'r1' }), false);
  });

  test("the app tag falls back to the service's app when the instance has no app label", () => {
    const e = cart(
      state({
        services: [{ name: 'cart', app: 'HelloWorld', description: null }],
        instances: [inst('a'), inst('b', { labels: { app: 'Other' } })],
        routes: [rule('r', { route: [{ tags: { version: '1.0.0', app: 'HelloWorld' }, weight: 100 }] })],
      }),
    );
    assert.deepEqual(e.routes[0].targets[0].instances.map((i) => i.id), ['a']);
  });
});

describe('decideRoute', () => {
  const instances = [inst('a'), inst('b', { version: '2.0.0' })];

  test('without rules every routable instance is a candidate', () => {
    const d = decideRoute(cart(state({ instances })), get, Math.random);
    assert.equal(d.route, null);
    assert.equal(d.target, null);
    assert.deepEqual(d.candidates.map((i) => i.id), ['a', 'b']);
  });

  test('the first matching rule by precedence decides; a non-matching higher rule is skipped', () => {
    const e = cart(
      state({
        instances,
        routes: [
          rule('canary', { precedence: 10, match: { headers: { 'x-canary': { exact: 'yes' } } }, route: [{ tags: { version: '2.0.0' }, weight: 100 }] }),
          rule('default', { precedence: 1, route: [{ tags: { version: '1.0.0' }, weight: 100 }] }),
        ],
      }),
    );
    const canary = decideRoute(e, { ...get, headers: { 'x-canary': 'yes' } }, Math.random);
    assert.equal(canary.route!.id, 'canary');
    assert.deepEqual(canary.candidates.map((i) => i.id), ['b']);
    const plain = decideRoute(e, get, Math.random);
    assert.equal(plain.route!.id, 'default');
    assert.deepEqual(plain.candidates.map((i) => i.id), ['a']);
  });

  test('a matching rule whose subset has no instance gives no candidates (no silent fallback)', () => {
    const e = cart(state({ instances, routes: [rule('r', { route: [{ tags: { version: '9.9.9' }, weight: 100 }] })] }));
    const d = decideRoute(e, get, Math.random);
    assert.equal(d.route!.id, 'r');
    assert.deepEqual(d.candidates, []);
  });

  test('a 90/10 split over 10,000 draws lands within 1 point', () => {
    const e = cart(
      state({
        instances,
        routes: [rule('split', { route: [{ tags: { version: '1.0.0' }, weight: 90 }, { tags: { version: '2.0.0' }, weight: 10 }] })],
      }),
    );
    const random = seededRandom(42);
    let v2 = 0;
    for (let i = 0; i < 10_000; i++) if (decideRoute(e, get, random).target!.tags.version === '2.0.0') v2++;
    assert.ok(Math.abs(v2 / 100 - 10) <= 1, `v2 share ${v2 / 100}%`);
  });
});

describe('pickTarget', () => {
  const e = cart(
    state({
      instances: [inst('a'), inst('b', { version: '2.0.0' })],
      routes: [rule('r', { route: [{ tags: { version: '1.0.0' }, weight: 0 }, { tags: { version: '2.0.0' }, weight: 100 }] })],
    }),
  );

  test('a subset with weight 0 is never picked, whatever the draw', () => {
    for (const x of [0, 0.25, 0.5, 0.999999999, 1]) assert.equal(pickTarget(e.routes[0], () => x)!.tags.version, '2.0.0');
  });

  test('draws map onto cumulative weights', () => {
    const r = cart(
      state({ routes: [rule('r', { route: [{ tags: { v: 'a' }, weight: 30 }, { tags: { v: 'b' }, weight: 70 }] })] }),
    ).routes[0];
    assert.equal(pickTarget(r, () => 0)!.tags.v, 'a');
    assert.equal(pickTarget(r, () => 0.2999)!.tags.v, 'a');
    assert.equal(pickTarget(r, () => 0.3)!.tags.v, 'b');
    assert.equal(pickTarget(r, () => 1)!.tags.v, 'b', 'a source that returns 1 still picks a subset');
  });
});
