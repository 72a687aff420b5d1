'use strict';
// Load generators behind one interface: fixed concurrency (wrk, else autocannon) and fixed rate
// (rate-client.js: open loop, microsecond latencies). Every result has the same shape:
// {tool, requests, rps, p50, p90, p99, max (ms), non2xx, socketErrors, errors}.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { which } = require('./procs');

const WRK = which('wrk');

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} exited ${code}: ${err || out}`))));
  });
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60000 };
function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

/** Parses `wrk --latency` output. */
function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? toMs(m[1]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const maxM = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(out);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: maxM ? toMs(maxM[1]) : NaN,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors,
  };
}

function finish(tool, r) {
  // JSON turns NaN (no sample) into null; keep it NaN so it never passes for a number.
  for (const k of ['rps', 'p50', 'p90', 'p99', 'max']) if (typeof r[k] !== 'number') r[k] = NaN;
  return { tool, ...r, errors: r.non2xx + r.socketErrors };
}

/** Closed loop: `connections` keep one request each in flight for `durationS` seconds. */
async function fixedConcurrency({ url, host, connections, durationS }) {
  if (WRK) {
    // wrk takes whole seconds only.
    const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(durationS))}s`, '--latency', '--timeout', '5s'];
    if (host) args.push('-H', `Host: ${host}`);
    args.push(url);
    return finish('wrk', parseWrk(await run(WRK, args)));
  }
  const out = await run(process.execPath, [path.join(__dirname, 'autocannon-client.js'), JSON.stringify({ url, host, connections, durationS })]);
  return finish('autocannon', JSON.parse(out));
}

/** Open loop at `rate` requests per second (after a short unmeasured warm-up). */
async function fixedRate({ url, host, rate, durationS, warmupS = 1 }) {
  const out = await run(process.execPath, [path.join(__dirname, 'rate-client.js'), JSON.stringify({ url, host, rate, durationS, warmupS })]);
  return finish('rate-client', JSON.parse(out));
}

module.exports = { fixedConcurrency, fixedRate, parseWrk, toMs, loadTool: () => (WRK ? `wrk (${WRK}, -t1)` : 'autocannon') };
