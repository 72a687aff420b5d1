import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceRecord, sourcesOf, type InstanceRecord, type RegistryState } from '@mesher/contracts';
import { buildSnapshot, updateSnapshot } from '@mesher/registry';
import { RuntimeTable, type ServiceRuntime } from './service-runtime';

const NOW = 1_000;

const inst = (service: string, id: string): InstanceRecord => instanceRecord(service, id, { lastHeartbeat: NOW });

function state(n: number): RegistryState {
  const names = Array.from({ length: n }, (_, i) => `svc-${i}`);
  return {
    revision: 1,
    services: names.map((name) => ({ name, app: null, description: null })),
    instances: names.flatMap((s) => [inst(s, `${s}-a`), inst(s, `${s}-b`)]),
    routes: [],
    policies: names.map((service) => ({ service, spec: { loadBalancer: { strategy: 'RoundRobin' as const } } })),
  };
}

/** Counts update() calls per runtime: the table must skip entries it has already seen. */
function countUpdates(table: RuntimeTable): Map<string, number> {
  const calls = new Map<string, number>();
  for (const [name, rt] of table.entries()) {
    const orig = rt.update.bind(rt);
    (rt as ServiceRuntime).update = (entry, now) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      orig(entry, now);
    };
  }
  return calls;
}

describe('RuntimeTable.sync', () => {
  test('updates only the services whose entry changed; keeps the others as they were', () => {
    const s0 = state(50);
    const snap = buildSnapshot(s0, NOW);
    const table = new RuntimeTable();
    try {
      table.sync(snap, NOW);
      const before = new Map([...table.entries()]);
      const calls = countUpdates(table);
      const src = sourcesOf(s0).get('svc-7')!;
      const next = updateSnapshot(snap, { revision: 2, services: new Map([['svc-7', { ...src, policy: { loadBalancer: { strategy: 'Random' } } }]]) }, NOW);
      table.sync(next, NOW);
      assert.deepEqual([...calls.entries()], [['svc-7', 1]]);
      assert.equal(table.get('svc-7')!.policy.loadBalancer?.strategy, 'Random');
      for (const [name, rt] of before) assert.equal(table.get(name), rt, `${name} keeps its runtime`);
    } finally {
      table.close();
    }
  });

  test('a new service gets a runtime, a removed one loses it, a full rebuild updates all', () => {
    const s0 = state(3);
    const snap = buildSnapshot(s0, NOW);
    const table = new RuntimeTable();
    try {
      table.sync(snap, NOW);
      const added = { record: { name: 'extra', app: null, description: null }, instances: [inst('extra', 'x')], routes: [], policy: null };
      table.sync(updateSnapshot(snap, { revision: 2, services: new Map([['extra', added], ['svc-0', null]]) }, NOW), NOW);
      assert.equal(table.get('svc-0'), undefined);
      assert.equal(table.get('extra')!.name, 'extra');
      const calls = countUpdates(table);
      table.sync(buildSnapshot(s0, NOW), NOW);
      assert.deepEqual([...calls.keys()].sort(), ['svc-1', 'svc-2']);
      assert.equal(table.get('extra'), undefined);
      assert.ok(table.get('svc-0'));
    } finally {
      table.close();
    }
  });
});
