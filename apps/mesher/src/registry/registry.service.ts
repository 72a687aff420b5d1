import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { sourcesOf, type RegistryChanges, type ServiceSource } from '@mesher/contracts';
import type { RegistryStore } from '@mesher/persistence';
import { buildSnapshot, isRoutable, routableExpiry, SnapshotHolder, updateSnapshot } from '@mesher/registry';
import { REGISTRY_STORE } from '../tokens';

/**
 * Control -> data, one way: reads the store, builds an immutable snapshot, swaps it in. After a local write,
 * when another process committed (polled change token), and when an instance's TTL runs out.
 * Incremental where the store keeps a change log (SQLite's table, etcd's watch journal): only the touched
 * services are read and compiled, every other entry is shared with the previous snapshot, and a heartbeat only
 * moves its instance's expiry.
 * Everything is read again at start-up, after a store error, and when the change log no longer reaches back.
 */
@Injectable()
export class RegistryService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('registry');
  private lastToken = -1;
  /** Change-log position of the state in memory; -1: read everything next time. */
  private seq = -1;
  /** The store's rows per service as last read, heartbeats included: what changed entries are compiled from. */
  private sources = new Map<string, ServiceSource>();
  /** Per service, when its first routable instance expires (heartbeats move it without a rebuild). */
  private readonly expiry = new Map<string, number>();
  private pollTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiryAt = Infinity;
  private rebuilding: Promise<void> | null = null;
  private again = false;
  lastError: string | null = null;

  constructor(
    @Inject(REGISTRY_STORE) readonly store: RegistryStore,
    readonly holder: SnapshotHolder,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
    this.pollTimer = setInterval(() => void this.poll(), 250);
    this.pollTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }

  /**
   * The registry per service as last read (local writes included once they answered, other processes' within
   * a poll): what GET /v1/services summarizes without reading every row again.
   */
  serviceSources(): IterableIterator<ServiceSource> {
    return this.sources.values();
  }

  /** Brings the snapshot up to the store; concurrent calls coalesce into at most one more pass. */
  refresh(): Promise<void> {
    if (this.rebuilding) {
      this.again = true;
      return this.rebuilding;
    }
    this.rebuilding = (async () => {
      try {
        do {
          this.again = false;
          const token = await this.store.changeToken();
          const changes = this.seq >= 0 && this.store.changesSince ? await this.store.changesSince(this.seq) : null;
          if (changes) this.apply(changes);
          else await this.reloadAll();
          this.lastToken = token;
          this.lastError = null;
        } while (this.again);
      } catch (e) {
        const message = (e as Error).message;
        // Retried every poll while the store fails: say it once per distinct failure.
        if (message !== this.lastError) this.log.error(`snapshot rebuild failed, keeping the previous one: ${message}`);
        this.lastError = message;
        // The next pass reads everything: a half-applied change must not linger.
        this.seq = -1;
      } finally {
        this.rebuilding = null;
      }
    })();
    return this.rebuilding;
  }

  private async reloadAll(): Promise<void> {
    // The log position first: a commit landing between the two reads is then read again, never missed.
    const seq = this.store.changeSeq ? await this.store.changeSeq() : -1;
    const t0 = performance.now();
    const state = await this.store.loadState();
    const t1 = performance.now();
    const now = Date.now();
    const snap = buildSnapshot(state, now);
    this.sources = sourcesOf(state);
    this.expiry.clear();
    for (const [name, e] of snap.services) this.expiry.set(name, routableExpiry(e.instances, now));
    this.holder.swap(snap);
    this.seq = seq;
    this.log.debug(`full reload: ${snap.services.size} services, ${state.instances.length} instances: read ${(t1 - t0).toFixed(1)} ms, build + swap ${(performance.now() - t1).toFixed(1)} ms`);
    this.scheduleExpiry();
  }

  /** Applies what the store says changed: touched services are recompiled, heartbeats move expiries. */
  private apply(c: RegistryChanges): void {
    const t0 = performance.now();
    const now = Date.now();
    const rebuild = new Map<string, ServiceSource | null>();
    for (const [name, src] of c.services) {
      if (src) this.sources.set(name, src);
      else this.sources.delete(name);
      rebuild.set(name, src);
    }
    for (const b of c.heartbeats) {
      const src = this.sources.get(b.service);
      const at = src ? src.instances.findIndex((i) => i.id === b.id) : -1;
      if (!src || at < 0 || src.instances[at].lastHeartbeat >= b.lastHeartbeat) continue;
      const prev = src.instances[at];
      const instances = src.instances.slice();
      instances[at] = { ...prev, lastHeartbeat: b.lastHeartbeat };
      const next = { ...src, instances };
      this.sources.set(b.service, next);
      // Only an instance coming back into routing needs a new entry; otherwise just the expiry moves, unless it
      // is already due (a sibling ran out and the timer has yet to fire): then the timer's rebuild recomputes it.
      if (isRoutable(prev, now) !== isRoutable(instances[at], now)) rebuild.set(b.service, next);
      else if ((this.expiry.get(b.service) ?? Infinity) > now) this.expiry.set(b.service, routableExpiry(instances, now));
    }
    const cur = this.holder.current;
    if (rebuild.size > 0 || c.ingress || c.egress || c.revision !== cur.revision) {
      this.swapIn(updateSnapshot(cur, { revision: c.revision, services: rebuild, ingress: c.ingress, egress: c.egress }, now), rebuild.keys(), now);
      this.log.debug(`incremental update: ${rebuild.size} service(s) recompiled, ${c.heartbeats.length} heartbeat(s), ${(performance.now() - t0).toFixed(2)} ms with the runtime sync`);
    }
    this.seq = c.seq;
    this.scheduleExpiry();
  }

  private swapIn(snap: ReturnType<typeof updateSnapshot>, changed: Iterable<string>, now: number): void {
    for (const name of changed) {
      const e = snap.services.get(name);
      if (e) this.expiry.set(name, routableExpiry(e.instances, now));
      else this.expiry.delete(name);
    }
    this.holder.swap(snap);
  }

  private async poll(): Promise<void> {
    if (this.rebuilding) return;
    try {
      const token = await this.store.changeToken();
      // After a failed read, rebuild even without a change, so readiness recovers with the store.
      if (token !== this.lastToken || this.lastError !== null) await this.refresh();
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  /** Wakes when the first routable instance expires, so it leaves routing on time. */
  private scheduleExpiry(): void {
    let at = Infinity;
    for (const t of this.expiry.values()) if (t < at) at = t;
    if (at === this.expiryAt && this.expiryTimer) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.expiryAt = at;
    if (!Number.isFinite(at)) return;
    this.expiryTimer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()) + 5);
    this.expiryTimer.unref();
  }

  /** Recompiles, from memory, only the services whose instances ran out. */
  private expire(): void {
    this.expiryTimer = null;
    const now = Date.now();
    const due = new Map<string, ServiceSource>();
    for (const [name, at] of this.expiry) {
      if (at > now) continue;
      const src = this.sources.get(name);
      if (src) due.set(name, src);
      else this.expiry.delete(name);
    }
    if (due.size > 0) {
      const cur = this.holder.current;
      this.swapIn(updateSnapshot(cur, { revision: cur.revision, services: due }, now), due.keys(), now);
    }
    this.scheduleExpiry();
  }
}
