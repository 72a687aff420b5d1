'use strict';
// Open-loop load at a fixed request rate, in its own process. Why not autocannon's overallRate:
// it lets each connection send its share of a second back to back and then waits for the next
// second, so "1,000 req/s" arrives as bursts, and its latency histogram has 1 ms resolution.
// Here a request is started every 1/rate s whatever the responses do (new sockets are opened when
// all are busy), and latency is measured with a microsecond clock from the moment the request
// was started (agent queueing included) to the end of the response body.
//
// Usage: node rate-client.js '{"url":"http://127.0.0.1:8080/","host":"bench","rate":1000,"durationS":10}'
// Prints one JSON line: {requests, completed, rps, p50, p90, p99, max, non2xx, socketErrors} (ms).
const http = require('node:http');
const { percentile } = require('./stats');

const cfg = JSON.parse(process.argv[2]);
const url = new URL(cfg.url);
const rate = cfg.rate;
const durationMs = cfg.durationS * 1000;
const warmupMs = (cfg.warmupS ?? 1) * 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.maxSockets ?? 256 });
const headers = cfg.host ? { host: cfg.host } : {};

const latencies = new Float64Array(Math.ceil((rate * durationMs) / 1000) + 16);
let recorded = 0;
let started = 0;
let completed = 0;
let non2xx = 0;
let socketErrors = 0;
let inFlight = 0;
let measuring = false;

function fire() {
  const t0 = performance.now();
  const measured = measuring;
  if (measured) started++;
  inFlight++;
  const req = http.request(
    { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET', agent, headers },
    (res) => {
      res.on('data', () => undefined);
      res.on('end', () => {
        inFlight--;
        if (!measured) return;
        completed++;
        if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        else if (recorded < latencies.length) latencies[recorded++] = performance.now() - t0;
      });
    },
  );
  req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  req.on('error', () => {
    inFlight--;
    if (measured) socketErrors++;
  });
  req.end();
}

/** Sends at `rate` for `ms`, catching up on timer lateness so the average rate holds. */
function phase(ms) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let sent = 0;
    const total = Math.round((rate * ms) / 1000);
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve(performance.now() - t0);
      }
    };
    const timer = setInterval(tick, 1);
  });
}

async function main() {
  await phase(warmupMs); // opens the sockets and warms the JIT; not measured
  measuring = true;
  const elapsed = await phase(durationMs);
  measuring = false;
  // Let the last responses arrive (bounded).
  const deadline = performance.now() + 10_000;
  while (completed + socketErrors < started && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const lat = latencies.subarray(0, recorded).sort();
  process.stdout.write(
    JSON.stringify({
      requests: started,
      completed,
      rps: (completed / elapsed) * 1000,
      p50: percentile(lat, 50),
      p90: percentile(lat, 90),
      p99: percentile(lat, 99),
      max: lat.length ? lat[lat.length - 1] : NaN,
      non2xx,
      // Every measured request that did not complete counts: socket errors and ones still unanswered.
      socketErrors: started - completed,
      inFlightAtEnd: inFlight,
    }) + '\n',
  );
  agent.destroy();
  process.exit(0);
}

main();
