import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import {
  ActiveHealthChecker,
  createConnectHandler,
  createHttpProber,
  createInboundHandler,
  EgressTable,
  createInboundUpgradeHandler,
  createOutboundHandler,
  createOutboundUpgradeHandler,
  dnsNames,
  ExplainLog,
  HttpTransport,
  loadTlsMaterial,
  ProxyServer,
  RuntimeTable,
  TlsFileWatcher,
  type ListenerTls,
  type TlsFiles,
  type TlsMaterial,
  type OverloadGuard,
  type RequestGuard,
  type RequestObserver,
} from '@mesher/proxy-core';
import { SnapshotHolder } from '@mesher/registry';
import type { MesherConfig } from '../config/config.schema';
import { EDGE_TLS_LABELS, MESH_TLS_LABELS } from '../config/load-config';
import { MESHER_CONFIG } from '../tokens';
import { ObservabilityService } from '../observability/observability.service';
import { listenerOptions, overloadGuard, registerDataPlaneMetrics, requestGuard } from './data-plane-limits';

/** Owns the data-plane listeners; the handlers read only the snapshot holder. */
@Injectable()
export class ProxyService {
  private readonly log = new Logger('proxy');
  readonly runtimes: RuntimeTable;
  readonly explanations = new ExplainLog();
  readonly transport: HttpTransport;
  /** Load shedding on event-loop delay and heap use, shared by both listeners. */
  readonly overload: OverloadGuard;
  private readonly guard: RequestGuard;
  readonly nodeId: string;
  outbound: ProxyServer | null = null;
  inbound: ProxyServer | null = null;
  edge: ProxyServer | null = null;
  private readonly egress = new EgressTable();
  /** --tls-cert, --tls-key, --tls-ca, and their material as read at start-up (the transport holds the current one). */
  private readonly meshFiles: TlsFiles;
  private readonly meshTls: TlsMaterial | null;
  private tlsWatcher: TlsFileWatcher | null = null;
  private edgeTlsWatcher: TlsFileWatcher | null = null;

