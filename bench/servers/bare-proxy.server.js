'use strict';
// The engine's limit: a bare http-proxy forwarder to one fixed target, with the same keep-alive agent
// settings as Mesher's HttpTransport (libs/proxy-core/src/upstream-transport.ts) and the same
// server timeouts as its ProxyServer, but no routing, policies, header rewriting or observers.
//
// With --node-http (a reference) the same forward is written with node:http alone, as Mesher's
// transport writes it: the engine Mesher runs on, without http-proxy's per-request work.
//
// With --mesh-headers (a reference, not one of the scenarios) it also sends the fields the
// resolved issues make Mesher send on every request (#2: X-Forwarded-For, -Proto, -Host and X-Request-Id;
// #5: a traceparent for a new trace; RFC 9110: Via) and the two Mesher adds to the response (Via,
// X-Request-Id), and nothing else of Mesher: what it costs over the plain forwarder is what those
// fields cost Node's HTTP stack.
// Usage: node bare-proxy.server.js <target-url> [--node-http] [--mesh-headers]. Prints {"ready":true,"port":N}.
const http = require('node:http');
const { randomFillSync, randomUUID } = require('node:crypto');
const httpProxy = require('http-proxy');

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: bare-proxy.server.js <target-url> [--node-http] [--mesh-headers]\n');
  process.exit(2);
}
const meshHeaders = process.argv.includes('--mesh-headers');
const nodeHttp = process.argv.includes('--node-http');
const { hostname, port } = new URL(target);
const VIA = `1.1 mesher-${process.pid}-bench0`;
// Trace and span ids cut from a pool, as Mesher does (one getrandom per 4 KiB, not per id).
const pool = Buffer.alloc(4096);
let used = pool.length;
const hex = (n) => {
  if (used + n > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += n;
  return pool.toString('hex', used - n, used);
};

const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
const proxy = httpProxy.createProxyServer({ agent, xfwd: false, changeOrigin: false, ws: false });
if (meshHeaders) {
  proxy.on('proxyRes', (proxyRes, req) => {
    proxyRes.headers.via = VIA;
    proxyRes.headers['x-request-id'] = req.headers['x-request-id'];
  });
}
const server = http.createServer(
  { keepAliveTimeout: 65_000, headersTimeout: 20_000, requestTimeout: 0, maxHeaderSize: 32 * 1024 },
  (req, res) => {
    if (meshHeaders) {
      const h = req.headers;
      h['x-forwarded-for'] = req.socket.remoteAddress ?? '';
      h['x-forwarded-proto'] = 'http';
      h['x-forwarded-host'] = h.host ?? '';
      h['x-request-id'] = randomUUID();
      h.traceparent = `00-${hex(16)}-${hex(8)}-01`;
      h.via = VIA;
    }
    const fail = () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    };
    if (!nodeHttp) return proxy.web(req, res, { target }, fail);
    const up = http.request({ host: hostname, port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      if (meshHeaders) {
        upRes.headers.via = VIA;
        upRes.headers['x-request-id'] = req.headers['x-request-id'];
      }
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', fail);
    req.pipe(up);
  },
);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
