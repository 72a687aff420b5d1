import type { MeshConfig } from './model';

export type ConfigObjectKind = 'service' | 'instance' | 'route' | 'policy';

export interface ConfigChange {
  op: 'add' | 'remove' | 'change';
  kind: ConfigObjectKind;
  /** service name, `service/instanceId`, route id, or the policy's service. */
  key: string;
  before?: unknown;
  after?: unknown;
}

function objects(c: MeshConfig): Map<string, { kind: ConfigObjectKind; key: string; value: unknown }> {
  const out = new Map<string, { kind: ConfigObjectKind; key: string; value: unknown }>();
  for (const s of c.services) {
    out.set(`service:${s.name}`, { kind: 'service', key: s.name, value: { name: s.name, app: s.app ?? null, description: s.description ?? null } });
    for (const i of s.instances) out.set(`instance:${s.name}/${i.id}`, { kind: 'instance', key: `${s.name}/${i.id}`, value: i });
  }
  for (const r of c.routes) out.set(`route:${r.id}`, { kind: 'route', key: r.id, value: r });
  for (const [svc, p] of Object.entries(c.policies)) out.set(`policy:${svc}`, { kind: 'policy', key: svc, value: p });
  return out;
}

/** Key order does not matter: JSON with sorted keys. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

/** Object-level diff from `a` to `b`, in a stable order. */
export function diffConfig(a: MeshConfig, b: MeshConfig): ConfigChange[] {
  const x = objects(a);
  const y = objects(b);
  const changes: ConfigChange[] = [];
  for (const [k, o] of x) {
    const n = y.get(k);
    if (!n) changes.push({ op: 'remove', kind: o.kind, key: o.key, before: o.value });
    else if (canonical(o.value) !== canonical(n.value)) changes.push({ op: 'change', kind: o.kind, key: o.key, before: o.value, after: n.value });
  }
  for (const [k, n] of y) if (!x.has(k)) changes.push({ op: 'add', kind: n.kind, key: n.key, after: n.value });
  const order: Record<ConfigObjectKind, number> = { service: 0, instance: 1, route: 2, policy: 3 };
  return changes.sort((p, q) => order[p.kind] - order[q.kind] || (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
}
