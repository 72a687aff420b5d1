'use strict';
// Suite 3: a long run through Mesher one hop (default 1,000,000 requests at fixed concurrency).
// wrk cannot stop after N requests, so the soak runs in chunks sized from the rate seen so far
// (at most 10 s each): RSS is read between chunks, the first time after 100,000 requests.
const { cpuMs, retryOnce, rssBytes, sleep } = require('../lib/procs');
const { fixedConcurrency, loadTool } = require('../lib/load');
const { fmt, mb, table } = require('../lib/report');
const T = require('../lib/targets');

async function runSoak(o, log) {
  const total = o.soakRequests;
  const firstMark = Math.min(100_000, Math.floor(total / 10));
  const upstream = await T.startUpstream();
  let m;
  try {
    m = await retryOnce(() => T.startMesherOneHop(upstream), log);
    await sleep(1000);
    const pid = m.pids[0];
    const rss0 = rssBytes(pid);
    const cpu0 = cpuMs(pid);
    const t0 = Date.now();
    const points = [{ requests: 0, rss: rss0, s: 0 }];
    let done = 0;
    let errors = 0;
    let rate = 0;
    let mark = null;
    let last = null;
    while (done < total) {
      const goal = done < firstMark ? firstMark : total;
      // Size the chunk from the rate so far; the first one is a 3 s probe.
      const seconds = rate > 0 ? Math.max(1, Math.min(10, Math.ceil((goal - done) / rate))) : 3;
      const r = await fixedConcurrency({ url: m.url, host: m.host, connections: o.connections, durationS: seconds });
      done += r.requests;
      errors += r.errors;
      rate = r.rps;
      last = r;
      const p = { requests: done, rss: rssBytes(pid), s: (Date.now() - t0) / 1000 };
      points.push(p);
      if (!mark && done >= firstMark) mark = p;
      log(`    ${done.toLocaleString('en-US').padStart(10)} requests, ${fmt(r.rps, 0)} req/s, RSS ${mb(p.rss)} MB, errors so far ${errors}`);
    }
    const end = points[points.length - 1];
    await sleep(2000);
    const settled = rssBytes(pid);
    const cpuUs = ((cpuMs(pid) - cpu0) * 1000) / done;
    const growth = (end.rss - mark.rss) / mark.rss;
    const peak = Math.max(...points.map((p) => p.rss));
    // At most ~12 rows: every k-th point, plus the first mark and the end.
    const every = Math.max(1, Math.floor(points.length / 12));
    const shown = points.slice(1).filter((p, i) => i % every === 0 || p === mark || p === end);
    const text = [
      `### Soak: ${done.toLocaleString('en-US')} requests through Mesher one hop (${loadTool()}, ${o.connections} connections, chunks of <= 10 s)`,
      '',
      table(
        ['point', 'requests', 'elapsed s', 'RSS MB'],
        [
          ['idle, before load', '0', '0', mb(rss0)],
          ...shown.map((p) => [p === mark ? `after ${firstMark.toLocaleString('en-US')}` : p === end ? 'end' : '', p.requests.toLocaleString('en-US'), fmt(p.s, 0), mb(p.rss)]),
          ['2 s after the end', done.toLocaleString('en-US'), '', mb(settled)],
        ],
      ),
      '',
      `Errors: ${errors}. Mean ${fmt(done / end.s, 0)} req/s, ${fmt(cpuUs, 0)} us CPU per request; last chunk p99 ${fmt(last.p99)} ms. Peak RSS ${mb(peak)} MB.`,
      '',
      `- target: RSS grows < 10% after the first ${firstMark.toLocaleString('en-US')} requests: ${mb(mark.rss)} -> ${mb(end.rss)} MB, ${(growth * 100).toFixed(1)}% (${growth < 0.1 ? 'met' : 'NOT met'})`,
    ].join('\n');
    return { text };
  } finally {
    await m?.stop();
    await upstream.stop();
  }
}

module.exports = { runSoak };
