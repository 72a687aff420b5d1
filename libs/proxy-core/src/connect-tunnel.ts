import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { findEgress, type SnapshotHolder } from '@mesher/registry';
import { writeRawError } from './client-error';

export interface TunnelObserver {
  onTunnel?(host: string, port: number, outcome: 'opened' | 'denied' | 'failed'): void;
}

/**
 * CONNECT for https_proxy clients: a byte tunnel, only to host:port pairs an egress rule allows.
 * Mesher cannot see inside (TLS end to end), so only egress admission and connect errors apply.
 */
export function createConnectHandler(holder: SnapshotHolder, observer?: TunnelObserver, connectTimeoutMs = 10_000) {
  return function handleConnect(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', () => client.destroy());
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(req.url ?? '');
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) {
      writeRawError(client, 'BAD_REQUEST', `CONNECT needs host:port, got '${req.url ?? ''}'`);
      return;
    }
    const host = m[1].toLowerCase();
    if (!findEgress(holder.current.egress, host, port)) {
      observer?.onTunnel?.(host, port, 'denied');
      writeRawError(client, 'EGRESS_DENIED', `no egress rule allows ${host}:${port}`);
      return;
    }
    const upstream = net.connect({ host, port });
    upstream.setTimeout(connectTimeoutMs, () => upstream.destroy(new Error(`connect timed out after ${connectTimeoutMs} ms`)));
    let open = false;
    upstream.once('connect', () => {
      open = true;
      upstream.setTimeout(0);
      observer?.onTunnel?.(host, port, 'opened');
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err) => {
      if (!open) {
        observer?.onTunnel?.(host, port, 'failed');
        writeRawError(client, 'UPSTREAM_UNAVAILABLE', `cannot connect to ${host}:${port}: ${err.message}`);
      } else client.destroy();
    });
    // Either side closing closes the other.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  };
}
