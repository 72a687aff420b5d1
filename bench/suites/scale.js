'use strict';
// Suite 2: a registry of 10,000 instances over 2,000 services with 1,000 route rules.
//  a) in process, with the pure libs: snapshot build time, RuntimeTable sync, and the per-request
//     cost of service lookup + route match + balancer pick (ns/op), against a one-service registry;
//  b) real Mesher processes: one loaded with that registry (rows written straight into its SQLite
//     file), one with only the bench service; throughput at fixed concurrency, alternating; and the
//     p99 at a fixed rate during one admin write per second (each an incremental update).
const fs = require('node:fs');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { sourcesOf } = require('@mesher/contracts');
const { buildSnapshot, updateSnapshot } = require('@mesher/registry');
const { RuntimeTable } = require('@mesher/proxy-core');
const { cpuMs, retryOnce, rssBytes, sleep } = require('../lib/procs');
const { fixedConcurrency, fixedRate, loadTool } = require('../lib/load');
const { makeState, writeToSqlite, svcName } = require('../lib/big-registry');
const { median, mean } = require('../lib/stats');
const { fmt, mb, ratio, table } = require('../lib/report');
const { freshRounds } = require('../lib/rounds');
const T = require('../lib/targets');

const SIZE = { services: 2000, instancesPerService: 5, rules: 1000 };

