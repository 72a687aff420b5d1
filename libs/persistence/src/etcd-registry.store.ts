import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  AdminError,
  applyConfigDeltas,
  configOf,
  configSliceOf,
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
  type ServiceRecord,
  type ServiceSource,
} from '@mesher/contracts';
import type { Etcd3, ICompare, IRequestOp, IWatchResponse, Watcher } from 'etcd3';
import { createEtcdClient, describeEtcdError, type EtcdRejectionReason, isRecoverable, isUnreachable, rejectionOf, toAdminError } from './etcd-client';
import {
  Draft,
  type EdgeValue,
  type EgressValue,
  type Entry,
  type IngressValue,
  type InstanceValue,
  isAutomatic,
  isLeased,
  isWellFormed,
  KEY,
  RegistryModel,
  type RouteValue,
  STATE_GROUPS,
  toInstance,
  toPolicy,
  toEdge,
  toRoute,
  toService,
} from './etcd-registry.model';
import { readRegistryCache, writeRegistryCache } from './registry-cache';
import type { EdgeRuleKind, EdgeRuleOf, InstancePatch, NewInstance, NewRouteRule, RegistryStatus, RegistryStore, RevisionRecord } from './registry-store';
import { instanceRowFor } from './instance-registration';

export interface EtcdRegistryOptions {
  /** e.g. ['http://127.0.0.1:2379']; every member of the cluster, so any one of them can answer. */
  endpoints: string[];
  /** Key prefix of this mesh's registry (default `/mesher/`). */
  prefix?: string;
  auth?: { username: string; password: string };
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** The local SQLite file: a cache of the last known state, read at start when etcd cannot be reached. */
  cache?: DataSource;
  callTimeoutMs?: number;
  clock?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

// etcd's protobuf enum values (etcd3's CompareTarget, CompareResult, SortOrder, SortTarget), kept here so that
// the etcd client library is only loaded when an etcd store is opened.
const TARGET_VERSION = 0;
const TARGET_MOD = 2;
const RESULT_EQUAL = 0;
const SORT_DESCEND = 2;
const SORT_BY_KEY = 0;

const MAX_WRITE_ATTEMPTS = 20;
const HEALTH_INTERVAL_MS = 2000;
const RESYNC_MIN_MS = 250;
const RESYNC_MAX_MS = 2000;
const CATCH_UP_MS = 2000;
/** The cache is rewritten whole (synchronously, better-sqlite3): at most once a second, whatever the write rate. */
const CACHE_DEBOUNCE_MS = 1000;

const flatInstances = (c: MeshConfig): InstanceRecord[] =>
  c.services.flatMap((s) => s.instances.map((i) => ({ ...i, service: s.name, registeredBy: 'api', lastHeartbeat: 0 })));
const policyList = (c: MeshConfig) => Object.entries(c.policies).map(([service, spec]) => ({ service, spec }));
const message = (e: unknown) => rejectionOf(e)?.message ?? describeEtcdError(e);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const staticOf = (i: InstanceRecord) => [i.id, i.endpoint, i.version, i.labels, i.weight, i.status, i.ttl];

/** A revision as kept in etcd: a whole config where a chain starts, else the touched services (`changes`). */
type StoredRevision = RevisionRecord & { changes?: ConfigDelta | null };
const publicRevision = ({ changes: _c, ...r }: StoredRevision): RevisionRecord => r;
/** Revisions read per range while looking back for a full config. */
const REVISION_PAGE = 200;

/** Watch events kept for incremental readers; past it the older half is dropped (those readers read everything). */
const JOURNAL_MAX = 20_000;

/** One thing a watch event changed: a service to re-read, the edge rules, or only an instance's heartbeat. */
interface JournalEntry {
  token: number;
  service?: string;
  edge?: true;
  beat?: { service: string; id: string; lastHeartbeat: number };
}

/** What a change of key `rel` from `prev` to `next` (undefined: absent) means for the data plane. */
function touchedBy(rel: string, prev: unknown, next: unknown): Array<Omit<JournalEntry, 'token'>> {
  const p = prev as { service?: string; name?: string } | undefined;
  const n = next as { service?: string; name?: string } | undefined;
  if (rel.startsWith('ingress/') || rel.startsWith('egress/')) return [{ edge: true }];
  if (rel.startsWith('services/')) {
    const name = (n ?? p)?.name;
    return typeof name === 'string' ? [{ service: name }] : [];
  }
  if (rel.startsWith('instances/')) {
    const a = prev as InstanceValue | undefined;
    const b = next as InstanceValue | undefined;
    if (a && b && a.service === b.service && sameJson({ ...a, lastHeartbeat: 0 }, { ...b, lastHeartbeat: 0 })) {
      return [{ beat: { service: b.service, id: b.id, lastHeartbeat: b.lastHeartbeat } }];
    }
  }
  if (rel.startsWith('instances/') || rel.startsWith('routes/') || rel.startsWith('policies/')) {
    return [...new Set([p?.service, n?.service])].filter((x): x is string => typeof x === 'string').map((service) => ({ service }));
  }
  return [];
}

/** End of the key range that starts with `p` (etcd's prefix convention). */
function prefixEnd(p: string): Buffer {
  const b = Buffer.from(p);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const end = b.subarray(0, i + 1);
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** etcd answered at start but refuses this Mesher (login, permission, TLS): a configuration error, not an outage. */
export class EtcdRejectedError extends Error {
  override name = 'EtcdRejectedError';
  constructor(
    readonly reason: EtcdRejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/** Leases granted during one write: reused across its retries, revoked when the committed write did not use them. */
class LeaseGrants {
  private readonly granted = new Map<number, string>();

  constructor(private readonly client: Etcd3) {}

  async get(ttl: number): Promise<string> {
    let id = this.granted.get(ttl);
    if (!id) {
      id = (await this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 })).ID;
      this.granted.set(ttl, id);
    }
    return id;
  }

  /** After a commit: frees grants the write did not keep and leases whose only key it moved or deleted. */
  settle(changes: ReturnType<Draft['changes']>): void {
    const kept = new Set(changes.map((c) => c.entry?.lease));
    const drop = [...this.granted.values()].filter((id) => !kept.has(id));
    for (const c of changes) if (c.before && c.before.lease !== '0' && c.before.lease !== c.entry?.lease) drop.push(c.before.lease);
    this.revoke(drop);
  }

  abandon(): void {
    this.revoke([...this.granted.values()]);
  }

  private revoke(ids: string[]): void {
    for (const id of ids) void this.client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined);
  }
}

/**
 * The registry in etcd. Every object is one key under the prefix; a write is one etcd transaction guarded by
 * the mod revisions of the keys it changes and of `meta/seq`, which every write bumps: Meshers writing at the
 * same time retry instead of overwriting each other. Sidecar instances with a TTL carry an etcd lease: a crashed
 * sidecar's instance disappears when the lease runs out.
 *
 * Reads are served from memory: a consistent read of the prefix, then a watch from the next revision (nothing
 * missed, nothing applied twice). The memory state is copied into the local SQLite file; when etcd cannot be
 * reached the last known state keeps serving (from memory, or the SQLite copy after a restart), `ping()`
 * fails, writes answer UNAVAILABLE, and the store keeps trying to resync and watch again.
 */
export class EtcdRegistryStore implements RegistryStore {
  readonly kind = 'etcd' as const;
  readonly endpoints: string[];
  readonly prefix: string;
  private readonly client: Etcd3;
  private readonly cache: DataSource | undefined;
  private readonly callTimeoutMs: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<EtcdRegistryOptions['log']>;

