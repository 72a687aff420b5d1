'use strict';
// Mesher's data plane without the Nest app: the outbound handler from @mesher/proxy-core over a
// one-service snapshot (default policies), on a ProxyServer, no observer. Isolates what the libs
// cost from what the application around them costs.
// Usage: node core-proxy.server.js <upstream-url>. Prints {"ready":true,"port":N}.
const { instanceRecord } = require('@mesher/contracts');
const { buildSnapshot, SnapshotHolder } = require('@mesher/registry');
const { createOutboundHandler, HttpTransport, ProxyServer, RuntimeTable } = require('@mesher/proxy-core');

const target = process.argv[2];
const now = Date.now();
const state = {
  revision: 1,
  services: [{ name: 'bench', app: null, description: null }],
  instances: [instanceRecord('bench', 'up', { endpoint: target, lastHeartbeat: now })],
  routes: [],
  policies: [],
};
const holder = new SnapshotHolder(buildSnapshot(state, now));
const runtimes = new RuntimeTable();
runtimes.sync(holder.current, now);
const server = new ProxyServer(
  'outbound',
  createOutboundHandler({ holder, runtimes, transport: new HttpTransport(), serviceName: null, via: '1.1 bench-core' }),
);
server.listen(0, '127.0.0.1').then((a) => process.stdout.write(JSON.stringify({ ready: true, port: a.port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
