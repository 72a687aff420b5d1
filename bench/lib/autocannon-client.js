'use strict';
// Fixed-concurrency load with autocannon (used when wrk is not installed), in its own process.
// Usage: node autocannon-client.js '{"url":"...","host":"bench","connections":50,"durationS":10}'
// or with "amount" instead of "durationS". Prints one JSON line in the same shape as the wrk runner.
const autocannon = require('autocannon');

const cfg = JSON.parse(process.argv[2]);
const opts = { url: cfg.url, connections: cfg.connections, headers: cfg.host ? { host: cfg.host } : {} };
if (cfg.amount) opts.amount = cfg.amount;
else opts.duration = cfg.durationS;
autocannon(opts, (err, r) => {
  if (err) {
    process.stderr.write(`autocannon failed: ${err.message}\n`);
    process.exit(1);
  }
  const total = r.requests.total;
  process.stdout.write(
    JSON.stringify({
      requests: total,
      rps: total / r.duration,
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      non2xx: r.non2xx,
      socketErrors: r.errors,
    }) + '\n',
  );
});
