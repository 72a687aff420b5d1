import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * A data-plane listener: plain node:http (no framework on the hot path), hardened defaults,
 * and a drain that lets in-flight requests finish.
 */
export class ProxyServer {
  readonly server: http.Server;
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly name: string, handler: RequestHandler) {
    this.server = http.createServer(
      {
        keepAliveTimeout: 65_000,
        headersTimeout: 20_000,
        requestTimeout: 0, // long bodies and streams are the upstream's business; headersTimeout guards slowloris
        connectionsCheckingInterval: 2_000, // Node checks headersTimeout only this often
        maxHeaderSize: 32 * 1024,
        joinDuplicateHeaders: false,
      },
      (req, res) => {
        this.inFlight++;
        res.once('close', () => {
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
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const body = JSON.stringify({ code: 'BAD_REQUEST', message: `malformed HTTP request: ${err.code ?? err.message}` });
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nx-mesher-error: BAD_REQUEST\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`${this.name} listener cannot bind ${host}:${port}: ${err.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
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
    await closed;
  }
}