  constructor(
    @Inject(MESHER_CONFIG) private readonly cfg: MesherConfig,
    private readonly holder: SnapshotHolder,
    private readonly obs: ObservabilityService,
  ) {
    this.nodeId = `mesher-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.meshFiles = { cert: cfg.tlsCert, key: cfg.tlsKey, ca: cfg.tlsCa };
    // Checked by loadConfig already; read again here so the service owns the material it watches.
    this.meshTls = cfg.tlsCert || cfg.tlsCa ? loadTlsMaterial(this.meshFiles, MESH_TLS_LABELS) : null;
    this.transport = new HttpTransport({ connectTimeoutMs: cfg.connectTimeoutMs, meshTls: this.meshTls });
    // Active health checks reach https:// sidecar instances with the same (current) mesh TLS as requests.
    this.runtimes = new RuntimeTable(new ActiveHealthChecker(createHttpProber(() => this.transport.meshTlsMaterial)));
    this.overload = overloadGuard(cfg);
    this.guard = requestGuard(cfg, this.overload);
    registerDataPlaneMetrics(obs.metrics.registry, () => [['outbound', this.outbound], ['inbound', this.inbound], ['edge', this.edge]], this.overload);
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

  async start(): Promise<{ outbound: AddressInfo; inbound: AddressInfo | null; edge: AddressInfo | null }> {
    this.overload.start();
    this.watchMeshTls();
    const limits = listenerOptions(this.cfg);
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
        guard: this.guard,
        egress: this.egress,
      }),
      {
        ...limits,
        upgrade: createOutboundUpgradeHandler({
          holder: this.holder,
          runtimes: this.runtimes,
          serviceName: this.cfg.serviceName,
          via: this.via,
          meshSecret: this.cfg.meshSecret,
          observer: this.observer,
          guard: this.guard,
          connectTimeoutMs: this.cfg.connectTimeoutMs,
          meshTls: () => this.transport.meshTlsMaterial,
        }),
      },
    );
    // https_proxy clients: CONNECT tunnels to hosts egress rules allow.
    this.outbound.server.on('connect', createConnectHandler(this.holder, undefined, this.cfg.connectTimeoutMs));
    const outbound = await this.outbound.listen(this.cfg.proxyPort, this.cfg.listenAddress);
    let edge: AddressInfo | null = null;
    if (this.cfg.mode === 'edge') {
      // Checked by loadConfig already; read here, as the mesh material is, so the watcher starts from what is served.
      const edgeTls = this.cfg.edgeTlsCert ? loadTlsMaterial(this.edgeFiles, EDGE_TLS_LABELS) : null;
      this.edge = new ProxyServer(
        'edge',
        createOutboundHandler({
          holder: this.holder,
          runtimes: this.runtimes,
          transport: this.transport,
          serviceName: null,
          via: this.via,
          observer: this.observer,
          explain: { allowed: (req) => this.explainAllowed(req.socket.remoteAddress), log: this.explanations },
          guard: this.guard,
          edge: true,
        }),
        {
          ...limits,
          upgrade: createOutboundUpgradeHandler({
            holder: this.holder,
            runtimes: this.runtimes,
            serviceName: null,
            via: this.via,
            observer: this.observer,
            guard: this.guard,
            connectTimeoutMs: this.cfg.connectTimeoutMs,
            edge: true,
          }),
          tls: edgeTls ? { mode: 'tls', material: edgeTls } : undefined,
        },
      );
      if (edgeTls) this.watchEdgeTls(edgeTls);
      edge = await this.edge.listen(this.cfg.edgePort, this.cfg.edgeAddress);
    }
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
          timeoutMs: this.cfg.inboundTimeoutMs,
          observer: this.observer,
          guard: this.guard,
        }),
        {
          ...limits,
          upgrade: createInboundUpgradeHandler({
            appUrl: `http://${this.cfg.appHost}:${this.cfg.appPort}`,
            serviceName: this.cfg.serviceName,
            runtimes: this.runtimes,
            via: this.via,
            meshSecret: this.cfg.meshSecret,
            observer: this.observer,
            guard: this.guard,
            connectTimeoutMs: this.cfg.connectTimeoutMs,
          }),
          tls: this.inboundTls(),
        },
      );
      inbound = await this.inbound.listen(this.cfg.inboundPort, this.cfg.inboundAddress);
    }
    return { outbound, inbound, edge };
  }

  private inboundTls(): ListenerTls | undefined {
    const mode = this.cfg.inboundTls;
    if (mode === 'off' || !this.meshTls) return undefined;
    const names = this.meshTls.leaf?.subjectAltName ?? '';
    if (this.cfg.serviceName && !dnsNames({ subjectaltname: names }).includes(this.cfg.serviceName)) {
      this.log.warn(`--tls-cert does not name DNS:${this.cfg.serviceName} (it has: ${names || 'no SAN'}); consumers will refuse it`);
    }
    return { mode, material: this.meshTls };
  }

  /** Rotation of --tls-*: the inbound listener and the outbound transport take new material without a restart. */
  private watchMeshTls(): void {
    if (!this.meshTls) return;
    this.tlsWatcher = new TlsFileWatcher(
      this.meshFiles,
      MESH_TLS_LABELS,
      this.meshTls,
      (m) => {
        if (this.inbound && this.cfg.inboundTls !== 'off') this.inbound.setTlsMaterial(this.cfg.inboundTls, m);
        this.transport.setMeshTls(m);
        this.log.warn(`mesh TLS material reloaded (certificate serial ${m.leaf?.serialNumber ?? '-'})`);
      },
      (message) => this.log.error(`mesh TLS files changed but cannot be used, keeping the previous ones: ${message}`),
    );
    this.tlsWatcher.start();
  }

  /** Rotation of --edge-tls-*: new connections to the edge get the new certificate, open ones keep theirs. */
  private watchEdgeTls(initial: TlsMaterial): void {
    this.edgeTlsWatcher = new TlsFileWatcher(
      this.edgeFiles,
      EDGE_TLS_LABELS,
      initial,
      (m) => {
        this.edge?.setTlsMaterial('tls', m);
        this.log.warn(`edge TLS certificate reloaded (serial ${m.leaf?.serialNumber ?? '-'})`);
      },
      (message) => this.log.error(`edge TLS files changed but cannot be used, keeping the previous ones: ${message}`),
    );
    this.edgeTlsWatcher.start();
  }

  private get edgeFiles(): TlsFiles {
    return { cert: this.cfg.edgeTlsCert, key: this.cfg.edgeTlsKey, ca: null };
  }

  private explainAllowed(addr: string | undefined): boolean {
    if (this.cfg.explain === 'always') return true;
    if (this.cfg.explain === 'off') return false;
    return !!addr && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
  }

  /** Graceful: stop accepting, let in-flight requests finish up to the drain timeout. */
  async stop(drainMs: number): Promise<void> {
    await Promise.all([this.outbound?.close(drainMs), this.inbound?.close(drainMs), this.edge?.close(drainMs)]);
    this.transport.close();
    this.runtimes.close();
    this.overload.stop();
    this.tlsWatcher?.stop();
    this.edgeTlsWatcher?.stop();
    this.log.log('data plane stopped');
  }
}
