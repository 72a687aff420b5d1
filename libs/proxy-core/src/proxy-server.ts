import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { handleClientError, writeRawError } from './client-error';
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
  /** Longest URL, used to tell an over-long request line (414) from over-long headers (431): 8 KiB. */
  maxUrlLength?: number;
  /** Open connections past this are refused (and counted); 0 = no limit. */
  maxConnections?: number;
  /** Protocol upgrades (WebSocket); without one they are served as plain requests. */
  upgrade?: UpgradeHandler;
}

/**
 * A data-plane listener: plain node:http (no framework on the hot path), hardened defaults,
 * and a drain that lets in-flight requests finish.
 */
export class ProxyServer {
  readonly server: http.Server;
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private refused = 0;
  private readonly upgraded = new Set<Duplex>();

  constructor(private readonly name: string, handler: RequestHandler, opts: ListenerOptions = {}) {
    const headersTimeout = opts.headersTimeoutMs ?? 20_000;
    this.server = http.createServer(
      {
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
        headersTimeout,
        requestTimeout: 0, // long bodies and streams are the upstream's business; headersTimeout guards slowloris
        // Node checks headersTimeout only this often (30 s by default): a quarter of it, 100 ms to 1 s.
        connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersTimeout / 4))),
        maxHeaderSize: opts.maxHeaderSize ?? 32 * 1024,
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
    this.server.on('clientError', (err: Error, socket: Duplex) => handleClientError(err, socket, opts.maxUrlLength));
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

  /** Connections refused because the listener was at its connection limit. */
  get refusedConnections(): number {
    return this.refused;
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
    await closed;
  }
}
