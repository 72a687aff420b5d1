import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RegistryStore } from '@mesher/persistence';
import { buildSnapshot, SnapshotHolder } from '@mesher/registry';
import { REGISTRY_STORE } from '../tokens';

/**
 * Control -> data, one way: reads the store, builds an immutable snapshot, swaps it in.
 * Rebuilds after every local write, when another process committed (polled change token),
 * and when an instance's TTL runs out.
 */
@Injectable()
export class RegistryService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('registry');
  private lastToken = -1;
  private pollTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
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

  /** Rebuilds from the store; concurrent calls coalesce into at most one more rebuild. */
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
          const state = await this.store.loadState();
          this.lastToken = token;
          const snap = buildSnapshot(state, Date.now());
          this.holder.swap(snap);
          this.scheduleExpiry(snap.expiresAt);
          this.lastError = null;
        } while (this.again);
      } catch (e) {
        const message = (e as Error).message;
        // Retried every poll while the store fails: say it once per distinct failure.
        if (message !== this.lastError) this.log.error(`snapshot rebuild failed, keeping the previous one: ${message}`);
        this.lastError = message;
      } finally {
        this.rebuilding = null;
      }
    })();
    return this.rebuilding;
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

  /** Rebuilds from the same state when the first instance expires, so it leaves routing on time. */
  private scheduleExpiry(at: number): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (!Number.isFinite(at)) return;
    const delay = Math.max(0, at - Date.now()) + 5;
    this.expiryTimer = setTimeout(() => {
      const cur = this.holder.current;
      const snap = buildSnapshot(cur.state, Date.now());
      this.holder.swap(snap);
      this.scheduleExpiry(snap.expiresAt);
    }, delay);
    this.expiryTimer.unref();
  }
}