  private model = new RegistryModel();
  /** Highest etcd revision applied to `model`. */
  private etcdRevision = 0;
  /** Revision of the last full read: watch events at or below it are already in `model`. */
  private syncRevision = 0;
  /** Bumps on every change to `model` (the registry service's change token). */
  private token = 0;
  private source: RegistryStatus['source'] = 'empty';
  private connected = false;
  private lastError: string | null = null;
  /** The last failure was etcd refusing us (credentials, permission, TLS) rather than not answering. */
  private rejected = false;
  private lastSyncAt: number | null = null;
  private watcher: Watcher | null = null;
  /** Bumped whenever the watch is replaced: events and errors of an older watcher are ignored. */
  private generation = 0;
  private syncing: Promise<void> | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private resyncDelay = RESYNC_MIN_MS;
  private healthTimer: NodeJS.Timeout | null = null;
  private cacheTimer: NodeJS.Timeout | null = null;
  private cacheWritten = false;
  private cacheWrite: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<{ rev: number; done: () => void }>();
  private stateMemo: RegistryState | null = null;
  /** Newest revision known to hold a config or a delta on one (any this store writes does). */
  private chainedUpTo = 0;
  /** What watch events touched, by change token: what changesSince hands out (bounded). */
  private journal: JournalEntry[] = [];
  /** Readers at or behind this token must read everything: a full sync or the cache replaced the model. */
  private journalFloor = 0;
  private closed = false;

