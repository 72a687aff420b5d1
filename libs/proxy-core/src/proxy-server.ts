import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BodyIdleTimer } from './body-timeout';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { handleClientError, writeRawError } from './client-error';
import { peerServiceName } from './mesh-identity';
import { setPeerService } from './mesh-trust';
import type { TlsMaterial } from './tls-material';
import type { UpgradeHandler } from './websocket-proxy';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Per-listener limits; every field has the default shown. */
export interface ListenerOptions {
  /** Request head size limit in bytes (431 beyond): 32 KiB. */
  maxHeaderSize?: number;
  /** Header fields past this are still parsed so the guard can answer 431 rather than drop them: 100. */
  maxHeaderCount?: number;
  /** Slowloris guard: a request head must arrive within this long: 20 s. */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long: 65 s. */
  keepAliveTimeoutMs?: number;
  /** A request body that stalls this long between bytes gets 408 (or a cut, once answering): 30 s; 0 = off. */
  bodyIdleTimeoutMs?: number;
  /** Open connections past this are refused (and counted); 0 = no limit. */
  maxConnections?: number;
  /** Protocol upgrades (WebSocket); without one they are served as plain requests. */
  upgrade?: UpgradeHandler;
  /** Serve over TLS; without it, plain HTTP. */
  tls?: ListenerTls;
}

/**
 * 'tls': the server certificate; a client certificate is asked for when a CA is given but not required.
 * 'mtls': a client certificate signed by the CA is required: anyone else is refused at the handshake.
 */
export interface ListenerTls {
  mode: 'tls' | 'mtls';
  material: TlsMaterial;
}

/** Server-side TLS options of a listener for the given material. */
export function serverTlsOptions(mode: ListenerTls['mode'], m: TlsMaterial): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  return {
    cert: m.cert ?? undefined,
    key: m.key ?? undefined,
    ca: m.ca ?? undefined,
    requestCert: mode === 'mtls' || m.ca !== null,
    rejectUnauthorized: mode === 'mtls',
  };
}

/**
 * A data-plane listener: plain node:http (no framework on the hot path), hardened defaults,
 * and a drain that lets in-flight requests finish.
 */
export class ProxyServer {
  /** An https.Server when the listener serves TLS (it has every http.Server member used here). */
  readonly server: http.Server;
  private readonly tlsServer: https.Server | null;
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private refused = 0;
  private readonly upgraded = new Set<Duplex>();
  private readonly bodyTimer: BodyIdleTimer | null;

  constructor(private readonly name: string, handler: RequestHandler, opts: ListenerOptions = {}) {
    const headersTimeout = opts.headersTimeoutMs ?? 20_000;
    const maxHeaderSize = opts.maxHeaderSize ?? 32 * 1024;
    const bodyIdleMs = opts.bodyIdleTimeoutMs ?? 30_000;
    const bodyTimer = (this.bodyTimer = bodyIdleMs > 0 ? new BodyIdleTimer(bodyIdleMs) : null);
    const tls = opts.tls;
    let tlsServer: https.Server | null = null;
    const create = (o: http.ServerOptions, h: http.RequestListener): http.Server => {
      if (!tls) return http.createServer(o, h);
      tlsServer = https.createServer({ ...o, ...serverTlsOptions(tls.mode, tls.material) }, h);
      return tlsServer as unknown as http.Server;
    };
    this.server = create(
      {
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
        headersTimeout,
        requestTimeout: 0, // long bodies and streams are the upstream's business; headersTimeout guards slowloris
        // Node checks headersTimeout only this often (30 s by default): a quarter of it, 100 ms to 1 s.
        connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersTimeout / 4))),
        maxHeaderSize,
        joinDuplicateHeaders: false,
        // The request guard answers a missing Host itself, with a JSON error like every other.
        requireHostHeader: false,
      },
      (req, res) => {
        this.inFlight++;
        res.on('close', () => {
          this.inFlight--;
          if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
        // While draining, tell keep-alive clients to reconnect elsewhere.
        if (this.draining) res.shouldKeepAlive = false;
        bodyTimer?.watch(req, res);
        try {
          handler(req, res);
        } catch (err) {
          // A bug in a pass must cost one request, never the process.
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'application/json', 'x-mesher-error': 'INTERNAL' });
            res.end(JSON.stringify({ code: 'INTERNAL', message: (err as Error).message }));
          } else res.destroy();
        }
      },
    );
    this.tlsServer = tlsServer as https.Server | null; // assigned inside create()
    this.server.on('clientError', (err: Error, socket: Duplex) => handleClientError(err, socket, maxHeaderSize));
    // The caller's service, read from its verified certificate once per connection.
    this.tlsServer?.on('secureConnection', (s: TLSSocket) => {
      setPeerService(s, s.authorized ? peerServiceName(s.getPeerCertificate()) : null);
    });
    // Node silently ignores fields past maxHeadersCount; one more than the limit lets the guard see them.
    this.server.maxHeadersCount = (opts.maxHeaderCount ?? 100) + 1;
    if (opts.maxConnections && opts.maxConnections > 0) this.server.maxConnections = opts.maxConnections;
    this.server.on('drop', () => this.refused++);
    // Without a CONNECT handler of its own (egress), a listener refuses tunnels with a clear error
    // rather than Node's silent close.
    this.server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
      if (this.server.listenerCount('connect') > 1) return;
      socket.on('error', () => socket.destroy());
      writeRawError(socket, 'BAD_REQUEST', 'CONNECT tunnels are not supported: call services over http://');
    });
    const upgrade = opts.upgrade;
    if (upgrade) {
      this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        // Node has removed its own error listener: one must be there before anything can fail.
        socket.on('error', () => socket.destroy());
        if (this.draining) {
          writeRawError(socket, 'DRAINING', `${this.name} listener is shutting down`);
          return;
        }
        this.upgraded.add(socket);
        socket.once('close', () => this.upgraded.delete(socket));
        try {
          upgrade(req, socket, head);
        } catch {
          socket.destroy();
        }
      });
    }
  }

  /** Rotation: new connections use the new material, open ones keep theirs. Throws when it is unusable. */
  setTlsMaterial(mode: ListenerTls['mode'], m: TlsMaterial): void {
    if (!this.tlsServer) throw new Error(`${this.name} listener does not serve TLS`);
    this.tlsServer.setSecureContext(serverTlsOptions(mode, m));
  }

  /** Connections refused because the listener was at its connection limit. */
  get refusedConnections(): number {
    return this.refused;
  }

  /** Requests answered 408 (or cut) because their body stalled past the body idle timeout. */
  get bodyTimeouts(): number {
    return this.bodyTimer?.timedOut ?? 0;
  }

  /** Upgraded (e.g. WebSocket) connections open now. */
  get upgradedConnections(): number {
    return this.upgraded.size;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`${this.name} listener cannot bind ${host}:${port}: ${err.message}`));
      this.server.once('error', onError);
      // A deep accept queue: bursts of connections wait in the kernel instead of being reset.
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  address(): AddressInfo | null {
    const a = this.server.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** Stops accepting, lets in-flight requests finish for up to `drainMs`, then cuts what is left. */
  async close(drainMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((r) => this.idleWaiters.push(r)),
        new Promise<void>((r) => setTimeout(r, drainMs).unref()),
      ]);
    }
    this.server.closeAllConnections();
    for (const s of this.upgraded) s.destroy();
    this.bodyTimer?.stop();
    await closed;
  }
}
