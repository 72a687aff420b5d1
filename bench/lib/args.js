'use strict';
// Command-line options of bench/run.js (see bench/README.md).
const path = require('node:path');

const HELP = `usage: npm run bench -- [options]   (or: node bench/run.js [options] after npm run build)

suites (default: --compare only; several may be combined):
  --compare           direct / bare http-proxy / Mesher 1 hop / Mesher 2 hops / nginx, fixed concurrency and fixed rate
  --scale             10,000 instances, 2,000 services, 1,000 route rules: snapshot build, ns/op, throughput
  --soak              1,000,000 requests through Mesher one hop; RSS after 100,000 and at the end
  --profile           Mesher one hop under load with --cpu-prof; top self-time functions
  --all               all of the above

options:
  --duration <s>      seconds per measurement (default 10)
  --rounds <n>        rounds, alternating order ABCDE EDCBA ... (default 2)
  --connections <n>   fixed-concurrency connections (default 50)
  --rate <n>          fixed-rate requests per second (default 1000)
  --only <a,b>        compare only these scenarios: direct,bare,barenode,bareh,core,mesher1,mesher2,nginx
  --soak-requests <n> soak length (default 1000000)
  --quick             short smoke run: 2 s measurements, 2 rounds, 200k soak; not written to RESULTS.md unless --write
  --write / --no-write  append (or not) a dated section to the results file
  --results <file>    results file (default bench/RESULTS.md)
  --no-pin            let every process run on any CPU (default: proxies under test on the last CPU, the rest on the others)
  --help`;

function parseArgs(argv) {
  const o = {
    compare: false,
    scale: false,
    soak: false,
    profile: false,
    duration: 10,
    warmup: 2,
    rounds: 2,
    connections: 50,
    rate: 1000,
    only: null,
    soakRequests: 1_000_000,
    quick: false,
    write: null,
    pin: true,
    results: path.join(__dirname, '..', 'RESULTS.md'),
  };
  const explicit = new Set();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(val());
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      explicit.add(a);
      return v;
    };
    switch (a) {
      case '--compare':
      case '--scale':
      case '--soak':
      case '--profile':
        o[a.slice(2)] = true;
        break;
      case '--all':
        o.compare = o.scale = o.soak = o.profile = true;
        break;
      case '--duration':
        o.duration = num();
        break;
      case '--rounds':
        o.rounds = Math.round(num());
        break;
      case '--connections':
        o.connections = Math.round(num());
        break;
      case '--rate':
        o.rate = num();
        break;
      case '--soak-requests':
        o.soakRequests = Math.round(num());
        break;
      case '--only':
        o.only = val().split(',').map((s) => s.trim());
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--write':
        o.write = true;
        break;
      case '--no-write':
        o.write = false;
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--results':
        o.results = path.resolve(val());
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option '${a}' (try --help)`);
    }
  }
  if (!o.compare && !o.scale && !o.soak && !o.profile) o.compare = true;
  if (o.quick) {
    if (!explicit.has('--duration')) o.duration = 2;
    if (!explicit.has('--soak-requests')) o.soakRequests = 200_000;
    o.warmup = 1;
  }
  o.warmup = Math.min(o.warmup, o.duration);
  if (o.write === null) o.write = !o.quick;
  return o;
}

module.exports = { parseArgs, HELP };