function timeMs(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** xorshift: a cheap deterministic random source, so the loop measures the libs, not Math.random. */
function rng(seed = 42) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** ns per (lookup + decideRoute + policy + balancer pick) over a fixed, pre-built request mix. */
function decideCost(snapshot, requests, iterations) {
  const { decideRoute } = require('@mesher/registry');
  const runtimes = new RuntimeTable();
  runtimes.sync(snapshot, Date.now());
  const random = rng();
  const ctx = { now: Date.now(), random, sessionKey: undefined };
  const n = requests.length;
  let sink = 0;
  const loop = (count) => {
    for (let i = 0; i < count; i++) {
      const r = requests[i % n];
      const entry = snapshot.services.get(r.service);
      const rt = runtimes.get(r.service);
      const d = decideRoute(entry, r, random);
      // As the outbound handler does: the policy of the matched rule picks the subset's balancer.
      const policy = rt.policyFor(d.route);
      const inst = rt.balancerFor(d.target, policy.loadBalancer).pick(d.candidates, ctx);
      if (inst) sink += inst.id.length;
    }
  };
  loop(Math.min(iterations, 200_000)); // warm-up: let the JIT settle
  const runs = [];
  for (let k = 0; k < 5; k++) runs.push((timeMs(() => loop(iterations)) * 1e6) / iterations);
  if (sink === 0) throw new Error('no instance was ever picked');
  return median(runs);
}

function requestMix(serviceOf, count) {
  const random = rng(7);
  const paths = ['/', '/api/items?page=2', '/static/app.js', '/api/cart'];
  const reqs = [];
  for (let i = 0; i < count; i++) {
    const headers = { host: 'x', 'user-agent': 'bench', accept: '*/*' };
    const u = random();
    if (u < 0.1) headers['x-canary'] = '1';
    else if (u < 0.2) headers['x-user'] = `user-${i}`;
    reqs.push({ service: serviceOf(random), source: 'web', method: 'GET', path: paths[i % paths.length], headers });
  }
  return reqs;
}

function inProcess(o, log) {
  const state = makeState(SIZE);
  const now = Date.now();
  for (let i = 0; i < 2; i++) buildSnapshot(state, now); // warm-up
  const builds = [];
  for (let i = 0; i < 9; i++) builds.push(timeMs(() => buildSnapshot(state, now)));
  const snap = buildSnapshot(state, now);
  const rt = new RuntimeTable();
  const firstSync = timeMs(() => rt.sync(snap, now));
  const resyncs = [];
  for (let i = 0; i < 5; i++) {
    const next = buildSnapshot(state, now);
    resyncs.push(timeMs(() => rt.sync(next, now)));
  }
  log(`  snapshot build: median ${fmt(median(builds))} ms of ${builds.length}; runtime sync: first ${fmt(firstSync)} ms, later ${fmt(median(resyncs))} ms`);

  // What an admin write costs instead: one service recompiled, every other entry shared, runtimes synced.
  const sources = sourcesOf(state);
  const updates = [];
  const updateSyncs = [];
  let cur = buildSnapshot(state, now);
  rt.sync(cur, now);
  for (let i = 0; i < 21; i++) {
    const name = svcName(i * 97);
    const src = sources.get(name);
    const changed = { ...src, instances: [...src.instances, { ...src.instances[0], id: `${name}-extra-${i}`, endpoint: `http://10.254.0.${i}:8080` }] };
    let next;
    updates.push(timeMs(() => (next = updateSnapshot(cur, { revision: cur.revision + 1, services: new Map([[name, changed]]) }, now))));
    updateSyncs.push(timeMs(() => rt.sync(next, now)));
    cur = next;
  }
  log(`  incremental update of one service: median ${fmt(median(updates), 3)} ms, then runtime sync ${fmt(median(updateSyncs), 3)} ms`);

  const iterations = o.quick ? 300_000 : 2_000_000;
  const all = requestMix((r) => svcName(Math.floor(r() * SIZE.services)), 4096);
  const ruled = requestMix((r) => svcName(Math.floor(r() * (SIZE.rules / 2))), 4096);
  const unruled = requestMix((r) => svcName(SIZE.rules / 2 + Math.floor(r() * (SIZE.services - SIZE.rules / 2))), 4096);
  const one = makeState({ services: 1, instancesPerService: 5, rules: 0 });
  const oneSnap = buildSnapshot(one, now);
  const oneReqs = requestMix(() => svcName(0), 4096);
  const cost = {
    big: decideCost(snap, all, iterations),
    bigRuled: decideCost(snap, ruled, iterations),
    bigUnruled: decideCost(snap, unruled, iterations),
    one: decideCost(oneSnap, oneReqs, iterations),
  };
  log(`  decide+pick: large mixed ${fmt(cost.big, 0)} ns/op, with rules ${fmt(cost.bigRuled, 0)}, without ${fmt(cost.bigUnruled, 0)}, one-service ${fmt(cost.one, 0)}`);
  return { builds, firstSync, resyncs, updates, updateSyncs, cost, iterations };
}

/** Starts a Mesher once (so its migrations create the schema), stops it, writes the big registry in. */
async function prepareBigDataDir(upstream) {
  const m = await T.startMesherProcess([]);
  await m.stop();
  const state = makeState({
    ...SIZE,
    extra: [
      {
        service: { name: 'bench', app: null, description: null },
        instances: [
          { id: 'bench-upstream', service: 'bench', version: '1.0.0', endpoint: upstream.base, labels: {}, weight: 100, status: 'UP', registeredBy: 'api', lastHeartbeat: Date.now(), ttl: 0 },
        ],
      },
    ],
  });
  writeToSqlite(path.join(m.dataDir, 'mesher.db'), state);
  return m.dataDir;
}

const asyncMs = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

/**
 * The store side, in the bench process on a copy of the large database: a full read (start-up, or a reader
 * the change log no longer reaches), an admin write (transaction + revision delta + change log) and reading
 * it back incrementally (what the Mesher does before it answers), and a whole-config apply changing one service.
 */
async function storeCosts(dataDir) {
  const { openDataSource, SqliteRegistryStore } = require('@mesher/persistence');
  const { configOf } = require('@mesher/contracts');
  const copy = fs.mkdtempSync(path.join(path.dirname(dataDir), 'scale-store-'));
  fs.copyFileSync(path.join(dataDir, 'mesher.db'), path.join(copy, 'mesher.db'));
  const ds = await openDataSource(copy);
  try {
    const store = new SqliteRegistryStore(ds);
    await store.loadState(); // warm-up
    const reload = [];
    for (let i = 0; i < 5; i++) reload.push(await asyncMs(() => store.loadState()));
    const write = [];
    const readBack = [];
    const whole = [];
    let seq = await store.changeSeq();
    let snap = buildSnapshot(await store.loadState(), Date.now());
    const rt = new RuntimeTable();
    rt.sync(snap, Date.now());
    // better-sqlite3 answers synchronously, so a write with its update never yields: one block on the event loop.
    // The delay monitor sees each block alone (writes 20 ms apart): its max is the longest stall a write causes.
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    for (let n = 0; n < 21; n++) {
      const t0 = process.hrtime.bigint();
      write.push(await asyncMs(() => store.registerInstance(svcName(n * 89), { endpoint: `http://10.253.${n >> 8}.${n & 255}:9090` }, 'api')));
      let c;
      readBack.push(await asyncMs(async () => (c = await store.changesSince(seq))));
      seq = c.seq;
      snap = updateSnapshot(snap, { revision: c.revision, services: c.services }, Date.now());
      rt.sync(snap, Date.now());
      whole.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sleep(20);
    }
    delay.disable();
    rt.close();
    const state = await store.loadState();
    const cfg = configOf(state);
    cfg.services[0] = { ...cfg.services[0], description: 'applied by the bench' };
    // Apply and rollback compare every service in the store, then write (and readers re-read) only those that differ.
    const apply = await asyncMs(() => store.replaceConfig(cfg, 'bench', 'bench apply'));
    return { reloadMs: median(reload), writeMs: median(write), readBackMs: median(readBack), wholeMs: median(whole), stallMaxMs: delay.max / 1e6, applyMs: apply };
  } finally {
    await ds.destroy();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * Writes under load, on the last round's large-registry Mesher (warmed by that round's runs): p99 at a
 * fixed rate directly, against it quiet, and with an admin write every second (each answered after
 * its incremental update).
 */
async function writesUnderLoad(o, upstream, big, log) {
  const rateOpts = { host: 'bench', rate: o.rate, durationS: o.duration, warmupS: Math.min(1, o.warmup) };
  const direct = await fixedRate({ ...rateOpts, url: upstream.url, host: null });
  const quiet = await fixedRate({ ...rateOpts, url: big.url });
  const writeMs = [];
  let stop = false;
  let n = 0;
  const writer = (async () => {
    while (!stop) {
      const t = Date.now();
      await T.registerInstance(big.admin, svcName(n % SIZE.services), `http://10.255.${(n >> 8) & 255}.${n & 255}:9090`);
      writeMs.push(Date.now() - t);
      n++;
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  })();
  const busy = await fixedRate({ ...rateOpts, url: big.url });
  stop = true;
  await writer;
  const loadRss = rssBytes(big.pids[0]);
  log(`  @${o.rate}/s: direct p99 ${fmt(direct.p99, 3)} ms, big quiet p99 ${fmt(quiet.p99, 3)}, big with ${writeMs.length} writes p99 ${fmt(busy.p99, 3)} (writes took median ${fmt(median(writeMs), 0)} ms)`);
  return { direct, quiet, busy, writeMs, loadRss };
}

async function processes(o, log) {
  const upstream = await T.startUpstream();
  try {
    const dataDir = await retryOnce(() => prepareBigDataDir(upstream), log);
    const store = await storeCosts(dataDir);
    log(
      `  store: full read ${fmt(store.reloadMs, 0)} ms, admin write ${fmt(store.writeMs, 2)} ms + incremental read-back ${fmt(store.readBackMs, 2)} ms ` +
        `(with the snapshot update and runtime sync ${fmt(store.wholeMs, 2)} ms; longest event-loop stall ${fmt(store.stallMaxMs, 1)} ms), ` +
        `whole-config apply (one service changed) ${fmt(store.applyMs, 0)} ms`,
    );
    const start = {
      small: async () => Object.assign(await retryOnce(() => T.startMesherOneHop(upstream), log), { name: 'mesher, 1 instance' }),
      big: async () => {
        const p = await retryOnce(() => T.startMesherProcess([], { dataDir }), log);
        const url = `http://${p.info.proxy}/`;
        await T.waitRoutable(url, 'bench');
        return { name: 'mesher, 10,000 instances', url, host: 'bench', pids: [p.pid], admin: p.info.admin, stop: () => p.stop() };
      },
    };
    const startMs = {};
    const idle = { small: 0, big: 0 };
    const res = { small: [], big: [] };
    const begin = async (k) => {
      const t0 = Date.now();
      const t = await start[k]();
      startMs[k] ??= Date.now() - t0;
      return Object.assign(t, { key: k });
    };
    let writes;
    await freshRounds(['small', 'big'], o.rounds, begin, async (running, round) => {
      const procs = running.map((r) => r.target);
      await sleep(1000);
      for (const t of procs) idle[t.key] = Math.max(idle[t.key], rssBytes(t.pids[0]));
      if (round === 0) log(`  started: one-service Mesher in ${startMs.small} ms (${mb(idle.small)} MB), 10,000-instance Mesher in ${startMs.big} ms (${mb(idle.big)} MB)`);
      for (const t of procs) await fixedConcurrency({ url: t.url, host: t.host, connections: o.connections, durationS: o.warmup });
      for (const t of procs) {
        const c0 = cpuMs(t.pids[0]);
        const r = await fixedConcurrency({ url: t.url, host: t.host, connections: o.connections, durationS: o.duration });
        r.cpuUsPerReq = ((cpuMs(t.pids[0]) - c0) * 1000) / r.requests;
        res[t.key].push(r);
        log(`    ${t.key.padEnd(5)} ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerReq, 0)} us CPU/req, p99 ${fmt(r.p99)} ms, errors ${r.errors}`);
        await sleep(300);
      }
      if (round === o.rounds - 1) writes = await writesUnderLoad(o, upstream, procs.find((t) => t.key === 'big'), log);
    });
    const smallStartMs = startMs.small;
    const bigStartMs = startMs.big;

    return { res, idle, smallStartMs, bigStartMs, store, ...writes };
  } finally {
    await upstream.stop();
  }
}

async function runScale(o, log) {
  const ip = inProcess(o, log);
  const pr = await processes(o, log);
  const rps = (k) => mean(pr.res[k].map((r) => r.rps));
  const cpu = (k) => mean(pr.res[k].map((r) => r.cpuUsPerReq));
  const p99 = (k) => mean(pr.res[k].map((r) => r.p99));
  const cost = 1 - rps('big') / rps('small');
  const cpuCost = cpu('big') / cpu('small') - 1;
  const build = median(ip.builds);

  const text = [
    `### Scale: ${SIZE.services.toLocaleString('en-US')} services, ${(SIZE.services * SIZE.instancesPerService).toLocaleString('en-US')} instances, ${SIZE.rules.toLocaleString('en-US')} route rules`,
    '',
    'In process (pure libs, no I/O):',
    '',
    table(
      ['measure', 'value'],
      [
        ['buildSnapshot (median of 9)', `${fmt(build)} ms (min ${fmt(Math.min(...ip.builds))}, max ${fmt(Math.max(...ip.builds))})`],
        ['RuntimeTable.sync, first / after a rebuild', `${fmt(ip.firstSync)} ms / ${fmt(median(ip.resyncs))} ms`],
        ['updateSnapshot, one service changed (median of 21)', `${fmt(median(ip.updates), 3)} ms (max ${fmt(Math.max(...ip.updates), 3)})`],
        ['RuntimeTable.sync after it', `${fmt(median(ip.updateSyncs), 3)} ms (max ${fmt(Math.max(...ip.updateSyncs), 3)})`],
        ['lookup + decideRoute + balancer pick, mixed traffic', `${fmt(ip.cost.big, 0)} ns/op`],
        ['same, services with 2 rules (header + path prefix)', `${fmt(ip.cost.bigRuled, 0)} ns/op`],
        ['same, services without rules', `${fmt(ip.cost.bigUnruled, 0)} ns/op`],
        ['same, one-service registry', `${fmt(ip.cost.one, 0)} ns/op`],
      ],
    ),
    '',
    `Real Mesher processes (${loadTool()}, ${o.connections} connections, ${o.duration} s x ${o.rounds} rounds, alternating, both started afresh each round; requests to the \`bench\` service):`,
    '',
    table(
      ['registry', 'req/s', 'CPU us/req', 'p99 ms', 'errors', 'start-up ms', 'RSS idle MB'],
      [
        ['1 service, 1 instance', fmt(rps('small'), 0), fmt(cpu('small'), 0), fmt(p99('small')), String(pr.res.small.reduce((a, r) => a + r.errors, 0)), String(pr.smallStartMs), mb(pr.idle.small)],
        ['2,001 services, 10,001 instances, 1,000 rules', fmt(rps('big'), 0), fmt(cpu('big'), 0), fmt(p99('big')), String(pr.res.big.reduce((a, r) => a + r.errors, 0)), String(pr.bigStartMs), mb(pr.idle.big)],
      ],
    ),
    '',
    `At ${o.rate} req/s (open loop, ${o.duration} s) against the large-registry Mesher:`,
    '',
    table(
      ['run', 'p50 ms', 'p99 ms', 'max ms', '+p99 over direct', 'errors'],
      [
        ['direct to upstream', fmt(pr.direct.p50, 3), fmt(pr.direct.p99, 3), fmt(pr.direct.max, 1), '-', String(pr.direct.errors)],
        ['no registry writes', fmt(pr.quiet.p50, 3), fmt(pr.quiet.p99, 3), fmt(pr.quiet.max, 1), fmt(pr.quiet.p99 - pr.direct.p99, 3), String(pr.quiet.errors)],
        [`one admin write per second (${pr.writeMs.length} writes)`, fmt(pr.busy.p50, 3), fmt(pr.busy.p99, 3), fmt(pr.busy.max, 1), fmt(pr.busy.p99 - pr.direct.p99, 3), String(pr.busy.errors)],
      ],
    ),
    '',
    `Each admin write (POST an instance, measured by the client) answers after the store write (revision delta + change log) ` +
      `and the incremental update (the touched service re-read and recompiled, runtimes synced): median ${fmt(median(pr.writeMs), 1)} ms, ` +
      `max ${fmt(Math.max(...pr.writeMs), 1)} ms. In the bench process on a copy of the database: the store write ${fmt(pr.store.writeMs, 2)} ms, ` +
      `reading the change back ${fmt(pr.store.readBackMs, 2)} ms, all of it with the snapshot update and runtime sync ${fmt(pr.store.wholeMs, 2)} ms ` +
      `(median of 21; the longest event-loop stall among them ${fmt(pr.store.stallMaxMs, 1)} ms). A full read (start-up, or a reader the change log no longer reaches) takes ` +
      `${fmt(pr.store.reloadMs, 0)} ms; a whole-config apply (PUT /v1/config, rollback) changing one service ${fmt(pr.store.applyMs, 0)} ms in the store ` +
      `(it compares every service), followed by an incremental update. RSS after: ${mb(pr.loadRss)} MB.`,
    '',
    '### Targets (scale)',
    '',
    `- large registry costs < 10% throughput: req/s ${ratio(rps('big'), rps('small'))} of the one-service Mesher's, a cost of ${(cost * 100).toFixed(1)}% ` +
      `(${cost < 0.1 ? 'met' : 'NOT met'}; negative = noise larger than the cost); CPU per request ${ratio(cpu('big'), cpu('small'))}`,
    `- snapshot rebuild < 200 ms: full buildSnapshot ${fmt(build)} ms, full read + build ${fmt(pr.store.reloadMs + build, 0)} ms ` +
      `(${pr.store.reloadMs + build < 200 ? 'met' : 'NOT met'}); per admin write ${fmt(median(ip.updates), 3)} ms incremental, ${fmt(median(pr.writeMs), 1)} ms answer time`,
    `- p99 during one admin write per second: ${fmt(pr.busy.p99, 3)} ms, ${fmt(pr.busy.p99 - pr.direct.p99, 3)} ms over direct, ${pr.busy.errors} errors ` +
      `(target <= 5 ms: ${pr.busy.p99 - pr.direct.p99 <= 5 && pr.busy.errors === 0 ? 'met' : 'NOT met'})`,
  ].join('\n');
  return { text };
}

module.exports = { runScale };
