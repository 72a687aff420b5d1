import {
  AdminError,
  type EgressRuleRecord,
  type IngressRuleRecord,
  type InstanceRecord,
  type PolicyRecord,
  type PolicySpec,
  type RegistryState,
  type RouteRuleRecord,
  type ServiceRecord,
  type ServiceSource,
} from '@mesher/contracts';
import { toEgress, toIngress, toInstance, toPolicy, toRoute, toService } from './row-mappers';

export { toEgress, toIngress, toInstance, toPolicy, toRoute, toService };

/**
 * The registry as etcd keys (relative to the store's prefix), one JSON value per key:
 *   services/<name>  instances/<service>/<id>  routes/<id>  policies/<service>  ingress/<id>  egress/<id>
 *   revisions/<000000000042>  meta/revision-counter  meta/seq (bumped by every write: the optimistic lock)
 */
export interface ServiceValue extends ServiceRecord {
  createdAt: number;
}
export interface InstanceValue extends InstanceRecord {
  createdAt: number;
}
export interface RouteValue extends RouteRuleRecord {
  createdAt: number;
}
export interface PolicyValue extends PolicyRecord {
  updatedAt: number;
}
export type EdgeKind = 'ingress' | 'egress';
export type IngressValue = IngressRuleRecord & { createdAt: number };
export type EgressValue = EgressRuleRecord & { createdAt: number };
export type EdgeValue = IngressValue | EgressValue;

/** One key as last read: its value, etcd mod revision (0 when it came from the cache) and lease ('0' = none). */
export interface Entry {
  value: unknown;
  mod: number;
  lease: string;
}

