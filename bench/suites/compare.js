'use strict';
// Suite 1: the same upstream reached directly, through a bare http-proxy forwarder, through Mesher's
// data-plane libs alone, through Mesher (one and two hops) and through nginx. Each round starts every
// proxy afresh and measures the scenarios in alternating order (ABCDEF FEDCBA ...; lib/rounds.js):
// each scenario at fixed concurrency, then at a fixed rate.
const { cpuMs, retryOnce, rssBytes, sampleRss, sleep } = require('../lib/procs');
const { fixedConcurrency, fixedRate, loadTool } = require('../lib/load');
const { mean } = require('../lib/stats');
const { fmt, mb, ratio, table } = require('../lib/report');
const { freshRounds } = require('../lib/rounds');
const T = require('../lib/targets');

const SCENARIOS = [
  { key: 'direct', hops: 0, start: async (up) => ({ url: up.url, host: null, name: 'direct (upstream)', pids: [], stop: async () => undefined }) },
  { key: 'bare', hops: 1, start: (up) => T.startBareProxy(up) },
  // Not one of the issue's scenarios, references: the same forward on node:http alone (Mesher's
  // engine), and that forward plus the headers Mesher must send.
  { key: 'barenode', hops: 1, start: (up) => T.startBareProxy(up, { nodeHttp: true }) },
  { key: 'bareh', hops: 1, start: (up) => T.startBareProxy(up, { nodeHttp: true, meshHeaders: true }) },
  // Not one of the issue's scenarios: Mesher's data-plane libs without the app, to split the cost.
  { key: 'core', hops: 1, start: (up) => T.startCoreProxy(up) },
  { key: 'mesher1', hops: 1, start: (up) => T.startMesherOneHop(up) },
  { key: 'mesher2', hops: 2, start: (up) => T.startMesherTwoHops(up) },
  { key: 'nginx', hops: 1, start: (up) => T.startNginx(up) },
];

async function runCompare(o, log) {
  const upstream = await T.startUpstream();
  const scenarios = SCENARIOS.filter((s) => !o.only || o.only.includes(s.key)).map((s) => ({ ...s, conc: [], rate: [], rssIdle: [], rssLoad: [] }));
  const start = async (s, round) => {
    const t = await retryOnce(() => s.start(upstream), log);
    if (!t) log(`  ${s.key}: skipped (not installed)`);
    else if (round === 0) log(`  started ${t.name} at ${t.url}${t.host ? ` (Host: ${t.host})` : ''}`);
    if (t) s.name = t.name;
    return t;
  };
  try {
    await freshRounds(scenarios, o.rounds, start, async (running, round) => {
      await sleep(1000);
      // Idle: started, one routing check done, no load yet (the largest of the rounds, per process of the scenario).
      for (const { item: s, target: t } of running) t.pids.forEach((pid, i) => (s.rssIdle[i] = Math.max(s.rssIdle[i] ?? 0, rssBytes(pid))));
      for (const { target: t } of running) await fixedConcurrency({ url: t.url, host: t.host, connections: o.connections, durationS: o.warmup });
      log(`  round ${round + 1}/${o.rounds} (after ${o.warmup} s warm-up each): ${running.map((r) => r.item.key).join(' ')}`);
      for (const { item: s, target: t } of running) {
        const sampler = sampleRss(t.pids);
        const cpu0 = t.pids.map(cpuMs);
        const c = await fixedConcurrency({ url: t.url, host: t.host, connections: o.connections, durationS: o.duration });
        // CPU per request is the figure least bent by other work on the machine: it counts only this process.
        c.cpuUsPerReq = t.pids.length ? (t.pids.reduce((a, p, i) => a + cpuMs(p) - cpu0[i], 0) * 1000) / c.requests : NaN;
        await sleep(300);
        const r = await fixedRate({ url: t.url, host: t.host, rate: o.rate, durationS: o.duration, warmupS: Math.min(1, o.warmup) });
        const peak = sampler.stop();
        t.pids.forEach((pid, i) => (s.rssLoad[i] = Math.max(s.rssLoad[i] ?? 0, peak.get(pid) ?? 0)));
        s.conc.push(c);
        s.rate.push(r);
        log(
          `    ${s.key.padEnd(8)} ${fmt(c.rps, 0).padStart(7)} req/s p50 ${fmt(c.p50)} p99 ${fmt(c.p99)} ms err ${c.errors} | ` +
            `@${o.rate}/s p50 ${fmt(r.p50, 3)} p99 ${fmt(r.p99, 3)} ms err ${r.errors}`,
        );
        await sleep(300);
      }
    });
  } finally {
    await upstream.stop();
  }
  return summarize(scenarios.filter((s) => s.conc.length > 0), o);
}

