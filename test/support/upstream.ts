import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  name: string;
  url: string;
  port: number;
  requests: RecordedRequest[];
  server: http.Server;
  close(): Promise<void>;
}

export type UpstreamBehaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** A real HTTP server on a free loopback port that records what it receives and answers with its name. */
export async function startUpstream(name: string, behaviour?: UpstreamBehaviour): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (behaviour) return behaviour(req, res, body);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(`${name} ${req.method} ${req.url}`);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    server,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