// '/' separates key segments, so it (and the escape character) are escaped inside names and ids.
const seg = (s: string) => s.replace(/%/g, '%25').replace(/\//g, '%2F');

export const KEY = {
  service: (name: string) => `services/${seg(name)}`,
  instance: (service: string, id: string) => `instances/${seg(service)}/${seg(id)}`,
  route: (id: string) => `routes/${seg(id)}`,
  policy: (service: string) => `policies/${seg(service)}`,
  edge: (kind: EdgeKind, id: string) => `${kind}/${seg(id)}`,
  revision: (n: number) => `revisions/${String(n).padStart(12, '0')}`,
  revisionCounter: 'meta/revision-counter',
  seq: 'meta/seq',
} as const;

/** Key groups kept in memory and watched; revisions are read on demand (each holds a whole config). */
export const STATE_GROUPS = ['egress/', 'ingress/', 'instances/', 'meta/', 'policies/', 'routes/', 'services/'] as const;

/** Sidecar self-registrations and heartbeats are not configuration: they get no revision. */
export const isAutomatic = (actor: string) => actor.startsWith('sidecar:');

/** Instances whose liveness is an etcd lease: etcd deletes them when the sidecar stops heart-beating. */
export const isLeased = (i: Pick<InstanceRecord, 'registeredBy' | 'ttl'>) => isAutomatic(i.registeredBy) && i.ttl > 0;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => typeof v === 'string';
const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/** A value someone wrote into etcd by hand may be anything: only well-formed ones reach the snapshot. */
export function isWellFormed(key: string, v: unknown): boolean {
  if (key === KEY.revisionCounter) return num(v);
  if (key.startsWith('meta/')) return true;
  if (!isObj(v)) return false;
  if (key.startsWith('services/')) return str(v.name);
  if (key.startsWith('instances/')) {
    return str(v.id) && str(v.service) && str(v.endpoint) && str(v.version) && isObj(v.labels) && num(v.weight) && str(v.status) && str(v.registeredBy) && num(v.lastHeartbeat) && num(v.ttl);
  }
  if (key.startsWith('routes/')) return str(v.id) && str(v.service) && num(v.precedence) && Array.isArray(v.route);
  if (key.startsWith('policies/')) return str(v.service) && isObj(v.spec);
  if (key.startsWith('ingress/')) return str(v.id) && str(v.service);
  if (key.startsWith('egress/')) return str(v.id) && str(v.host) && Array.isArray(v.ports);
  return false;
}

export const toEdge = (kind: EdgeKind, v: EdgeValue): IngressRuleRecord | EgressRuleRecord =>
  kind === 'ingress' ? toIngress(v as IngressValue) : toEgress(v as EgressValue);


/** A leased instance's liveness is its lease: the data plane must not expire it by its own clock (see `state`). */
const dataPlaneInstance = (v: InstanceValue): InstanceRecord => {
  const r = toInstance(v);
  return isLeased(r) ? { ...r, ttl: 0 } : r;
};

const byCreated = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A typed, read-only view over the registry's keys at one etcd revision. */
export class RegistryModel {
  constructor(readonly entries: Map<string, Entry> = new Map()) {}

  private values<T>(group: string): T[] {
    const out: T[] = [];
    for (const [k, e] of this.entries) if (k.startsWith(group)) out.push(e.value as T);
    return out;
  }

  private value<T>(key: string): T | undefined {
    return this.entries.get(key)?.value as T | undefined;
  }

  services(): ServiceValue[] {
    return this.values<ServiceValue>('services/').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  service(name: string): ServiceValue | undefined {
    return this.value<ServiceValue>(KEY.service(name));
  }

  instances(service?: string): InstanceValue[] {
    const all = this.values<InstanceValue>('instances/');
    return (service === undefined ? all : all.filter((i) => i.service === service)).sort(byCreated);
  }

  instance(service: string, id: string): InstanceValue | undefined {
    return this.value<InstanceValue>(KEY.instance(service, id));
  }

  /** Instance ids are unique across services, as in SQLite. */
  instanceById(id: string): InstanceValue | undefined {
    return this.values<InstanceValue>('instances/').find((i) => i.id === id);
  }

  routes(service?: string): RouteValue[] {
    const all = this.values<RouteValue>('routes/');
    return (service === undefined ? all : all.filter((r) => r.service === service)).sort(
      (a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) || b.precedence - a.precedence || byCreated(a, b),
    );
  }

  route(id: string): RouteValue | undefined {
    return this.value<RouteValue>(KEY.route(id));
  }

  policies(): PolicyValue[] {
    return this.values<PolicyValue>('policies/').sort((a, b) => (a.service < b.service ? -1 : 1));
  }

  policy(service: string): PolicyValue | undefined {
    return this.value<PolicyValue>(KEY.policy(service));
  }

  edgeRules(kind: EdgeKind): EdgeValue[] {
    return this.values<EdgeValue>(`${kind}/`).sort(byCreated);
  }

  edgeRule(kind: EdgeKind, id: string): EdgeValue | undefined {
    return this.value<EdgeValue>(KEY.edge(kind, id));
  }

  revisionCounter(): number {
    return this.value<number>(KEY.revisionCounter) ?? 0;
  }

  /**
   * The registry as records. For the data plane (`dataPlane`), a leased instance is given ttl 0: etcd removes it
   * when its lease runs out, so the data plane must not expire it by its own clock as well (clocks differ between
   * hosts, and during an etcd outage no heartbeat can be recorded: the last known state must keep routing).
   */
  state(dataPlane = false): Omit<RegistryState, 'revision'> {
    return {
      services: this.services().map(toService),
      instances: this.instances().map((v) => (dataPlane ? dataPlaneInstance(v) : toInstance(v))),
      routes: this.routes().map(toRoute),
      policies: this.policies().map(toPolicy),
      ingress: this.edgeRules('ingress').map((v) => toIngress(v as IngressValue)),
      egress: this.edgeRules('egress').map((v) => toEgress(v as EgressValue)),
    };
  }

  /** One service as the data plane sees it (like `state(true)`), for incremental updates; null when it is gone. */
  source(name: string): ServiceSource | null {
    const svc = this.service(name);
    if (!svc) return null;
    const policy = this.policy(name);
    return { record: toService(svc), instances: this.instances(name).map(dataPlaneInstance), routes: this.routes(name).map(toRoute), policy: policy ? toPolicy(policy).spec : null };
  }

  requireService(name: string, field?: string): ServiceValue {
    const s = this.service(name);
    if (!s) {
      // As a referenced field (a rule's destination) this is a 422; as a path segment, a 404.
      if (field) throw new AdminError('INVALID', `no service named '${name}'`, [{ field, message: `${field} '${name}' is not a registered service` }]);
      throw new AdminError('NOT_FOUND', `no service named '${name}'`);
    }
    return s;
  }

  requireInstance(service: string, id: string): InstanceValue {
    this.requireService(service);
    const i = this.instance(service, id);
    if (!i) throw new AdminError('NOT_FOUND', `service '${service}' has no instance with id '${id}'`);
    return i;
  }
}

/** A copy of a model that a write changes; `touched` lists the keys to put or delete. */
export class Draft extends RegistryModel {
  readonly touched = new Set<string>();

  constructor(readonly base: RegistryModel) {
    super(new Map(base.entries));
  }

  put(key: string, value: unknown, lease = '0'): void {
    this.entries.set(key, { value, mod: this.base.entries.get(key)?.mod ?? 0, lease });
    this.touched.add(key);
  }

  del(key: string): void {
    if (this.entries.delete(key)) this.touched.add(key);
  }

  /** Keys whose value or lease really changed: unchanged re-puts cost nothing (etcd caps operations per txn). */
  changes(): Array<{ key: string; entry: Entry | undefined; before: Entry | undefined }> {
    const out: Array<{ key: string; entry: Entry | undefined; before: Entry | undefined }> = [];
    for (const key of this.touched) {
      const entry = this.entries.get(key);
      const before = this.base.entries.get(key);
      if (!entry && !before) continue;
      if (entry && before && entry.lease === before.lease && JSON.stringify(entry.value) === JSON.stringify(before.value)) continue;
      out.push({ key, entry, before });
    }
    return out;
  }
}