  private constructor(o: EtcdRegistryOptions) {
    if (o.endpoints.length === 0) throw new Error('etcd registry: no endpoints given');
    this.endpoints = o.endpoints;
    this.prefix = (o.prefix ?? '/mesher/').replace(/\/*$/, '/');
    this.cache = o.cache;
    this.callTimeoutMs = o.callTimeoutMs ?? 3000;
    this.clock = o.clock ?? Date.now;
    this.log = o.log ?? (() => undefined);
    this.client = createEtcdClient({ endpoints: o.endpoints, auth: o.auth, tls: o.tls, callTimeoutMs: this.callTimeoutMs });
  }

  /**
   * Starts from the SQLite cache, then syncs with etcd; an unreachable etcd does not stop the start (the cache
   * serves), but one that refuses our login or TLS does: waiting would not fix that, and it is best seen at once.
   */
  static async open(o: EtcdRegistryOptions): Promise<EtcdRegistryStore> {
    const s = new EtcdRegistryStore(o);
    await s.loadCache();
    try {
      await s.sync();
      s.log('info', `etcd registry at ${s.endpoints.join(', ')} (prefix ${s.prefix}): synced at revision ${s.etcdRevision}`);
    } catch (e) {
      const refused = rejectionOf(e);
      if (refused) {
        await s.close();
        throw new EtcdRejectedError(refused.reason, `etcd at ${s.endpoints.join(', ')} refuses this Mesher: ${refused.message}`);
      }
      s.lost(e, 'start');
      s.log('warn', `etcd is unreachable at start (${message(e)}); serving ${s.source === 'cache' ? 'the local SQLite cache' : 'an empty registry'} until it answers`);
    }
    s.healthTimer = setInterval(() => void s.checkHealth(), HEALTH_INTERVAL_MS);
    s.healthTimer.unref();
    return s;
  }

  status(): RegistryStatus {
    return {
      kind: 'etcd',
      connected: this.connected,
      endpoints: this.endpoints,
      prefix: this.prefix,
      source: this.source,
      lastSyncAt: this.lastSyncAt === null ? null : new Date(this.lastSyncAt).toISOString(),
      revision: this.etcdRevision,
      configRevision: this.model.revisionCounter(),
      lastError: this.lastError,
    };
  }

  // --- state, watch and connection ---

  async loadState(): Promise<RegistryState> {
    this.stateMemo ??= { revision: this.model.revisionCounter(), ...this.model.state(true) };
    return this.stateMemo;
  }

  async changeToken(): Promise<number> {
    return this.token;
  }

  async changeSeq(): Promise<number> {
    return this.token;
  }

  async changesSince(seq: number): Promise<RegistryChanges | null> {
    if (seq < this.journalFloor || seq > this.token) return null;
    const services = new Map<string, ServiceSource | null>();
    const beats = new Map<string, { service: string; id: string; lastHeartbeat: number }>();
    let edge = false;
    for (const j of this.journal) {
      if (j.token <= seq) continue;
      if (j.service !== undefined) services.set(j.service, null);
      if (j.edge) edge = true;
      if (j.beat) beats.set(j.beat.id, j.beat);
    }
    for (const name of services.keys()) services.set(name, this.model.source(name));
    const out: RegistryChanges = {
      seq: this.token,
      revision: this.model.revisionCounter(),
      services,
      heartbeats: [...beats.values()].filter((b) => !services.has(b.service)),
    };
    if (edge) {
      out.ingress = this.model.edgeRules('ingress').map((v) => toEdge('ingress', v) as IngressRuleRecord);
      out.egress = this.model.edgeRules('egress').map((v) => toEdge('egress', v) as EgressRuleRecord);
    }
    return out;
  }

  /** Starts the journal afresh: everything before `token` is only in a full read. */
  private resetJournal(): void {
    this.journal = [];
    this.journalFloor = this.token;
  }

  async ping(): Promise<void> {
    if (!this.connected) throw new Error(this.downMessage());
    try {
      await this.probe();
    } catch (e) {
      this.lost(e, 'ping');
      throw new Error(this.downMessage());
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.dropWatcher();
    for (const w of [...this.waiters]) w.done();
    if (this.cacheTimer) {
      clearTimeout(this.cacheTimer);
      this.cacheTimer = null;
      this.flushCache();
    }
    await this.cacheWrite;
    this.client.close();
    if (this.cache?.isInitialized) await this.cache.destroy();
  }

  private downMessage(): string {
    const from =
      this.lastSyncAt !== null
        ? `the state synced at ${new Date(this.lastSyncAt).toISOString()}`
        : this.source === 'cache'
          ? 'the local SQLite cache'
          : 'an empty registry';
    const what = this.rejected ? 'etcd refuses this Mesher' : 'etcd is unreachable';
    return `${what} (${this.endpoints.join(', ')}): ${this.lastError ?? 'not connected'}; routing continues from ${from}`;
  }

  private full(key: string): Buffer {
    return Buffer.from(this.prefix + key);
  }

  private parse(rel: string, raw: Buffer): unknown {
    try {
      const v = JSON.parse(raw.toString()) as unknown;
      if (isWellFormed(rel, v)) return v;
    } catch {
      // fall through
    }
    this.log('warn', `ignoring malformed etcd value at ${this.prefix}${rel}`);
    return undefined;
  }

  /** All registry keys at one etcd revision (one read-only transaction). */
  private async readAll(): Promise<{ revision: number; entries: Map<string, Entry> }> {
    const res = await this.client.kv.txn({
      compare: [],
      success: STATE_GROUPS.map((g) => ({ request_range: { key: this.full(g), range_end: prefixEnd(this.prefix + g) } })),
      failure: [],
    });
    const entries = new Map<string, Entry>();
    for (const r of res.responses) {
      for (const kv of r.response_range.kvs) {
        const rel = kv.key.toString().slice(this.prefix.length);
        const value = this.parse(rel, kv.value);
        if (value !== undefined) entries.set(rel, { value, mod: Number(kv.mod_revision), lease: String(kv.lease ?? '0') });
      }
    }
    return { revision: Number(res.header.revision), entries };
  }

  private sync(): Promise<void> {
    this.syncing ??= this.doSync().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    const gen = ++this.generation;
    this.dropWatcher();
    const { revision, entries } = await this.readAll();
    if (this.closed || gen !== this.generation) throw new Error(this.lastError ?? 'resync superseded');
    if (this.source === 'cache' && entries.size === 0) {
      this.log('warn', `etcd has no registry under ${this.prefix}: the ${this.model.entries.size} objects in the local SQLite file are replaced by its empty state`);
    }
    this.model = new RegistryModel(entries);
    this.syncRevision = this.etcdRevision = revision;
    this.source = 'etcd';
    this.changed();
    this.resetJournal();
    const w = this.client.watch().prefix(this.prefix).startRevision(String(revision + 1)).watcher();
    this.watcher = w;
    w.on('data', (res: IWatchResponse) => gen === this.generation && this.applyWatch(res));
    w.on('disconnected', (e: Error) => gen === this.generation && this.lost(e, 'watch'));
    w.on('error', (e: Error) => gen === this.generation && this.lost(e, 'watch'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('etcd did not confirm the watch in time')), this.callTimeoutMs);
      w.once('connected', () => (clearTimeout(timer), resolve()));
      w.once('disconnected', (e: Error) => (clearTimeout(timer), reject(e)));
      w.once('error', (e: Error) => (clearTimeout(timer), reject(e)));
    });
    if (this.closed || gen !== this.generation) throw new Error(this.lastError ?? 'watch lost');
    if (!this.connected && this.lastError !== null) this.log('info', `etcd is reachable again: resynced at revision ${revision}`);
    this.connected = true;
    this.lastError = null;
    this.rejected = false;
    this.lastSyncAt = this.clock();
    this.resyncDelay = RESYNC_MIN_MS;
  }

  private applyWatch(res: IWatchResponse): void {
    let changed = false;
    const touched: Array<Omit<JournalEntry, 'token'>> = [];
    for (const ev of res.events) {
      const mod = Number(ev.kv.mod_revision);
      if (mod <= this.syncRevision) continue;
      if (mod > this.etcdRevision) this.etcdRevision = mod;
      const rel = ev.kv.key.toString().slice(this.prefix.length);
      if (!STATE_GROUPS.some((g) => rel.startsWith(g))) continue;
      const value = ev.type === 'Delete' ? undefined : this.parse(rel, ev.kv.value);
      const prev = this.model.entries.get(rel)?.value;
      if (value === undefined) changed = this.model.entries.delete(rel) || changed;
      else {
        this.model.entries.set(rel, { value, mod, lease: String(ev.kv.lease ?? '0') });
        changed = true;
      }
      touched.push(...touchedBy(rel, prev, value));
    }
    if (changed) {
      this.changed();
      for (const t of touched) this.journal.push({ token: this.token, ...t });
      if (this.journal.length > JOURNAL_MAX) {
        const dropped = this.journal.splice(0, this.journal.length - JOURNAL_MAX / 2);
        this.journalFloor = dropped[dropped.length - 1].token;
      }
    } else this.wakeWaiters();
  }

  private changed(): void {
    this.token++;
    this.stateMemo = null;
    this.wakeWaiters();
    this.scheduleCacheWrite();
  }

  private wakeWaiters(): void {
    for (const w of [...this.waiters]) if (w.rev <= this.etcdRevision) w.done();
  }

  /** Waits (bounded) until the watch has delivered revision `rev`, so a write is visible to reads that follow it. */
  private async caughtUp(rev: number): Promise<void> {
    if (!this.connected || this.etcdRevision >= rev) return;
    await new Promise<void>((resolve) => {
      const w = {
        rev,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(w.done, CATCH_UP_MS);
      this.waiters.add(w);
    });
  }

  private lost(e: unknown, where: string): void {
    if (this.closed) return;
    if (this.connected) this.log('warn', `etcd connection lost (${where}): ${message(e)}; serving the last known state`);
    this.connected = false;
    this.lastError = message(e);
    this.rejected = rejectionOf(e) !== null;
    this.generation++;
    this.dropWatcher();
    this.scheduleResync();
  }

  private dropWatcher(): void {
    const w = this.watcher;
    this.watcher = null;
    if (!w) return;
    w.removeAllListeners();
    w.on('error', () => undefined);
    void w.cancel().catch(() => undefined);
  }

  private scheduleResync(): void {
    if (this.closed || this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      this.sync().catch((e: unknown) => {
        if (this.closed) return;
        this.connected = false;
        this.lastError = message(e);
        this.rejected = rejectionOf(e) !== null;
        this.resyncDelay = Math.min(this.resyncDelay * 2, RESYNC_MAX_MS);
        this.scheduleResync();
      });
    }, this.resyncDelay);
    this.resyncTimer.unref();
  }

  private probe(): Promise<unknown> {
    return this.client.kv.range({ key: this.full(KEY.seq), count_only: true }, { deadline: Date.now() + Math.min(this.callTimeoutMs, 1500) });
  }

  /** A hung etcd keeps its sockets open: probing is how the watch learns that it stopped answering. */
  private async checkHealth(): Promise<void> {
    if (this.closed || !this.connected || this.syncing) return;
    try {
      await this.probe();
    } catch (e) {
      this.lost(e, 'health check');
    }
  }

  private async loadCache(): Promise<void> {
    if (!this.cache) return;
    try {
      const c = await readRegistryCache(this.cache);
      const entries = new Map<string, Entry>();
      const add = (key: string, value: unknown) => entries.set(key, { value, mod: 0, lease: '0' });
      for (const v of c.services) add(KEY.service(v.name), v);
      for (const v of c.instances) add(KEY.instance(v.service, v.id), v);
      for (const v of c.routes) add(KEY.route(v.id), v);
      for (const v of c.policies) add(KEY.policy(v.service), v);
      for (const v of c.ingress) add(KEY.edge('ingress', v.id), v);
      for (const v of c.egress) add(KEY.edge('egress', v.id), v);
      this.model = new RegistryModel(entries);
      this.source = entries.size > 0 ? 'cache' : 'empty';
      this.token++;
      this.stateMemo = null;
      this.resetJournal();
    } catch (e) {
      this.log('warn', `could not read the local registry cache: ${message(e)}`);
    }
  }

  private scheduleCacheWrite(): void {
    if (!this.cache || this.source !== 'etcd' || this.cacheTimer || this.closed) return;
    // The first state read from etcd is written at once: a sidecar killed within the debounce after its
    // start must still find it on a restart during an outage.
    if (!this.cacheWritten) {
      this.cacheWritten = true;
      this.flushCache();
      return;
    }
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = null;
      this.flushCache();
    }, CACHE_DEBOUNCE_MS);
    this.cacheTimer.unref();
  }

