import { randomUUID } from 'node:crypto';
import { Between, IsNull, LessThan, Not, type DataSource, type EntityManager, type EntityTarget } from 'typeorm';
import {
  AdminError,
  applyConfigDeltas,
  canonical,
  configOf,
  configSliceOf,
  configSlices,
  diffConfig,
  type ConfigDelta,
  type EgressRuleRecord,
  type IngressRuleRecord,
  type InstanceRecord,
  type MeshConfig,
  type PolicyRecord,
  type PolicySpec,
  type RegistryChanges,
  type RegistryState,
  type RouteRuleRecord,
  type ServiceConfigSlice,
  type ServiceRecord,
  type ServiceSource,
} from '@mesher/contracts';
import { EgressRuleEntity } from './entities/egress-rule.entity';
import { IngressRuleEntity } from './entities/ingress-rule.entity';
import { InstanceEntity } from './entities/instance.entity';
import { PolicyEntity } from './entities/policy.entity';
import { RevisionEntity } from './entities/revision.entity';
import { RouteRuleEntity } from './entities/route-rule.entity';
import { ServiceEntity } from './entities/service.entity';
import {
  faultKind,
  isWriteLocked,
  readOnlyFault,
  retryWhileLocked,
  type RetryTiming,
  storeFaultError,
  type StoreFaultKind,
  WRITE_RETRY,
  writeQueueOf,
} from './sqlite-faults';
import { instanceRowFor } from './instance-registration';
import { toEgress, toIngress, toInstance, toRoute, toService } from './row-mappers';
import type { EdgeRuleKind, EdgeRuleOf, InstancePatch, NewInstance, NewRouteRule, RegistryStore, RevisionRecord } from './registry-store';

const toRevision = (r: RevisionEntity): RevisionRecord => ({
  id: r.id,
  at: Number(r.at),
  actor: r.actor,
  summary: r.summary,
  diff: r.diff,
  config: r.config ?? null,
});

const EMPTY_CONFIG: MeshConfig = { services: [], routes: [], policies: {} };
const flatInstances = (c: MeshConfig): InstanceRecord[] =>
  c.services.flatMap((s) => s.instances.map((i) => ({ ...i, service: s.name, registeredBy: 'api', lastHeartbeat: 0 })));
const policyList = (c: MeshConfig) => Object.entries(c.policies).map(([service, spec]) => ({ service, spec }));

/** The two edge rule tables, handled alike: rows with an id and a creation time. */
interface EdgeRow {
  id: string;
  createdAt: number;
}
interface EdgeTable {
  entity: EntityTarget<EdgeRow>;
  toRecord(row: EdgeRow): IngressRuleRecord | EgressRuleRecord;
}
const EDGE: Record<EdgeRuleKind, EdgeTable> = {
  ingress: { entity: IngressRuleEntity, toRecord: (row) => toIngress(row as IngressRuleEntity) },
  egress: { entity: EgressRuleEntity, toRecord: (row) => toEgress(row as EgressRuleEntity) },
};

/** Sidecar self-registrations and heartbeats are not configuration: they get no revision. */
const isAutomatic = (actor: string) => actor.startsWith('sidecar:');

/** What a write touched, for the change log: services to re-read, or the edge rules. */
interface Touched {
  services?: string[];
  edge?: boolean;
}

/**
 * The change log only has to bridge readers' polls (every 250 ms): older rows are pruned now and then;
 * a reader that fell further behind sees the gap and reads everything.
 */
const CHANGE_LOG_RETENTION_MS = 60_000;
const PRUNE_EVERY = 256;

interface ChangeRow {
  seq: number;
  /** 'all': the tables were rewritten wholesale (the etcd store's cache, registry-cache.ts). */
  kind: 'service' | 'heartbeat' | 'edge' | 'all';
  service: string | null;
  instance: string | null;
  beat: number | null;
}

export class SqliteRegistryStore implements RegistryStore {
  readonly kind = 'sqlite' as const;

