'use strict';
// Suite 4: where the CPU goes. The bare http-proxy forwarder and Mesher one hop each run under
// `node --cpu-prof` at fixed concurrency; their profiles (start-up left out) are summarized by
// self time per function and by area, per request served.
const fs = require('node:fs');
const path = require('node:path');
const { OUT_DIR, retryOnce, tempDir, sleep } = require('../lib/procs');
const { fixedConcurrency, loadTool } = require('../lib/load');
const { summarize, byArea } = require('../lib/cpuprofile');
const { fmt, table } = require('../lib/report');
const T = require('../lib/targets');

async function profileOne(label, start, o, log) {
  const dir = tempDir('cpuprof-', { keep: true });
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  let t0 = 0;
  const target = await retryOnce(() => {
    t0 = Date.now();
    return start(nodeArgs);
  }, log);
  await fixedConcurrency({ url: target.url, host: target.host, connections: o.connections, durationS: o.warmup });
  const skipMs = Date.now() - t0; // start-up, registration and warm-up are not the hot path
  const r = await fixedConcurrency({ url: target.url, host: target.host, connections: o.connections, durationS: o.duration });
  await target.stop(); // SIGTERM: both exit cleanly, which is when node writes the profile
  // Node names the file CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile; match the pid, as a start that
  // failed and was retried may have left a profile of its own.
  const pid = target.pids[0];
  let file;
  for (let i = 0; i < 50 && !file; i++) {
    file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid));
    if (!file) await sleep(100);
  }
  if (!file) throw new Error(`${label}: no .cpuprofile written in ${dir}`);
  const s = summarize(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), 15, skipMs);
  // Requests served while profiled: the measured run (warm-up excluded with the skipped start-up);
  // the shutdown tail adds a little idle time, not busy time.
  const usPerReq = (ms) => (ms * 1000) / r.requests;
  log(`  ${label}: ${fmt(r.rps, 0)} req/s while profiled, busy ${fmt(usPerReq(s.busyMs), 0)} us/req, profile ${path.relative(process.cwd(), path.join(dir, file))}`);
  return { label, r, s, usPerReq, areas: byArea(s.all), file: path.join(dir, file) };
}

async function runProfile(o, log) {
  // Profiles of earlier runs go; this run's stay for a closer look (bench/out is git-ignored).
  if (fs.existsSync(OUT_DIR)) for (const d of fs.readdirSync(OUT_DIR)) if (d.startsWith('cpuprof-')) fs.rmSync(path.join(OUT_DIR, d), { recursive: true, force: true });
  const upstream = await T.startUpstream();
  let bare;
  let mesher;
  try {
    bare = await profileOne('bare http-proxy', (nodeArgs) => T.startBareProxy(upstream, { nodeArgs }), o, log);
    mesher = await profileOne('mesher 1 hop', (nodeArgs) => T.startMesherOneHop(upstream, { nodeArgs }), o, log);
  } finally {
    await upstream.stop();
  }
  const m = mesher;
  const areaKeys = [...new Set([...m.areas.slice(0, 12).map((a) => a[0]), ...bare.areas.slice(0, 6).map((a) => a[0])])];
  const areaOf = (p, k) => p.areas.find((a) => a[0] === k)?.[1] ?? 0;
  const text = [
    `### CPU profile: Mesher one hop under load (node --cpu-prof, ${loadTool()}, ${o.connections} connections, ${o.duration} s)`,
    '',
    `Busy CPU per request: Mesher ${fmt(m.usPerReq(m.s.busyMs), 0)} us, bare http-proxy ${fmt(bare.usPerReq(bare.s.busyMs), 0)} us ` +
      `(profiling itself adds some). Start-up and warm-up are left out of both. The profiler samples wall-clock time, ` +
      `so on a busy machine the time a process spends descheduled lands on whatever it was running, mostly the socket ` +
      `writes (writev, writeLatin1String). Top 15 functions of Mesher by self time:`,
    '',
    table(
      ['#', 'function', 'where', 'self ms', '% of busy', 'us/req'],
      m.s.rows.map((row, i) => [String(i + 1), `\`${row.name}\``, row.where ? `\`${row.where}\`` : '(native)', fmt(row.selfMs, 0), fmt(row.pct, 1), fmt(m.usPerReq(row.selfMs), 1)]),
    ),
    '',
    'Self time by area, us per request (node core = node:internal and node:_http_*; native = V8/libuv functions with no script):',
    '',
    table(
      ['area', 'mesher us/req', 'bare us/req'],
      areaKeys.map((k) => [k, fmt(m.usPerReq(areaOf(m, k)), 1), fmt(bare.usPerReq(areaOf(bare, k)), 1)]),
    ),
    '',
    `Profiles: \`${path.relative(process.cwd(), m.file)}\`, \`${path.relative(process.cwd(), bare.file)}\` (git-ignored; open in Chrome DevTools). Summarize any profile with \`node bench/lib/cpuprofile.js <file> [top] [skip-ms]\`.`,
  ].join('\n');
  return { text };
}

module.exports = { runProfile };
