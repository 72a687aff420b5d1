'use strict';
// The fixed upstream every scenario ends at: a minimal node:http server with a small constant body.
// Runs in its own process so its CPU is not the harness's. Prints {"ready":true,"port":N}.
const http = require('node:http');

const BODY = Buffer.from('hello from the bench upstream\n');
const server = http.createServer((req, res) => {
  // Drain any request body (none in the benchmark) so keep-alive stays usable.
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