function summarize(ran, o) {
  const agg = ran.map((s) => {
    const m = (list, k) => mean(list.map((x) => x[k]));
    const rps = s.conc.map((x) => x.rps);
    return {
      key: s.key,
      name: s.name,
      hops: s.hops,
      rps: mean(rps),
      rpsMin: Math.min(...rps),
      rpsMax: Math.max(...rps),
      cpu: m(s.conc, 'cpuUsPerReq'),
      c: { p50: m(s.conc, 'p50'), p90: m(s.conc, 'p90'), p99: m(s.conc, 'p99'), errors: s.conc.reduce((a, x) => a + x.errors, 0) },
      r: {
        rps: m(s.rate, 'rps'),
        p50: m(s.rate, 'p50'),
        p90: m(s.rate, 'p90'),
        p99: m(s.rate, 'p99'),
        max: Math.max(...s.rate.map((x) => x.max)),
        // The least disturbed round: on a shared machine a burst of other work lands in one round
        // and dominates a mean of tails; the best round is the closer estimate of the proxy's own.
        bestP50: Math.min(...s.rate.map((x) => x.p50)),
        bestP99: Math.min(...s.rate.map((x) => x.p99)),
        errors: s.rate.reduce((a, x) => a + x.errors, 0),
      },
      rssIdle: s.rssIdle,
      rssLoad: s.rssLoad,
    };
  });
  const by = Object.fromEntries(agg.map((a) => [a.key, a]));
  const bare = by.bare?.rps;
  const nginx = by.nginx?.rps;
  const direct = by.direct;
  const rssCell = (list) => (list.length ? list.map(mb).join(' / ') : '-');

  const concTable = table(
    ['scenario', 'req/s (mean)', 'min-max', 'x bare', 'x nginx', 'proxy CPU us/req', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', 'RSS idle MB', 'RSS load MB'],
    agg.map((a) => [
      a.name,
      fmt(a.rps, 0),
      `${fmt(a.rpsMin, 0)}-${fmt(a.rpsMax, 0)}`,
      ratio(a.rps, bare),
      ratio(a.rps, nginx),
      fmt(a.cpu, 0),
      fmt(a.c.p50),
      fmt(a.c.p90),
      fmt(a.c.p99),
      String(a.c.errors),
      rssCell(a.rssIdle),
      rssCell(a.rssLoad),
    ]),
  );
  const added = (a, k) => (direct && a.hops > 0 ? (a.r[k] - direct.r[k]) / a.hops : NaN);
  const rateTable = table(
    ['scenario', 'achieved req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'best round p50 / p99', '+p50 per hop', '+p99 per hop', 'errors'],
    agg.map((a) => [
      a.name,
      fmt(a.r.rps, 0),
      fmt(a.r.p50, 3),
      fmt(a.r.p90, 3),
      fmt(a.r.p99, 3),
      fmt(a.r.max, 1),
      `${fmt(a.r.bestP50, 3)} / ${fmt(a.r.bestP99, 3)}`,
      `${fmt(added(a, 'p50'), 3)} (${fmt(added(a, 'bestP50'), 3)})`,
      `${fmt(added(a, 'p99'), 3)} (${fmt(added(a, 'bestP99'), 3)})`,
      String(a.r.errors),
    ]),
  );

  const targets = [];
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  const m1 = by.mesher1;
  if (m1 && bare) {
    targets.push(`Mesher one hop >= 0.85x bare http-proxy req/s: ${ratio(m1.rps, bare)} (${verdict(m1.rps / bare >= 0.85)})`);
    // Same comparison by CPU cost, which other load on the machine distorts less.
    targets.push(`(by CPU per request: bare ${fmt(by.bare.cpu, 0)} us, Mesher ${fmt(m1.cpu, 0)} us, i.e. ${ratio(by.bare.cpu, m1.cpu)} of bare's requests per CPU second)`);
    const bn = by.barenode;
    if (bn) targets.push(`(Mesher's engine, the same forward on node:http alone: ${ratio(bn.rps, bare)} of bare; Mesher ${ratio(m1.rps, bn.rps)} of it)`);
    const bh = by.bareh;
    if (bh && bn) {
      targets.push(`(node:http forward sending the headers Mesher must send: ${ratio(bh.rps, bn.rps)} of node:http alone; Mesher ${ratio(m1.rps, bh.rps)} of it)`);
    }
  }
  for (const k of ['mesher1', 'mesher2']) {
    const a = by[k];
    if (!a || !direct) continue;
    const p50 = added(a, 'p50');
    const p99 = added(a, 'p99');
    const b50 = added(a, 'bestP50');
    const b99 = added(a, 'bestP99');
    targets.push(
      `${a.name}: added per hop at ${o.rate} req/s, means (best rounds): p50 ${fmt(p50, 3)} (${fmt(b50, 3)}) ms, <= 1: ${verdict(p50 <= 1)} (${verdict(b50 <= 1)}); ` +
        `p99 ${fmt(p99, 3)} (${fmt(b99, 3)}) ms, <= 5: ${verdict(p99 <= 5)} (${verdict(b99 <= 5)})`,
    );
  }
  for (const k of ['mesher1', 'mesher2']) {
    const a = by[k];
    if (!a) continue;
    const idle = Math.max(...a.rssIdle);
    const load = Math.max(...a.rssLoad);
    targets.push(`${a.name} RSS (largest process): idle ${mb(idle)} MB (<= 120: ${verdict(idle <= 120 * 2 ** 20)}), under load ${mb(load)} MB (<= 200: ${verdict(load <= 200 * 2 ** 20)})`);
  }

  const text = [
    `### Fixed concurrency: ${o.connections} connections, ${o.duration} s x ${o.rounds} rounds, ${loadTool()}`,
    '',
    concTable,
    '',
    `### Fixed rate: ${o.rate} req/s open loop (bench/lib/rate-client.js), ${o.duration} s x ${o.rounds} rounds`,
    '',
    rateTable,
    '',
    '"proxy CPU us/req" is user+system CPU time of the proxy process(es) divided by requests served (from /proc/<pid>/stat). ' +
      'Latencies are means over rounds, with the best (lowest) round beside them; "+p50/+p99 per hop" is the difference to direct ' +
      'divided by the number of proxy hops, from the means and (in parentheses) from the best rounds; a negative figure means ' +
      'direct had the worse round, i.e. noise larger than the proxy\'s cost. ' +
      'RSS is the proxy process (consumer / provider for two hops); "load" is the largest sample (every 200 ms) during the runs. ' +
      'Errors are non-2xx responses plus socket errors and timeouts.',
    '',
    '### Targets',
    '',
    ...targets.map((t) => `- ${t}`),
  ].join('\n');
  return { text, agg };
}

module.exports = { runCompare };
