'use strict';
// The engine's limit: a bare http-proxy forwarder to one fixed target, with the same keep-alive agent
// settings as Mesher's HttpProxyTransport (libs/proxy-core/src/upstream-transport.ts) and the same
// server timeouts as its ProxyServer, but no routing, policies, header rewriting or observers.
// Usage: node bare-proxy.server.js <target-url>. Prints {"ready":true,"port":N}.
const http = require('node:http');
const httpProxy = require('http-proxy');

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: bare-proxy.server.js <target-url>\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
const proxy = httpProxy.createProxyServer({ agent, xfwd: false, changeOrigin: false, ws: false });
const server = http.createServer(
  { keepAliveTimeout: 65_000, headersTimeout: 20_000, requestTimeout: 0, maxHeaderSize: 32 * 1024 },
  (req, res) => {
    proxy.web(req, res, { target }, () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  },
);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
