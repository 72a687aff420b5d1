import * as http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

/** A minimal RFC 6455 implementation for tests: single-frame text/binary messages, ping, close. */

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const acceptKey = (key: string): string => createHash('sha1').update(key + GUID).digest('base64');

export interface Frame {
  opcode: number;
  payload: Buffer;
}

export function encodeFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head: number[] = [0x80 | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** Incremental frame decoder: feed bytes, get whole frames. */
export class FrameReader {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      if (this.buf.length < 2) break;
      const opcode = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const need = off + (masked ? 4 : 0) + len;
      if (this.buf.length < need) break;
      let payload = this.buf.subarray(off + (masked ? 4 : 0), need);
      if (masked) {
        const key = this.buf.subarray(off, off + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
      } else payload = Buffer.from(payload);
      out.push({ opcode, payload });
      this.buf = this.buf.subarray(need);
    }
    return out;
  }
}

export interface WsEchoServer {
  /** Headers of every upgrade request received. */
  upgrades: http.IncomingHttpHeaders[];
  /** Server-side sockets of open connections. */
  sockets: Set<Duplex>;
  /** Closed server-side connections (any reason). */
  closed: number;
}

/**
 * Makes `server` answer WebSocket upgrades and echo every message back; a text message 'bye' closes.
 * `intercept` may take over a request ('handled') or delay the 101 by some milliseconds.
 */
export function attachWebSocketEcho(
  server: http.Server,
  intercept?: (req: http.IncomingMessage, socket: Duplex) => 'handled' | number | void,
): WsEchoServer {
  const state: WsEchoServer = { upgrades: [], sockets: new Set(), closed: 0 };
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    // Server sockets allow half-open connections: answer the peer's FIN, as WebSocket servers do.
    socket.on('end', () => socket.end());
    state.upgrades.push(req.headers);
    const decision = intercept?.(req, socket);
    if (decision === 'handled') return;
    if (typeof decision === 'number' && decision > 0) {
      setTimeout(() => {
        if (!socket.destroyed) accept(req, socket);
      }, decision);
      return;
    }
    accept(req, socket);
  });

  function accept(req: http.IncomingMessage, socket: Duplex): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    state.sockets.add(socket);
    socket.once('close', () => {
      state.sockets.delete(socket);
      state.closed++;
    });
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nX-Echo: 1\r\n\r\n`,
    );
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.opcode === 0x8) {
          socket.end(encodeFrame(0x8, f.payload, false));
          return;
        }
        if (f.opcode === 0x9) socket.write(encodeFrame(0xa, f.payload, false));
        else if (f.opcode === 0x1 && f.payload.toString() === 'bye') socket.end(encodeFrame(0x8, Buffer.from([0x03, 0xe8]), false));
        else if (f.opcode === 0x1 || f.opcode === 0x2) socket.write(encodeFrame(f.opcode, f.payload, false));
      }
    });
  }
  return state;
}

export interface WsClient {
  socket: Duplex;
  response: http.IncomingMessage;
  send(text: string | Buffer): void;
  /** The next data frame from the server (text or binary), or rejects when the connection closes first. */
  next(timeoutMs?: number): Promise<Frame>;
  /** Resolves when the TCP connection is closed. */
  closed: Promise<void>;
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`upgrade refused: ${status} ${body}`);
  }
}

/** Opens a WebSocket to http://hostPort with `Host: host` (the service name when going through Mesher). */
export function connectWebSocket(hostPort: string, path: string, host: string, headers: http.OutgoingHttpHeaders = {}): Promise<WsClient> {
  const i = hostPort.lastIndexOf(':');
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostPort.slice(0, i),
      port: Number(hostPort.slice(i + 1)),
      path,
      agent: false,
      headers: {
        host,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': key,
        ...headers,
      },
    });
    req.setTimeout(10_000, () => req.destroy(new Error('websocket handshake timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body)));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket, head) => {
      socket.on('error', () => socket.destroy());
      if (res.headers['sec-websocket-accept'] !== acceptKey(key)) {
        socket.destroy();
        reject(new Error(`bad Sec-WebSocket-Accept: ${String(res.headers['sec-websocket-accept'])}`));
        return;
      }
      const reader = new FrameReader();
      const queue: Frame[] = [];
      const waiters: Array<{ ok: (f: Frame) => void; fail: (e: Error) => void }> = [];
      let ended = false;
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      const deliver = (chunk: Buffer) => {
        for (const f of reader.push(chunk)) {
          if (f.opcode !== 0x1 && f.opcode !== 0x2) continue;
          const w = waiters.shift();
          if (w) w.ok(f);
          else queue.push(f);
        }
      };
      if (head.length > 0) deliver(head);
      socket.on('data', deliver);
      void closed.then(() => {
        ended = true;
        for (const w of waiters.splice(0)) w.fail(new Error('connection closed'));
      });
      resolve({
        socket,
        response: res,
        closed,
        send: (data) => socket.write(encodeFrame(typeof data === 'string' ? 0x1 : 0x2, Buffer.from(data), true)),
        next: (timeoutMs = 5000) =>
          new Promise<Frame>((ok, fail) => {
            const f = queue.shift();
            if (f) return ok(f);
            if (ended) return fail(new Error('connection closed'));
            const timer = setTimeout(() => fail(new Error('no websocket message in time')), timeoutMs);
            waiters.push({
              ok: (x) => {
                clearTimeout(timer);
                ok(x);
              },
              fail: (e) => {
                clearTimeout(timer);
                fail(e);
              },
            });
          }),
      });
    });
    req.end();
  });
}
