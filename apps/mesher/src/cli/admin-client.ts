import * as http from 'node:http';
import * as https from 'node:https';

export class AdminCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A small client of the admin REST API for the CLI (actor 'cli' in the revision history). */
export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
    const url = new URL(path, this.baseUrl);
    const mod = url.protocol === 'https:' ? https : http;
    const headers: http.OutgoingHttpHeaders = { 'x-mesher-actor': 'cli', accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.baseUrl} within 30 s`)));
      req.on('error', (e) => reject(new AdminCallError(`cannot reach the admin API at ${this.baseUrl}: ${e.message}`, 0)));
      req.end(body);
    });
  }

  /** JSON call; a non-2xx answer becomes an error carrying the API's message. */
  async json<T>(method: string, path: string, body?: string, contentType?: string): Promise<T> {
    const r = await this.request(method, path, body, contentType);
    if (r.status < 200 || r.status >= 300) {
      let msg = r.body;
      try {
        const e = JSON.parse(r.body) as { message?: string; errors?: Array<{ field: string; message: string }> };
        msg = e.errors?.length ? e.errors.map((x) => `  ${x.field}: ${x.message}`).join('\n') : (e.message ?? r.body);
        if (e.errors?.length) msg = `${e.message ? '' : ''}invalid input:\n${msg}`;
      } catch {
        /* not JSON: show as is */
      }
      throw new AdminCallError(`${method} ${path} failed (${r.status}): ${msg}`, r.status);
    }
    return (r.body ? JSON.parse(r.body) : undefined) as T;
  }
}
