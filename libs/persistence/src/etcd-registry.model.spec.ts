import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminError } from '@mesher/contracts';
import { Draft, type Entry, type InstanceValue, isWellFormed, KEY, RegistryModel } from './etcd-registry.model';

const inst = (id: string, over: Partial<InstanceValue> = {}): InstanceValue => ({
  id,
  service: 'cart',
  version: '1.0.0',
  endpoint: `http://127.0.0.1:${9000 + id.length}`,
  labels: {},
  weight: 100,
  status: 'UP',
  registeredBy: 'api',
  lastHeartbeat: 1000,
  ttl: 0,
  createdAt: 1,
  ...over,
});

function model(values: Array<[string, unknown, string?]>): RegistryModel {
  const m = new Map<string, Entry>();
  values.forEach(([k, v, lease], i) => m.set(k, { value: v, mod: i + 1, lease: lease ?? '0' }));
  return new RegistryModel(m);
}

describe('etcd registry model', () => {
  test('names and ids with slashes stay one key segment', () => {
    assert.equal(KEY.instance('cart', 'a/b%c'), 'instances/cart/a%2Fb%25c');
    assert.equal(KEY.route('x/y'), 'routes/x%2Fy');
    assert.equal(KEY.revision(42), 'revisions/000000000042');
    assert.notEqual(KEY.instance('a/b', 'c'), KEY.instance('a', 'b/c'));
  });

  test('only well-formed values are accepted from etcd', () => {
    assert.equal(isWellFormed(KEY.instance('cart', 'i1'), inst('i1')), true);
    assert.equal(isWellFormed(KEY.instance('cart', 'i1'), { ...inst('i1'), weight: 'heavy' }), false);
    assert.equal(isWellFormed(KEY.service('cart'), 'cart'), false);
    assert.equal(isWellFormed(KEY.route('r'), { id: 'r', service: 'cart', precedence: 1 }), false, 'a route needs its targets');
    assert.equal(isWellFormed(KEY.revisionCounter, 3), true);
    assert.equal(isWellFormed('unknown/x', {}), false);
  });

  test('the data-plane view gives leased (sidecar) instances ttl 0; the admin view keeps their ttl', () => {
    const m = model([
      [KEY.service('cart'), { name: 'cart', app: null, description: null, createdAt: 1 }],
      [KEY.instance('cart', 'side'), inst('side', { registeredBy: 'sidecar:cart@x', ttl: 15 }), '77'],
      [KEY.instance('cart', 'api'), inst('api', { ttl: 30 })],
    ]);
    const plane = m.state(true).instances;
    assert.equal(plane.find((i) => i.id === 'side')?.ttl, 0);
    assert.equal(plane.find((i) => i.id === 'api')?.ttl, 30, 'an API instance still expires by its heartbeat time');
    assert.equal(m.state().instances.find((i) => i.id === 'side')?.ttl, 15);
  });

  test('lists are ordered like the SQLite store: routes by service, precedence desc, then age', () => {
    const route = (id: string, service: string, precedence: number, createdAt: number) => ({ id, service, precedence, match: null, route: [], policy: null, createdAt });
    const m = model([
      [KEY.route('a'), route('a', 'cart', 1, 5)],
      [KEY.route('b'), route('b', 'cart', 9, 6)],
      [KEY.route('c'), route('c', 'cart', 1, 2)],
      [KEY.route('d'), route('d', 'api', 0, 9)],
    ]);
    assert.deepEqual(m.routes().map((r) => r.id), ['d', 'b', 'c', 'a']);
    assert.deepEqual(m.routes('cart').map((r) => r.id), ['b', 'c', 'a']);
  });

  test('a draft reports only real changes, with the entries they replace', () => {
    const svc = { name: 'cart', app: null, description: null, createdAt: 1 };
    const base = model([
      [KEY.service('cart'), svc],
      [KEY.instance('cart', 'i1'), inst('i1')],
      [KEY.instance('cart', 'i2'), inst('i2')],
    ]);
    const d = new Draft(base);
    d.put(KEY.service('cart'), { ...svc }); // same value: no write
    d.put(KEY.instance('cart', 'i1'), inst('i1', { weight: 5 }));
    d.del(KEY.instance('cart', 'i2'));
    d.put(KEY.route('r'), { id: 'r' });
    d.del(KEY.policy('nothing-there'));
    const changes = d.changes();
    assert.deepEqual(
      changes.map((c) => [c.key, c.entry ? 'put' : 'delete', c.before?.mod ?? 0]),
      [
        [KEY.instance('cart', 'i1'), 'put', 2],
        [KEY.instance('cart', 'i2'), 'delete', 3],
        [KEY.route('r'), 'put', 0],
      ],
    );
    assert.equal(base.instance('cart', 'i2')?.id, 'i2', 'the base is untouched');
    // A lease change alone is a change.
    const d2 = new Draft(base);
    d2.put(KEY.instance('cart', 'i1'), inst('i1'), '99');
    assert.equal(d2.changes().length, 1);
  });

  test('missing services and instances are the same domain errors as in SQLite', () => {
    const m = model([[KEY.service('cart'), { name: 'cart', app: null, description: null, createdAt: 1 }]]);
    assert.throws(() => m.requireService('nope'), (e: unknown) => e instanceof AdminError && e.code === 'NOT_FOUND');
    assert.throws(
      () => m.requireService('nope', 'service'),
      (e: unknown) => e instanceof AdminError && e.code === 'INVALID' && e.errors[0]?.field === 'service',
    );
    assert.throws(() => m.requireInstance('cart', 'x'), (e: unknown) => e instanceof AdminError && e.code === 'NOT_FOUND' && /no instance with id 'x'/.test(e.message));
  });
});
