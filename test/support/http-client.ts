import * as http from 'node:http';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = unknown>(): T;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function result(status: number, headers: http.IncomingHttpHeaders, body: string): HttpResult {
  return { status, headers, body, json: <T>() => JSON.parse(body) as T };
}

/** A plain HTTP request to host:port; `target` is written as-is on the request line (absolute-form for proxies). */
export function request(
  hostPort: string,
  method: string,
  target: string,
  opts: { headers?: http.OutgoingHttpHeaders; body?: string | Buffer; timeoutMs?: number; agent?: http.Agent | false } = {},
): Promise<HttpResult> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: target, headers: opts.headers, agent: opts.agent === undefined ? agent : opts.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(result(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`timeout: ${method} ${target}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1))];
}

/** GET/POST through an HTTP proxy the way http_proxy clients do (absolute-form request line). */
export function viaProxy(proxy: string, method: string, url: string, opts: Parameters<typeof request>[3] = {}): Promise<HttpResult> {
  return request(proxy, method, url, opts);
}

/** JSON call to the admin API. */
export function api(admin: string, method: string, path: string, body?: unknown, headers: http.OutgoingHttpHeaders = {}): Promise<HttpResult> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return request(admin, method, path, {
    headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: payload,
  });
}
