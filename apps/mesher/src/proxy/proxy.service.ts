import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import {
  createInboundHandler,
  createOutboundHandler,
  ExplainLog,
  HttpProxyTransport,
  ProxyServer,
  RuntimeTable,
  type RequestObserver,
} from '@mesher/proxy-core';
import { SnapshotHolder } from '@mesher/registry';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG } from '../tokens';
import { ObservabilityService } from '../observability/observability.service';

/** Owns the data-plane listeners; the handlers read only the snapshot holder. */
@Injectable()
export class ProxyService {
  private readonly log = new Logger('proxy');
  readonly runtimes = new RuntimeTable();
  readonly explanations = new ExplainLog();
  readonly transport = new HttpProxyTransport();
  readonly nodeId: string;
  outbound: ProxyServer | null = null;
  inbound: ProxyServer | null = null;

  constructor(
    @Inject(MESHER_CONFIG) private readonly cfg: MesherConfig,
    private readonly holder: SnapshotHolder,
    private readonly obs: ObservabilityService,
  ) {
    this.nodeId = `mesher-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.runtimes.sync(holder.current, Date.now());
    // Swap listeners run synchronously inside swap(): no request sees a snapshot without its runtimes.
    holder.onSwap((s) => this.runtimes.sync(s, Date.now()));
  }

  get via(): string {
    return `1.1 ${this.nodeId}`;
  }

  get observer(): RequestObserver {
    return this.obs.observer;
  }

  async start(): Promise<{ outbound: AddressInfo; inbound: AddressInfo | null }> {
    this.outbound = new ProxyServer(
      'outbound',
      createOutboundHandler({
        holder: this.holder,
        runtimes: this.runtimes,
        transport: this.transport,
        serviceName: this.cfg.serviceName,
        via: this.via,
        meshSecret: this.cfg.meshSecret,
        observer: this.observer,
        explain: { allowed: (req) => this.explainAllowed(req.socket.remoteAddress), log: this.explanations },
      }),
    );
    const outbound = await this.outbound.listen(this.cfg.proxyPort, this.cfg.listenAddress);
    let inbound: AddressInfo | null = null;
    if (this.cfg.appPort !== null && this.cfg.serviceName && this.cfg.inboundPort !== null) {
      this.inbound = new ProxyServer(
        'inbound',
        createInboundHandler({
          appUrl: `http://${this.cfg.appHost}:${this.cfg.appPort}`,
          serviceName: this.cfg.serviceName,
          holder: this.holder,
          runtimes: this.runtimes,
          transport: this.transport,
          via: this.via,
          meshSecret: this.cfg.meshSecret,
          timeoutMs: 60_000,
          observer: this.observer,
        }),
      );
      inbound = await this.inbound.listen(this.cfg.inboundPort, this.cfg.inboundAddress);
    }
    return { outbound, inbound };
  }

  private explainAllowed(addr: string | undefined): boolean {
    if (this.cfg.explain === 'always') return true;
    if (this.cfg.explain === 'off') return false;
    return !!addr && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
  }

  /** Graceful: stop accepting, let in-flight requests finish up to the drain timeout. */
  async stop(drainMs: number): Promise<void> {
    await Promise.all([this.outbound?.close(drainMs), this.inbound?.close(drainMs)]);
    this.transport.close();
    this.runtimes.close();
    this.log.log('data plane stopped');
  }
}
