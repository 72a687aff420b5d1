import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffConfig } from './config-diff';
import { instanceRecord } from './fixtures';
import { configOf, type RegistryState } from './model';
import { applyConfigDeltas, configSliceOf, configSlices, sourcesOf, type ConfigDelta } from './registry-change';


function state(): RegistryState {
  return {
    revision: 1,
    services: ['b', 'a', 'c'].map((name) => ({ name, app: null, description: null })),
    instances: [instanceRecord('a', 'a2'), instanceRecord('a', 'a1'), instanceRecord('b', 'b1'), instanceRecord('b', 'side', { registeredBy: 'sidecar:n1' }), instanceRecord('ghost', 'g1')],
    routes: [
      { id: 'r2', service: 'a', precedence: 1, match: null, route: [{ tags: {}, weight: 1 }], policy: null },
      { id: 'r1', service: 'b', precedence: 0, match: { pathPrefix: '/x' }, route: [{ tags: { version: '1.0.0' }, weight: 1 }], policy: null },
    ],
    policies: [{ service: 'c', spec: { timeout: { requestMs: 5 } } }],
  };
}

/** The delta a store would write after changing the named services of `from` into `to`. */
const deltaOf = (to: RegistryState, names: string[]): ConfigDelta => {
  const src = sourcesOf(to);
  return { services: Object.fromEntries(names.map((n) => [n, configSliceOf(n, src.get(n) ?? null)])) };
};

describe('registry change helpers', () => {
  test('sourcesOf groups by service, keeps state order and drops rows of unknown services', () => {
    const s = sourcesOf(state());
    assert.deepEqual([...s.keys()], ['b', 'a', 'c']);
    assert.deepEqual(s.get('a')!.instances.map((i) => i.id), ['a2', 'a1']);
    assert.deepEqual(s.get('b')!.routes.map((r) => r.id), ['r1']);
    assert.deepEqual(s.get('c')!.policy, { timeout: { requestMs: 5 } });
    assert.equal(s.has('ghost'), false);
  });

  test('configSlices and configSliceOf cut a config the same way; sidecar instances are not config', () => {
    const st = state();
    const slices = configSlices(configOf(st));
    const src = sourcesOf(st);
    for (const name of ['a', 'b', 'c']) assert.deepEqual(configSliceOf(name, src.get(name)!), slices.get(name), name);
    assert.deepEqual(slices.get('b')!.service!.instances.map((i) => i.id), ['b1']);
    assert.deepEqual(configSliceOf('gone', null), { service: null, routes: [], policy: null });
  });

  test('applying the deltas of successive writes gives configOf of the final state', () => {
    const s0 = state();
    let cfg = configOf(s0);
    const s1 = structuredClone(s0);
    s1.instances.push(instanceRecord('c', 'c1', { labels: { zone: 'z' } }));
    s1.policies = [];
    const s2 = structuredClone(s1);
    s2.routes[1] = { ...s2.routes[1], service: 'a' }; // a rule moves from b to a
    s2.services = s2.services.filter((x) => x.name !== 'b');
    s2.instances = s2.instances.filter((i) => i.service !== 'b');
    s2.services.push({ name: 'd', app: 'shop', description: 'new' });
    const deltas = [deltaOf(s1, ['c']), deltaOf(s2, ['a', 'b', 'd'])];
    cfg = applyConfigDeltas(cfg, deltas);
    assert.deepEqual(cfg, configOf(s2));
    assert.deepEqual(diffConfig(configOf(s0), cfg).map((c) => `${c.op} ${c.kind} ${c.key}`), [
      'remove service b',
      'add service d',
      'remove instance b/b1',
      'add instance c/c1',
      'change route r1',
      'remove policy c',
    ]);
    assert.deepEqual(applyConfigDeltas(configOf(s0), []), configOf(s0), 'no deltas, no change');
  });
});
