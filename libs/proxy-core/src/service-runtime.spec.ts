import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceRecord, type InstanceRecord, type RegistryState } from '@mesher/contracts';
import { RandomBalancer, RoundRobinBalancer } from '@mesher/policies';
import { buildSnapshot, decideRoute } from '@mesher/registry';
import { ServiceRuntime } from './service-runtime';

const NOW = 1_000;

const inst = (id: string, version: string): InstanceRecord => instanceRecord('shop', id, { version, lastHeartbeat: NOW });

function state(routePolicy: RegistryState['routes'][number]['policy'] = null): RegistryState {
  return {
    revision: 1,
    services: [{ name: 'shop', app: null, description: null }],
    instances: [inst('a1', '1'), inst('a2', '1'), inst('b', '2')],
    routes: [
      {
        id: 'split',
        service: 'shop',
        precedence: 0,
        match: null,
        route: [
          { tags: { version: '1' }, weight: 50 },
          { tags: { version: '2' }, weight: 50 },
        ],
        policy: routePolicy,
      },
    ],
    policies: [],
  };
}

describe('ServiceRuntime.balancerFor', () => {
  test('without a subset the service balancer is used; each subset has its own', () => {
    const entry = buildSnapshot(state(), NOW).services.get('shop')!;
    const rt = new ServiceRuntime('shop', entry, NOW);
    const [v1, v2] = entry.routes[0].targets;
    assert.equal(rt.balancerFor(null, rt.policy.loadBalancer), rt.balancer);
    const b1 = rt.balancerFor(v1, rt.policy.loadBalancer);
    assert.notEqual(b1, rt.balancer);
    assert.notEqual(rt.balancerFor(v2, rt.policy.loadBalancer), b1);
    assert.equal(rt.balancerFor(v1, rt.policy.loadBalancer), b1, 'the same subset keeps its balancer');
  });

  test('a subset keeps its balancer (and round-robin position) across snapshots', () => {
    const entry = buildSnapshot(state(), NOW).services.get('shop')!;
    const rt = new ServiceRuntime('shop', entry, NOW);
    const before = rt.balancerFor(entry.routes[0].targets[0], rt.policy.loadBalancer);
    const next = buildSnapshot({ ...state(), revision: 2 }, NOW + 1).services.get('shop')!;
    rt.update(next, NOW + 1);
    assert.equal(rt.balancerFor(next.routes[0].targets[0], rt.policy.loadBalancer), before);
  });

  test("round robin inside a subset stays even when picks for another subset come in between", () => {
    const entry = buildSnapshot(state(), NOW).services.get('shop')!;
    const rt = new ServiceRuntime('shop', entry, NOW);
    const counts: Record<string, number> = {};
    let flip = 0;
    // Alternate the subsets exactly: a shared round-robin position would send every v1 pick to a2.
    const random = () => (flip++ % 2 === 0 ? 0.1 : 0.9);
    for (let i = 0; i < 1_000; i++) {
      const d = decideRoute(entry, { source: null, method: 'GET', path: '/', headers: {} }, random);
      const picked = rt.balancerFor(d.target, rt.policy.loadBalancer).pick(d.candidates, { now: NOW, random: Math.random })!;
      counts[picked.id] = (counts[picked.id] ?? 0) + 1;
    }
    assert.deepEqual(counts, { a1: 250, a2: 250, b: 500 });
  });

  test("a rule's loadBalancer override is honoured for its subsets", () => {
    const entry = buildSnapshot(state({ loadBalancer: { strategy: 'Random' } }), NOW).services.get('shop')!;
    const rt = new ServiceRuntime('shop', entry, NOW);
    const policy = rt.policyFor(entry.routes[0]);
    assert.equal(policy.loadBalancer?.strategy, 'Random');
    assert.ok(rt.balancerFor(entry.routes[0].targets[0], policy.loadBalancer) instanceof RandomBalancer);
    assert.ok(rt.balancer instanceof RoundRobinBalancer, 'the service default stays round robin');
  });

  test('the same subset under another balancer spec gets a balancer of that spec', () => {
    const entry = buildSnapshot(state(), NOW).services.get('shop')!;
    const rt = new ServiceRuntime('shop', entry, NOW);
    const v1 = entry.routes[0].targets[0];
    const rr = rt.balancerFor(v1, { strategy: 'RoundRobin' });
    const random = rt.balancerFor(v1, { strategy: 'Random' });
    assert.ok(rr instanceof RoundRobinBalancer);
    assert.ok(random instanceof RandomBalancer);
    assert.equal(rt.balancerFor(v1, { strategy: 'RoundRobin' }), rr, 'an equal spec finds the first balancer again');
  });
});