  /** The file itself refused the last write (locked past the deadline, read-only, full): readiness reports it. */
  private fault: { kind: StoreFaultKind; message: string } | null;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: () => number = Date.now,
    private readonly retry: RetryTiming = WRITE_RETRY,
  ) {
    this.fault = readOnlyFault(this.file);
  }

  private get file(): string {
    return String(this.ds.options.database);
  }

  /** One write transaction: queued behind this connection's others, retried on timers while another process holds the lock. */
  private transact<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.guarded(() => this.ds.transaction(fn));
  }

  /** Maps a store fault to a 503/507 AdminError and remembers it until a write succeeds. */
  private async guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await retryWhileLocked(() => writeQueueOf(this.ds).run(fn), this.retry);
      this.fault = null;
      return result;
    } catch (e) {
      const err = storeFaultError(e, this.file, this.retry);
      if (!err) throw e;
      this.fault = { kind: faultKind(e)!, message: err.message };
      throw err;
    }
  }

  private async write<T>(
    actor: string,
    summary: string,
    fn: (m: EntityManager) => Promise<{ result: T; diff?: unknown; touched: Touched }>,
  ): Promise<T> {
    return this.transact(async (m) => {
      const { result, diff, touched } = await fn(m);
      await this.logChange(m, touched);
      if (!isAutomatic(actor)) await this.recordRevision(m, actor, summary, diff ?? null, touched);
      return result;
    });
  }

  /** Appends to the change log in the write's own transaction, so a reader never sees one without the other. */
  private async logChange(m: EntityManager, t: Touched, beat?: { service: string; id: string; at: number }): Promise<void> {
    const at = this.clock();
    const add = (kind: ChangeRow['kind'], service: string | null = null, instance: string | null = null, value: number | null = null) =>
      m.query(`INSERT INTO "registry_change" ("at", "kind", "service", "instance", "beat") VALUES (?, ?, ?, ?, ?)`, [at, kind, service, instance, value]);
    for (const name of new Set(t.services ?? [])) await add('service', name);
    if (t.edge) await add('edge');
    if (beat) await add('heartbeat', beat.service, beat.id, beat.at);
    const [{ seq }] = (await m.query(`SELECT last_insert_rowid() AS seq`)) as Array<{ seq: number }>;
    if (seq % PRUNE_EVERY === 0) await m.query(`DELETE FROM "registry_change" WHERE "at" < ?`, [at - CHANGE_LOG_RETENTION_MS]);
  }

  /**
   * A revision stores the touched services as they are after it, not the whole configuration: that would
   * read and serialize every row on every write. A full config is kept where a chain starts (no chain
   * before it, or a whole-config write that has it at hand anyway).
   */
  private async recordRevision(m: EntityManager, actor: string, summary: string, diff: unknown, touched: Touched, full?: MeshConfig): Promise<number> {
    let config: MeshConfig | null = full ?? null;
    let changes: ConfigDelta | null = null;
    if (!config) {
      const prev = (await m.query(`SELECT ("config" IS NOT NULL OR "changes" IS NOT NULL) AS chained FROM "revision" ORDER BY "id" DESC LIMIT 1`)) as Array<{ chained: number }>;
      if (prev[0]?.chained) {
        changes = { services: {} };
        for (const name of new Set(touched.services ?? [])) changes.services[name] = configSliceOf(name, await this.sourceIn(m, name));
      } else {
        config = configOf(await this.stateIn(m));
      }
    }
    // Plain SQL: TypeORM's save deep-merges a JSON column's value, which costs as much as the config is large.
    const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
    await m.query(`INSERT INTO "revision" ("at", "actor", "summary", "diff", "config", "changes") VALUES (?, ?, ?, ?, ?, ?)`, [
      this.clock(),
      actor,
      summary,
      json(diff),
      json(config),
      json(changes),
    ]);
    const [{ id }] = (await m.query(`SELECT last_insert_rowid() AS id`)) as Array<{ id: number }>;
    return Number(id);
  }

  /** One service and what hangs off it, read by its indexed service column (null: no such service). */
  private async sourceIn(m: EntityManager, name: string): Promise<ServiceSource | null> {
    const svc = await m.findOneBy(ServiceEntity, { name });
    if (!svc) return null;
    const [instances, routes, policy] = await Promise.all([
      m.findBy(InstanceEntity, { service: name }),
      m.findBy(RouteRuleEntity, { service: name }),
      m.findOneBy(PolicyEntity, { service: name }),
    ]);
    return { record: toService(svc), instances: instances.map(toInstance), routes: routes.map(toRoute), policy: policy?.spec ?? null };
  }

  private async stateIn(m: EntityManager): Promise<Omit<RegistryState, 'revision'>> {
    const [services, instances, routes, policies, ingress, egress] = await Promise.all([
      m.find(ServiceEntity),
      m.find(InstanceEntity),
      m.find(RouteRuleEntity),
      m.find(PolicyEntity),
      m.find(IngressRuleEntity),
      m.find(EgressRuleEntity),
    ]);
    return {
      services: services.map(toService),
      instances: instances.map(toInstance),
      routes: routes.map(toRoute),
      policies: policies.map((p) => ({ service: p.service, spec: p.spec })),
      ingress: ingress.map((e) => EDGE.ingress.toRecord(e) as IngressRuleRecord),
      egress: egress.map((e) => EDGE.egress.toRecord(e) as EgressRuleRecord),
    };
  }

  async loadState(): Promise<RegistryState> {
    const [state, rev] = await Promise.all([
      this.stateIn(this.ds.manager),
      this.ds.query(`SELECT COALESCE(MAX(id), 0) AS r FROM "revision"`) as Promise<Array<{ r: number }>>,
    ]);
    return { revision: Number(rev[0]?.r ?? 0), ...state };
  }

  async changeSeq(): Promise<number> {
    const rows = (await this.ds.query(`SELECT COALESCE(MAX("seq"), 0) AS seq FROM "registry_change"`)) as Array<{ seq: number }>;
    return Number(rows[0]?.seq ?? 0);
  }

  async changesSince(seq: number): Promise<RegistryChanges | null> {
    const rows = (await this.ds.query(`SELECT "seq", "kind", "service", "instance", "beat" FROM "registry_change" WHERE "seq" > ? ORDER BY "seq"`, [
      seq,
    ])) as ChangeRow[];
    // Pruned past this reader, or the tables rewritten wholesale: read everything.
    if ((rows.length > 0 && rows[0].seq !== seq + 1) || rows.some((r) => r.kind === 'all')) return null;
    const touched = new Set<string>();
    const beats = new Map<string, { service: string; id: string; lastHeartbeat: number }>();
    let edge = false;
    for (const r of rows) {
      if (r.kind === 'service') touched.add(r.service!);
      else if (r.kind === 'edge') edge = true;
      else if (r.kind === 'heartbeat') beats.set(r.instance!, { service: r.service!, id: r.instance!, lastHeartbeat: Number(r.beat) });
    }
    const m = this.ds.manager;
    const services = new Map<string, ServiceSource | null>();
    for (const name of touched) services.set(name, await this.sourceIn(m, name));
    const rev = (await this.ds.query(`SELECT COALESCE(MAX(id), 0) AS r FROM "revision"`)) as Array<{ r: number }>;
    const out: RegistryChanges = {
      seq: rows.length ? rows[rows.length - 1].seq : seq,
      revision: Number(rev[0]?.r ?? 0),
      services,
      // A re-read service already carries its instances' heartbeats.
      heartbeats: [...beats.values()].filter((b) => !touched.has(b.service)),
    };
    if (edge) {
      out.ingress = await this.listEdgeRules('ingress');
      out.egress = await this.listEdgeRules('egress');
    }
    return out;
  }

  async changeToken(): Promise<number> {
    const rows = (await this.ds.query('PRAGMA data_version')) as Array<{ data_version: number }>;
    return Number(rows[0]?.data_version ?? 0);
  }

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
    // A lock is over once nobody holds it; read-only and full last until a write succeeds.
    if (this.fault?.kind === 'locked' && !isWriteLocked(this.file)) this.fault = null;
    if (this.fault) throw new Error(this.fault.message);
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }

  // services

  async listServices(): Promise<ServiceRecord[]> {
    return (await this.ds.getRepository(ServiceEntity).find({ order: { name: 'ASC' } })).map(toService);
  }

  async getService(name: string): Promise<ServiceRecord | null> {
    const e = await this.ds.getRepository(ServiceEntity).findOneBy({ name });
    return e ? toService(e) : null;
  }

  createService(rec: ServiceRecord, actor: string): Promise<ServiceRecord> {
    return this.write(actor, `create service ${rec.name}`, async (m) => {
      if (await m.findOneBy(ServiceEntity, { name: rec.name })) {
        throw new AdminError('CONFLICT', `service '${rec.name}' already exists`, [{ field: 'name', message: `name '${rec.name}' is taken` }]);
      }
      await m.insert(ServiceEntity, { ...rec, createdAt: this.clock() });
      return { result: rec, diff: { created: { service: rec } }, touched: { services: [rec.name] } };
    });
  }

  deleteService(name: string, actor: string): Promise<void> {
    return this.write(actor, `delete service ${name}`, async (m) => {
      const e = await m.findOneBy(ServiceEntity, { name });
      if (!e) throw new AdminError('NOT_FOUND', `no service named '${name}'`);
      await m.delete(InstanceEntity, { service: name });
      await m.delete(RouteRuleEntity, { service: name });
      await m.delete(PolicyEntity, { service: name });
      await m.delete(ServiceEntity, { name });
      return { result: undefined, diff: { deleted: { service: toService(e) } }, touched: { services: [name] } };
    });
  }

  // instances

  async listInstances(service: string): Promise<InstanceRecord[]> {
    await this.requireService(this.ds.manager, service);
    return (await this.ds.getRepository(InstanceEntity).find({ where: { service }, order: { createdAt: 'ASC', id: 'ASC' } })).map(toInstance);
  }

  async getInstance(service: string, id: string): Promise<InstanceRecord | null> {
    const e = await this.ds.getRepository(InstanceEntity).findOneBy({ service, id });
    return e ? toInstance(e) : null;
  }

  registerInstance(service: string, input: NewInstance, actor: string): Promise<InstanceRecord> {
    return this.write(actor, `register instance of ${service} at ${input.endpoint}`, async (m) => {
      if (!(await m.findOneBy(ServiceEntity, { name: service }))) {
        await m.insert(ServiceEntity, { name: service, app: null, description: null, createdAt: this.clock() });
      }
      const id = input.id ?? randomUUID();
      const existing = await m.findOneBy(InstanceEntity, { id });
      const sameEndpoint = await m.findOneBy(InstanceEntity, { service, endpoint: input.endpoint });
      const row: InstanceEntity = instanceRowFor(service, id, input, actor, this.clock(), existing, sameEndpoint);
      await m.save(InstanceEntity, row);
      const rec = toInstance(row);
      return { result: rec, diff: { created: { instance: rec } }, touched: { services: [service] } };
    });
  }

  updateInstance(service: string, id: string, patch: InstancePatch, actor: string): Promise<InstanceRecord> {
    return this.write(actor, `update instance ${id} of ${service}`, async (m) => {
      const e = await this.requireInstance(m, service, id);
      const before = toInstance(e);
      // Fields the patch leaves out arrive as undefined: they must not blank the answer (or the revision's diff).
      Object.assign(e, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
      await m.save(InstanceEntity, e);
      const after = toInstance(e);
      return { result: after, diff: { updated: { before, after } }, touched: { services: [service] } };
    });
  }

  deleteInstance(service: string, id: string, actor: string): Promise<void> {
    return this.write(actor, `delete instance ${id} of ${service}`, async (m) => {
      const e = await this.requireInstance(m, service, id);
      await m.delete(InstanceEntity, { id });
      return { result: undefined, diff: { deleted: { instance: toInstance(e) } }, touched: { services: [service] } };
    });
  }

  heartbeat(service: string, id: string): Promise<InstanceRecord> {
    return this.transact(async (m) => {
      const e = await this.requireInstance(m, service, id);
      e.lastHeartbeat = this.clock();
      await m.update(InstanceEntity, { id }, { lastHeartbeat: e.lastHeartbeat });
      // Logged as a heartbeat, not a service change: readers move the instance's expiry and rebuild nothing.
      await this.logChange(m, {}, { service, id, at: e.lastHeartbeat });
      return toInstance(e);
    });
  }

  // routes

  async listRoutes(service?: string): Promise<RouteRuleRecord[]> {
    const rows = await this.ds.getRepository(RouteRuleEntity).find({
      where: service ? { service } : {},
      order: { service: 'ASC', precedence: 'DESC', createdAt: 'ASC' },
    });
    return rows.map(toRoute);
  }

  async getRoute(id: string): Promise<RouteRuleRecord | null> {
    const e = await this.ds.getRepository(RouteRuleEntity).findOneBy({ id });
    return e ? toRoute(e) : null;
  }

  createRoute(rule: NewRouteRule, actor: string): Promise<RouteRuleRecord> {
    return this.write(actor, `create route for ${rule.service}`, async (m) => {
      await this.requireService(m, rule.service, 'service');
      const id = rule.id ?? randomUUID();
      if (await m.findOneBy(RouteRuleEntity, { id })) throw new AdminError('CONFLICT', `route '${id}' already exists`, [{ field: 'id', message: 'id is taken' }]);
      const row = { ...rule, id, match: rule.match ?? null, policy: rule.policy ?? null, createdAt: this.clock() };
      await m.insert(RouteRuleEntity, row);
      const rec = toRoute(row as RouteRuleEntity);
      return { result: rec, diff: { created: { route: rec } }, touched: { services: [rec.service] } };
    });
  }

  replaceRoute(id: string, rule: Omit<RouteRuleRecord, 'id'>, actor: string): Promise<RouteRuleRecord> {
    return this.write(actor, `replace route ${id}`, async (m) => {
      const e = await m.findOneBy(RouteRuleEntity, { id });
      if (!e) throw new AdminError('NOT_FOUND', `no route with id '${id}'`);
      await this.requireService(m, rule.service, 'service');
      const before = toRoute(e);
      Object.assign(e, { ...rule, match: rule.match ?? null, policy: rule.policy ?? null });
      await m.save(RouteRuleEntity, e);
      const after = toRoute(e);
      return { result: after, diff: { updated: { before, after } }, touched: { services: [before.service, after.service] } };
    });
  }

  deleteRoute(id: string, actor: string): Promise<void> {
    return this.write(actor, `delete route ${id}`, async (m) => {
      const e = await m.findOneBy(RouteRuleEntity, { id });
      if (!e) throw new AdminError('NOT_FOUND', `no route with id '${id}'`);
      await m.delete(RouteRuleEntity, { id });
      return { result: undefined, diff: { deleted: { route: toRoute(e) } }, touched: { services: [e.service] } };
    });
  }

  replaceServiceRoutes(rules: Map<string, NewRouteRule[]>, actor: string): Promise<RouteRuleRecord[]> {
    return this.write(actor, `replace routes of ${[...rules.keys()].join(', ')}`, async (m) => {
      const out: RouteRuleRecord[] = [];
      const before: RouteRuleRecord[] = [];
      for (const [service, list] of rules) {
        await this.requireService(m, service, 'service');
        before.push(...(await m.findBy(RouteRuleEntity, { service })).map(toRoute));
        await m.delete(RouteRuleEntity, { service });
        let n = 0;
        for (const r of list) {
          const row = { ...r, id: r.id ?? randomUUID(), match: r.match ?? null, policy: r.policy ?? null, createdAt: this.clock() + n++ };
          await m.insert(RouteRuleEntity, row);
          out.push(toRoute(row as RouteRuleEntity));
        }
      }
      return { result: out, diff: { replaced: { before, after: out } }, touched: { services: [...rules.keys()] } };
    });
  }

  // policies

  async listPolicies(): Promise<PolicyRecord[]> {
    return (await this.ds.getRepository(PolicyEntity).find({ order: { service: 'ASC' } })).map((p) => ({ service: p.service, spec: p.spec }));
  }

  async getPolicy(service: string): Promise<PolicyRecord | null> {
    const e = await this.ds.getRepository(PolicyEntity).findOneBy({ service });
    return e ? { service: e.service, spec: e.spec } : null;
  }

  putPolicy(service: string, spec: PolicySpec, actor: string): Promise<PolicyRecord> {
    return this.write(actor, `set policy of ${service}`, async (m) => {
      await this.requireService(m, service);
      const prev = await m.findOneBy(PolicyEntity, { service });
      await m.save(PolicyEntity, { service, spec, updatedAt: this.clock() });
      return { result: { service, spec }, diff: { updated: { before: prev?.spec ?? null, after: spec } }, touched: { services: [service] } };
    });
  }

  deletePolicy(service: string, actor: string): Promise<void> {
    return this.write(actor, `delete policy of ${service}`, async (m) => {
      const prev = await m.findOneBy(PolicyEntity, { service });
      if (!prev) throw new AdminError('NOT_FOUND', `service '${service}' has no policy`);
      await m.delete(PolicyEntity, { service });
      return { result: undefined, diff: { deleted: { policy: prev.spec } }, touched: { services: [service] } };
    });
  }

  async listRevisions(offset: number, limit: number): Promise<{ total: number; items: RevisionRecord[] }> {
    const [rows, total] = await this.ds.getRepository(RevisionEntity).findAndCount({ order: { id: 'DESC' }, skip: offset, take: limit });
    return { total, items: rows.map(toRevision) };
  }

  async listEdgeRules<K extends EdgeRuleKind>(kind: K): Promise<EdgeRuleOf<K>[]> {
    const t = EDGE[kind];
    return (await this.ds.getRepository(t.entity).find({ order: { createdAt: 'ASC', id: 'ASC' } })).map((e) => t.toRecord(e) as EdgeRuleOf<K>);
  }

  async getEdgeRule<K extends EdgeRuleKind>(kind: K, id: string): Promise<EdgeRuleOf<K> | null> {
    const t = EDGE[kind];
    const e = await this.ds.getRepository(t.entity).findOneBy({ id });
    return e ? (t.toRecord(e) as EdgeRuleOf<K>) : null;
  }

  putEdgeRule<K extends EdgeRuleKind>(kind: K, rule: EdgeRuleOf<K>, actor: string, replace: boolean): Promise<EdgeRuleOf<K>> {
    const t = EDGE[kind];
    return this.write(actor, `${replace ? 'replace' : 'create'} ${kind} rule ${rule.id}`, async (m) => {
      const prev = await m.findOneBy(t.entity, { id: rule.id });
      if (replace && !prev) throw new AdminError('NOT_FOUND', `no ${kind} rule with id '${rule.id}'`);
      if (!replace && prev) throw new AdminError('CONFLICT', `${kind} rule '${rule.id}' already exists`, [{ field: 'id', message: 'id is taken' }]);
      await m.save(t.entity, { ...rule, createdAt: prev?.createdAt ?? this.clock() });
      return { result: rule, diff: replace ? { updated: { before: t.toRecord(prev!), after: rule } } : { created: { [kind]: rule } }, touched: { edge: true } };
    });
  }

  deleteEdgeRule(kind: EdgeRuleKind, id: string, actor: string): Promise<void> {
    const t = EDGE[kind];
    return this.write(actor, `delete ${kind} rule ${id}`, async (m) => {
      const prev = await m.findOneBy(t.entity, { id });
      if (!prev) throw new AdminError('NOT_FOUND', `no ${kind} rule with id '${id}'`);
      await m.delete(t.entity, { id });
      return { result: undefined, diff: { deleted: { [kind]: t.toRecord(prev) } }, touched: { edge: true } };
    });
  }

  async getRevision(id: number): Promise<RevisionRecord | null> {
    const r = await this.ds.getRepository(RevisionEntity).findOneBy({ id });
    return r ? { ...toRevision(r), config: await this.configAt(r) } : null;
  }

  /** The whole config after a revision: kept in the row, or the nearest earlier full one with the deltas since applied. */
  private async configAt(r: RevisionEntity): Promise<MeshConfig | null> {
    if (r.config) return r.config;
    if (!r.changes) return null;
    const repo = this.ds.getRepository(RevisionEntity);
    const base = await repo.findOne({ where: { id: LessThan(r.id), config: Not(IsNull()) }, order: { id: 'DESC' } });
    if (!base?.config) return null;
    const deltas = await repo.find({ select: { id: true, changes: true }, where: { id: Between(base.id + 1, r.id) }, order: { id: 'ASC' } });
    // A revision kept neither way (written before either existed) breaks the chain.
    if (deltas.some((d) => !d.changes)) return null;
    return applyConfigDeltas(base.config, deltas.map((d) => d.changes!));
  }

  /**
   * Makes the configuration `config` by rewriting only the services whose slice differs (a rollback or an
   * apply that changes one service touches one service's rows), so readers update incrementally too.
   */
  replaceConfig(config: MeshConfig, actor: string, summary: string): Promise<number | null> {
    return this.transact(async (m) => {
      const before = configOf(await this.stateIn(m));
      const was = configSlices(before);
      const want = configSlices(configOf({ ...config, instances: flatInstances(config), policies: policyList(config) }));
      const touched = [...new Set([...was.keys(), ...want.keys()])].filter((n) => canonical(was.get(n) ?? null) !== canonical(want.get(n) ?? null)).sort();
      if (touched.length === 0) return null;
      const sidecarOwned = new Set(
        ((await m.query(`SELECT DISTINCT "service" FROM "instance" WHERE "registeredBy" LIKE 'sidecar:%'`)) as Array<{ service: string }>).map((r) => r.service),
      );
      // Clear first, then write: ids may move from one service to another.
      for (const name of touched) {
        await m.delete(RouteRuleEntity, { service: name });
        await m.delete(PolicyEntity, { service: name });
        await m.query(`DELETE FROM "instance" WHERE "service" = ? AND "registeredBy" NOT LIKE 'sidecar:%'`, [name]);
      }
      const now = this.clock();
      for (const name of touched) {
        const svc = want.get(name)?.service;
        // A service that sidecars still register into stays, whatever the document says.
        if (!svc) {
          if (!sidecarOwned.has(name)) await m.delete(ServiceEntity, { name });
          continue;
        }
        const existing = await m.findOneBy(ServiceEntity, { name });
        await m.save(ServiceEntity, { name, app: svc.app ?? null, description: svc.description ?? null, createdAt: existing?.createdAt ?? now });
        for (const i of svc.instances) {
          const clash = await m.findOneBy(InstanceEntity, { id: i.id });
          if (clash) throw new AdminError('CONFLICT', `instance id '${i.id}' is used by a sidecar of '${clash.service}'`, [{ field: `services.${name}.instances.${i.id}`, message: 'id is taken' }]);
          await m.insert(InstanceEntity, { ...i, service: name, registeredBy: actor, lastHeartbeat: now, createdAt: now });
        }
      }
      let n = 0;
      for (const name of touched) {
        for (const r of want.get(name)?.routes ?? []) await m.insert(RouteRuleEntity, { ...r, match: r.match ?? null, policy: r.policy ?? null, createdAt: now + n++ });
        const spec = want.get(name)?.policy;
        if (spec) await m.insert(PolicyEntity, { service: name, spec, updatedAt: now });
      }
      const delta: ConfigDelta = { services: {} };
      for (const name of touched) delta.services[name] = configSliceOf(name, await this.sourceIn(m, name));
      const after = applyConfigDeltas(before, [delta]);
      // Only the touched services can differ: diff those alone.
      const slicesOf = (from: Map<string, ServiceConfigSlice>): ConfigDelta => ({
        services: Object.fromEntries(touched.map((n) => [n, from.get(n) ?? { service: null, routes: [], policy: null }])),
      });
      const diff = diffConfig(applyConfigDeltas(EMPTY_CONFIG, [slicesOf(was)]), applyConfigDeltas(EMPTY_CONFIG, [delta]));
      await this.logChange(m, { services: touched });
      // The whole config is at hand: keep it, so later revisions materialize from here.
      return this.recordRevision(m, actor, summary, diff, { services: touched }, after);
    });
  }

  private async requireService(m: EntityManager, name: string, field?: string): Promise<ServiceEntity> {
    const e = await m.findOneBy(ServiceEntity, { name });
    if (!e) {
      // As a referenced field (a rule's destination) this is a 422; as a path segment, a 404.
      if (field) throw new AdminError('INVALID', `no service named '${name}'`, [{ field, message: `${field} '${name}' is not a registered service` }]);
      throw new AdminError('NOT_FOUND', `no service named '${name}'`);
    }
    return e;
  }

  private async requireInstance(m: EntityManager, service: string, id: string): Promise<InstanceEntity> {
    await this.requireService(m, service);
    const e = await m.findOneBy(InstanceEntity, { service, id });
    if (!e) throw new AdminError('NOT_FOUND', `service '${service}' has no instance with id '${id}'`);
    return e;
  }
}