  private flushCache(): void {
    const m = this.model;
    const snapshot = {
      services: m.services(),
      instances: m.instances(),
      routes: m.routes(),
      policies: m.policies(),
      ingress: m.edgeRules('ingress') as IngressValue[],
      egress: m.edgeRules('egress') as EgressValue[],
    };
    this.cacheWrite = this.cacheWrite
      .then(() => writeRegistryCache(this.cache!, snapshot))
      .catch((e: unknown) => this.log('warn', `could not update the local registry cache: ${message(e)}`));
  }

  // --- writes ---

  private notConnected(): AdminError {
    const what = this.rejected ? 'etcd refuses this Mesher' : 'etcd is unreachable';
    return new AdminError('UNAVAILABLE', `${what}: ${this.lastError ?? 'not connected'}; the change was not applied`);
  }

  /**
   * One write: read every registry key at one revision, let `fn` change a draft, then commit the changed keys in
   * one transaction guarded by their mod revisions and `meta/seq`; on a conflict, read again and redo.
   * Configuration writes also store a revision (`revisions/<n>`, with the whole config after it).
   */
  private async mutate<T>(
    actor: string,
    summary: string,
    fn: (d: Draft, leases: LeaseGrants) => Promise<{ result: T; diff?: unknown; skip?: boolean }> | { result: T; diff?: unknown; skip?: boolean },
    record = !isAutomatic(actor),
  ): Promise<{ result: T; revision: number | null }> {
    if (!this.connected) throw this.notConnected();
    const leases = new LeaseGrants(this.client);
    try {
      for (let attempt = 1; ; attempt++) {
        // First from memory (a copy: watch events change the model in place): the guards on the touched keys and
        // meta/seq turn a stale copy into a failed transaction, and the retry reads etcd. Reading every key on
        // every write costs as much as the registry is large.
        const base = new RegistryModel(attempt === 1 ? new Map(this.model.entries) : (await this.readAll()).entries);
        const d = new Draft(base);
        const out = await fn(d, leases);
        if (out.skip) {
          leases.abandon();
          return { result: out.result, revision: null };
        }
        const changes = d.changes();
        const now = this.clock();
        const compare: ICompare[] = [];
        const success: IRequestOp[] = [];
        const put = (key: string, value: unknown, lease = '0') => success.push({ request_put: { key: this.full(key), value: Buffer.from(JSON.stringify(value)), lease } });
        const guard = (key: string, before: Entry | undefined) =>
          compare.push(
            before
              ? { key: this.full(key), target: TARGET_MOD, result: RESULT_EQUAL, mod_revision: before.mod }
              : { key: this.full(key), target: TARGET_VERSION, result: RESULT_EQUAL, version: 0 },
          );
        for (const c of changes) {
          guard(c.key, c.before);
          if (c.entry) put(c.key, c.entry.value, c.entry.lease);
          else success.push({ request_delete_range: { key: this.full(c.key) } });
        }
        let revision: number | null = null;
        if (record) {
          revision = base.revisionCounter() + 1;
          // The touched services as they are after the write, not the whole config: at 10,000 instances that
          // alone is larger than etcd takes in one request (1.5 MiB by default). A chain starts with a full one.
          const chained = revision > 1 && (await this.revisionChained(revision - 1));
          const delta: ConfigDelta = { services: {} };
          if (chained) {
            for (const c of changes) {
              for (const t of touchedBy(c.key, c.before?.value, c.entry?.value)) {
                if (t.service !== undefined) delta.services[t.service] = configSliceOf(t.service, d.source(t.service));
              }
            }
          }
          const rec: StoredRevision = {
            ...{ id: revision, at: now, actor, summary, diff: out.diff ?? null },
            ...(chained ? { config: null, changes: delta } : { config: configOf(d.state()), changes: null }),
          };
          put(KEY.revision(revision), rec);
          put(KEY.revisionCounter, revision);
        }
        guard(KEY.seq, base.entries.get(KEY.seq));
        put(KEY.seq, { at: now, actor });
        const res = await this.client.kv.txn({ compare, success, failure: [] });
        if (res.succeeded) {
          if (revision !== null) this.chainedUpTo = revision;
          leases.settle(changes);
          await this.caughtUp(Number(res.header.revision));
          return { result: out.result, revision };
        }
        if (attempt >= MAX_WRITE_ATTEMPTS) throw new AdminError('UNAVAILABLE', `etcd: the write kept conflicting with concurrent writes (${attempt} attempts); try again`);
        await sleep(Math.random() * 10 * attempt);
      }
    } catch (e) {
      leases.abandon();
      if (!(e instanceof AdminError) && (isUnreachable(e) || rejectionOf(e))) this.lost(e, 'write');
      throw toAdminError(e);
    }
  }

