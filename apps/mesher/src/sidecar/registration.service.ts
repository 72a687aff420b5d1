import { Inject, Injectable, Logger } from '@nestjs/common';
import { AdminError, type InstanceStatus } from '@mesher/contracts';
import type { MesherConfig } from '../config/config.schema';
import { RegistryService } from '../registry/registry.service';
import { MESHER_CONFIG } from '../tokens';

/**
 * Sidecar self-registration: the local app is registered under its service name with this Mesher's
 * inbound address as endpoint, kept alive by heartbeats (re-registered if the registry lost it),
 * and marked DOWN/UP by the app health check and DRAINING on shutdown.
 */
@Injectable()
export class RegistrationService {
  private readonly log = new Logger('sidecar');
  private timer: NodeJS.Timeout | null = null;
  private endpoint = '';
  private status: InstanceStatus = 'UP';
  instanceId: string | null = null;
  lastHeartbeatError: string | null = null;
  /** False until a registration went through: heartbeats alone would keep an older registration (version, labels) alive. */
  private registered = false;

  constructor(
    @Inject(MESHER_CONFIG) private readonly cfg: MesherConfig,
    private readonly registry: RegistryService,
  ) {}

  get actor(): string {
    return `sidecar:${this.cfg.serviceName}@${this.endpoint}`;
  }

  async start(inboundHost: string, inboundPort: number, initialStatus: InstanceStatus): Promise<void> {
    const host = this.cfg.advertiseAddress ?? (inboundHost === '0.0.0.0' || inboundHost === '::' ? '127.0.0.1' : inboundHost);
    // A TLS inbound listener is registered as https://: consumers then call it with mesh TLS.
    const scheme = this.cfg.inboundTls === 'off' ? 'http' : 'https';
    this.endpoint = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${inboundPort}`;
    this.instanceId = `${this.cfg.serviceName}@${host}:${inboundPort}`;
    this.status = initialStatus;
    await this.register().catch((e: unknown) => {
      // A registry that cannot be reached (etcd outage) must not stop the start: the heartbeats register once it answers.
      if (!(e instanceof AdminError && e.code === 'UNAVAILABLE')) throw e;
      this.lastHeartbeatError = e.message;
      this.log.warn(`cannot register yet (${e.message}); will register when the registry answers`);
    });
    this.timer = setInterval(() => void this.beat(), this.cfg.heartbeatIntervalMs);
    this.timer.unref();
  }

  private async register(): Promise<void> {
    const labels = { ...this.cfg.labels, ...(this.cfg.appId ? { app: this.cfg.appId } : {}) };
    await this.registry.store.registerInstance(
      this.cfg.serviceName!,
      {
        id: this.instanceId!,
        endpoint: this.endpoint,
        version: this.cfg.serviceVersion,
        labels,
        status: this.status,
        ttl: this.cfg.instanceTtlSeconds,
        registeredBy: this.actor,
      },
      this.actor,
    );
    this.registered = true;
    await this.registry.refresh();
  }

  private async beat(): Promise<void> {
    if (!this.instanceId) return;
    if (!this.registered) {
      // Started while the registry was unreachable: register (this process's version, labels, status) before beating.
      await this.register().then(
        () => (this.lastHeartbeatError = null),
        (e: Error) => (this.lastHeartbeatError = e.message),
      );
      return;
    }
    try {
      const inst = await this.registry.store.heartbeat(this.cfg.serviceName!, this.instanceId);
      if (inst.status !== this.status) await this.setStatus(this.status);
      this.lastHeartbeatError = null;
    } catch (e) {
      if (e instanceof AdminError && e.code === 'NOT_FOUND') {
        // The registry lost us (expired, deleted, store reset): come back.
        this.log.warn(`instance ${this.instanceId} is gone from the registry; registering again`);
        await this.register().catch((err: Error) => (this.lastHeartbeatError = err.message));
      } else {
        this.lastHeartbeatError = (e as Error).message;
        this.log.warn(`heartbeat failed: ${this.lastHeartbeatError}`);
      }
    }
  }

  async setStatus(status: InstanceStatus): Promise<void> {
    this.status = status;
    if (!this.instanceId) return;
    try {
      await this.registry.store.updateInstance(this.cfg.serviceName!, this.instanceId, { status }, this.actor);
    } catch (e) {
      if (e instanceof AdminError && e.code === 'NOT_FOUND') await this.register();
      else throw e;
    }
    await this.registry.refresh();
  }

  /** Stops heartbeats and removes the instance (last step of a graceful shutdown). */
  async deregister(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.instanceId) return;
    const id = this.instanceId;
    this.instanceId = null;
    try {
      await this.registry.store.deleteInstance(this.cfg.serviceName!, id, this.actor);
    } catch (e) {
      if (!(e instanceof AdminError && e.code === 'NOT_FOUND')) this.log.warn(`deregistration failed: ${(e as Error).message}`);
    }
  }
}