  private async write<T>(actor: string, summary: string, fn: Parameters<EtcdRegistryStore['mutate']>[2]): Promise<T> {
    return (await this.mutate(actor, summary, fn)).result as T;
  }

  // --- services ---

  async listServices(): Promise<ServiceRecord[]> {
    return this.model.services().map(toService);
  }

  async getService(name: string): Promise<ServiceRecord | null> {
    const s = this.model.service(name);
    return s ? toService(s) : null;
  }

  createService(rec: ServiceRecord, actor: string): Promise<ServiceRecord> {
    return this.write(actor, `create service ${rec.name}`, (d) => {
      if (d.service(rec.name)) {
        throw new AdminError('CONFLICT', `service '${rec.name}' already exists`, [{ field: 'name', message: `name '${rec.name}' is taken` }]);
      }
      d.put(KEY.service(rec.name), { ...rec, createdAt: this.clock() });
      return { result: rec, diff: { created: { service: rec } } };
    });
  }

  deleteService(name: string, actor: string): Promise<void> {
    return this.write(actor, `delete service ${name}`, (d) => {
      const s = d.requireService(name);
      for (const i of d.instances(name)) d.del(KEY.instance(name, i.id));
      for (const r of d.routes(name)) d.del(KEY.route(r.id));
      d.del(KEY.policy(name));
      d.del(KEY.service(name));
      return { result: undefined, diff: { deleted: { service: toService(s) } } };
    });
  }

  // --- instances ---

  async listInstances(service: string): Promise<InstanceRecord[]> {
    this.model.requireService(service);
    return this.model.instances(service).map(toInstance);
  }

  async getInstance(service: string, id: string): Promise<InstanceRecord | null> {
    const i = this.model.instance(service, id);
    return i ? toInstance(i) : null;
  }

  registerInstance(service: string, input: NewInstance, actor: string): Promise<InstanceRecord> {
    const id = input.id ?? randomUUID();
    return this.write(actor, `register instance of ${service} at ${input.endpoint}`, async (d, leases) => {
      const now = this.clock();
      if (!d.service(service)) d.put(KEY.service(service), { name: service, app: null, description: null, createdAt: now });
      const existing = d.instanceById(id);
      const sameEndpoint = d.instances(service).find((i) => i.endpoint === input.endpoint) ?? null;
      const row: InstanceValue = instanceRowFor(service, id, input, actor, now, existing ?? null, sameEndpoint);
      // A new lease on every registration: the sidecar registers again after it lost its instance.
      d.put(KEY.instance(service, id), row, isLeased(row) ? await leases.get(row.ttl) : '0');
      const rec = toInstance(row);
      return { result: rec, diff: { created: { instance: rec } } };
    });
  }

  updateInstance(service: string, id: string, patch: InstancePatch, actor: string): Promise<InstanceRecord> {
    return this.write(actor, `update instance ${id} of ${service}`, async (d, leases) => {
      const before = d.requireInstance(service, id);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const after: InstanceValue = { ...before, ...defined };
      const key = KEY.instance(service, id);
      const current = d.entries.get(key)!.lease;
      const lease = !isLeased(after) ? '0' : current !== '0' && after.ttl === before.ttl ? current : await leases.get(after.ttl);
      d.put(key, after, lease);
      return { result: toInstance(after), diff: { updated: { before: toInstance(before), after: toInstance(after) } } };
    });
  }

  deleteInstance(service: string, id: string, actor: string): Promise<void> {
    return this.write(actor, `delete instance ${id} of ${service}`, (d) => {
      const i = d.requireInstance(service, id);
      d.del(KEY.instance(service, id));
      return { result: undefined, diff: { deleted: { instance: toInstance(i) } } };
    });
  }

  /** Keeps the instance's lease alive and records the heartbeat time; a lost lease means the instance is gone. */
  async heartbeat(service: string, id: string): Promise<InstanceRecord> {
    if (!this.connected) throw this.notConnected();
    const rel = KEY.instance(service, id);
    const key = this.full(rel);
    try {
      for (let attempt = 1; ; attempt++) {
        const kv = (await this.client.kv.range({ key })).kvs[0];
        const cur = kv ? (this.parse(rel, kv.value) as InstanceValue | undefined) : undefined;
        const lease = String(kv?.lease ?? '0');
        if (!kv || !cur || (lease !== '0' && !(await this.keepAlive(lease)))) {
          this.model.requireService(service);
          throw new AdminError('NOT_FOUND', `service '${service}' has no instance with id '${id}'`);
        }
        const next: InstanceValue = { ...cur, lastHeartbeat: this.clock() };
        const res = await this.client.kv.txn({
          compare: [{ key, target: TARGET_MOD, result: RESULT_EQUAL, mod_revision: kv.mod_revision }],
          success: [{ request_put: { key, value: Buffer.from(JSON.stringify(next)), lease } }],
          failure: [],
        });
        if (res.succeeded) {
          await this.caughtUp(Number(res.header.revision));
          return toInstance(next);
        }
        if (attempt >= MAX_WRITE_ATTEMPTS) throw new AdminError('UNAVAILABLE', `etcd: the heartbeat kept conflicting with concurrent writes; try again`);
        await sleep(Math.random() * 10 * attempt);
      }
    } catch (e) {
      if (!(e instanceof AdminError) && (isUnreachable(e) || rejectionOf(e))) this.lost(e, 'heartbeat');
      throw toAdminError(e);
    }
  }

  /**
   * One keep-alive on a lease; false when etcd no longer knows it (it expired). The client does not retry
   * streams, so a member that does not answer (stopped, or the old leader) is retried here on another one.
   */
  private async keepAlive(lease: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.keepAliveOnce(lease);
      } catch (e) {
        if (attempt > this.endpoints.length || !isRecoverable(e)) throw e;
      }
    }
  }

  private async keepAliveOnce(lease: string): Promise<boolean> {
    const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + this.callTimeoutMs });
    try {
      const res = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.write({ ID: lease });
      });
      return Number(res.TTL) > 0;
    } finally {
      stream.end();
    }
  }

  // --- routes ---

  async listRoutes(service?: string): Promise<RouteRuleRecord[]> {
    return this.model.routes(service).map(toRoute);
  }

  async getRoute(id: string): Promise<RouteRuleRecord | null> {
    const r = this.model.route(id);
    return r ? toRoute(r) : null;
  }

  createRoute(rule: NewRouteRule, actor: string): Promise<RouteRuleRecord> {
    const id = rule.id ?? randomUUID();
    return this.write(actor, `create route for ${rule.service}`, (d) => {
      d.requireService(rule.service, 'service');
      if (d.route(id)) throw new AdminError('CONFLICT', `route '${id}' already exists`, [{ field: 'id', message: 'id is taken' }]);
      const row: RouteValue = { ...rule, id, match: rule.match ?? null, policy: rule.policy ?? null, createdAt: this.clock() };
      d.put(KEY.route(id), row);
      const rec = toRoute(row);
      return { result: rec, diff: { created: { route: rec } } };
    });
  }

  replaceRoute(id: string, rule: Omit<RouteRuleRecord, 'id'>, actor: string): Promise<RouteRuleRecord> {
    return this.write(actor, `replace route ${id}`, (d) => {
      const before = d.route(id);
      if (!before) throw new AdminError('NOT_FOUND', `no route with id '${id}'`);
      d.requireService(rule.service, 'service');
      const after: RouteValue = { ...before, ...rule, id, match: rule.match ?? null, policy: rule.policy ?? null };
      d.put(KEY.route(id), after);
      return { result: toRoute(after), diff: { updated: { before: toRoute(before), after: toRoute(after) } } };
    });
  }

  deleteRoute(id: string, actor: string): Promise<void> {
    return this.write(actor, `delete route ${id}`, (d) => {
      const r = d.route(id);
      if (!r) throw new AdminError('NOT_FOUND', `no route with id '${id}'`);
      d.del(KEY.route(id));
      return { result: undefined, diff: { deleted: { route: toRoute(r) } } };
    });
  }

  replaceServiceRoutes(rules: Map<string, NewRouteRule[]>, actor: string): Promise<RouteRuleRecord[]> {
    const withIds = new Map([...rules].map(([s, list]) => [s, list.map((r) => ({ ...r, id: r.id ?? randomUUID() }))]));
    return this.write(actor, `replace routes of ${[...rules.keys()].join(', ')}`, (d) => {
      const out: RouteRuleRecord[] = [];
      const before: RouteRuleRecord[] = [];
      const now = this.clock();
      let n = 0;
      for (const [service, list] of withIds) {
        d.requireService(service, 'service');
        for (const r of d.routes(service)) {
          before.push(toRoute(r));
          d.del(KEY.route(r.id));
        }
        for (const r of list) {
          const row: RouteValue = { ...r, match: r.match ?? null, policy: r.policy ?? null, createdAt: now + n++ };
          d.put(KEY.route(r.id), row);
          out.push(toRoute(row));
        }
      }
      return { result: out, diff: { replaced: { before, after: out } } };
    });
  }

  // --- policies ---

  async listPolicies(): Promise<PolicyRecord[]> {
    return this.model.policies().map(toPolicy);
  }

  async getPolicy(service: string): Promise<PolicyRecord | null> {
    const p = this.model.policy(service);
    return p ? toPolicy(p) : null;
  }

  putPolicy(service: string, spec: PolicySpec, actor: string): Promise<PolicyRecord> {
    return this.write(actor, `set policy of ${service}`, (d) => {
      d.requireService(service);
      const prev = d.policy(service);
      d.put(KEY.policy(service), { service, spec, updatedAt: this.clock() });
      return { result: { service, spec }, diff: { updated: { before: prev?.spec ?? null, after: spec } } };
    });
  }

  deletePolicy(service: string, actor: string): Promise<void> {
    return this.write(actor, `delete policy of ${service}`, (d) => {
      const prev = d.policy(service);
      if (!prev) throw new AdminError('NOT_FOUND', `service '${service}' has no policy`);
      d.del(KEY.policy(service));
      return { result: undefined, diff: { deleted: { policy: prev.spec } } };
    });
  }

  // --- edge (ingress) and egress rules ---

  async listEdgeRules<K extends EdgeRuleKind>(kind: K): Promise<EdgeRuleOf<K>[]> {
    return this.model.edgeRules(kind).map((v) => toEdge(kind, v) as EdgeRuleOf<K>);
  }

  async getEdgeRule<K extends EdgeRuleKind>(kind: K, id: string): Promise<EdgeRuleOf<K> | null> {
    const v = this.model.edgeRule(kind, id);
    return v ? (toEdge(kind, v) as EdgeRuleOf<K>) : null;
  }

  putEdgeRule<K extends EdgeRuleKind>(kind: K, rule: EdgeRuleOf<K>, actor: string, replace: boolean): Promise<EdgeRuleOf<K>> {
    return this.write(actor, `${replace ? 'replace' : 'create'} ${kind} rule ${rule.id}`, (d) => {
      const prev = d.edgeRule(kind, rule.id);
      if (replace && !prev) throw new AdminError('NOT_FOUND', `no ${kind} rule with id '${rule.id}'`);
      if (!replace && prev) throw new AdminError('CONFLICT', `${kind} rule '${rule.id}' already exists`, [{ field: 'id', message: 'id is taken' }]);
      d.put(KEY.edge(kind, rule.id), { ...rule, createdAt: prev?.createdAt ?? this.clock() } as EdgeValue);
      return { result: rule, diff: replace ? { updated: { before: toEdge(kind, prev!), after: rule } } : { created: { [kind]: rule } } };
    });
  }

  deleteEdgeRule(kind: EdgeRuleKind, id: string, actor: string): Promise<void> {
    return this.write(actor, `delete ${kind} rule ${id}`, (d) => {
      const prev = d.edgeRule(kind, id);
      if (!prev) throw new AdminError('NOT_FOUND', `no ${kind} rule with id '${id}'`);
      d.del(KEY.edge(kind, id));
      return { result: undefined, diff: { deleted: { [kind]: toEdge(kind, prev) } } };
    });
  }

  // --- revisions and whole configurations ---

  async listRevisions(offset: number, limit: number): Promise<{ total: number; items: RevisionRecord[] }> {
    try {
      const counter = (await this.client.kv.range({ key: this.full(KEY.revisionCounter) })).kvs[0];
      const total = counter ? Number(JSON.parse(counter.value.toString())) || 0 : 0;
      const hi = total - Math.max(0, offset);
      if (hi < 1 || limit <= 0) return { total, items: [] };
      const items = await this.revisionsDescending(Math.max(1, hi - limit + 1), hi);
      return { total, items: items.map(publicRevision) };
    } catch (e) {
      throw toAdminError(e);
    }
  }

  async getRevision(id: number): Promise<RevisionRecord | null> {
    if (!Number.isInteger(id) || id < 1) return null;
    try {
      const r = await this.readRevision(id);
      return r ? { ...publicRevision(r), config: await this.configAt(r) } : null;
    } catch (e) {
      throw toAdminError(e);
    }
  }

  /** Revisions lo..hi (inclusive), newest first. */
  private async revisionsDescending(lo: number, hi: number): Promise<StoredRevision[]> {
    const res = await this.client.kv.range({
      key: this.full(KEY.revision(lo)),
      range_end: this.full(KEY.revision(hi + 1)),
      sort_order: SORT_DESCEND,
      sort_target: SORT_BY_KEY,
    });
    return res.kvs.map((kv) => JSON.parse(kv.value.toString()) as StoredRevision);
  }

  private async readRevision(id: number): Promise<StoredRevision | null> {
    const kv = (await this.client.kv.range({ key: this.full(KEY.revision(id)) })).kvs[0];
    return kv ? (JSON.parse(kv.value.toString()) as StoredRevision) : null;
  }

  /** Whether revision `id` holds a config or a delta (revisions from before either was kept hold neither). */
  private async revisionChained(id: number): Promise<boolean> {
    if (id <= this.chainedUpTo) return true;
    const r = await this.readRevision(id);
    const chained = !!r && (!!r.config || !!r.changes);
    if (chained) this.chainedUpTo = id;
    return chained;
  }

  /** The whole config after a revision: kept in it, or the nearest earlier full one with the deltas since applied. */
  private async configAt(r: StoredRevision): Promise<MeshConfig | null> {
    if (r.config) return r.config;
    if (!r.changes) return null;
    const deltas: ConfigDelta[] = [r.changes];
    // Backwards in pages until a revision with the whole config.
    for (let hi = r.id - 1; hi >= 1; hi -= REVISION_PAGE) {
      for (const prev of await this.revisionsDescending(Math.max(1, hi - REVISION_PAGE + 1), hi)) {
        if (prev.config) return applyConfigDeltas(prev.config, deltas.reverse());
        if (!prev.changes) return null;
        deltas.push(prev.changes);
      }
    }
    return null;
  }

  async replaceConfig(config: MeshConfig, actor: string, summary: string): Promise<number | null> {
    const out = await this.mutate(
      actor,
      summary,
      (d) => {
        const before = configOf(d.state());
        const wantedConfig = configOf({ ...config, instances: flatInstances(config), policies: policyList(config) });
        if (diffConfig(before, wantedConfig).length === 0) return { result: null, skip: true };
        const now = this.clock();
        const wanted = new Set(config.services.map((s) => s.name));
        const sidecarOwned = new Set(d.instances().filter((i) => isAutomatic(i.registeredBy)).map((i) => i.service));
        // Unchanged objects keep their values (and timestamps): only real changes are written.
        const old = { services: d.services(), instances: d.instances().filter((i) => !isAutomatic(i.registeredBy)), routes: d.routes(), policies: d.policies() };
        for (const r of old.routes) d.del(KEY.route(r.id));
        for (const p of old.policies) d.del(KEY.policy(p.service));
        for (const i of old.instances) d.del(KEY.instance(i.service, i.id));
        // A service that sidecars still register into stays, whatever the document says.
        for (const s of old.services) if (!wanted.has(s.name) && !sidecarOwned.has(s.name)) d.del(KEY.service(s.name));
        for (const svc of config.services) {
          const prev = old.services.find((s) => s.name === svc.name);
          const rec = { name: svc.name, app: svc.app ?? null, description: svc.description ?? null };
          d.put(KEY.service(svc.name), prev && sameJson(toService(prev), rec) ? prev : { ...rec, createdAt: now });
          for (const i of svc.instances) {
            const clash = d.instanceById(i.id);
            if (clash) {
              throw new AdminError('CONFLICT', `instance id '${i.id}' is used by a sidecar of '${clash.service}'`, [
                { field: `services.${svc.name}.instances.${i.id}`, message: 'id is taken' },
              ]);
            }
            const p = old.instances.find((x) => x.service === svc.name && x.id === i.id);
            const row: InstanceValue = { ...i, service: svc.name, registeredBy: actor, lastHeartbeat: now, createdAt: now };
            d.put(KEY.instance(svc.name, i.id), p && sameJson(staticOf(p), staticOf(row)) ? p : row);
          }
        }
        let n = 0;
        for (const r of config.routes) {
          const p = old.routes.find((x) => x.id === r.id);
          const row: RouteValue = { ...r, match: r.match ?? null, policy: r.policy ?? null, createdAt: now + n++ };
          d.put(KEY.route(r.id), p && sameJson(toRoute(p), toRoute(row)) ? p : row);
        }
        for (const [service, spec] of Object.entries(config.policies)) {
          const p = old.policies.find((x) => x.service === service);
          d.put(KEY.policy(service), p && sameJson(p.spec, spec) ? p : { service, spec, updatedAt: now });
        }
        return { result: null, diff: diffConfig(before, configOf(d.state())) };
      },
      true,
    );
    return out.revision;
  }
}
