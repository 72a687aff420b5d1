#!/usr/bin/env node
'use strict';
// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function, largest first.
// Usage: node bench/lib/cpuprofile.js <file.cpuprofile> [top=15] [skip-ms=0]
const fs = require('node:fs');
const path = require('node:path');
const { REPO } = require('./procs');

/** Shortens a script URL: repo-relative, node_modules/<pkg>/..., or node:internal. */
function shortUrl(url) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm);
  if (u.startsWith(REPO + path.sep)) u = u.slice(REPO.length + 1);
  return u;
}

/**
 * Returns {totalMs, idleMs, busyMs, rows: [{name, where, selfMs, pct}]} with rows grouped by function
 * and location. Self time of a sample is the time delta that follows it (V8's own attribution).
 * `skipMs` leaves out the first milliseconds of the profile (process start-up, module loading).
 */
function summarize(profile, top = 15, skipMs = 0) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  let t = 0;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    if (t < skipMs * 1000) continue;
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const groups = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || (cf.url ? '(anonymous)' : `(${n.callFrame.functionName || 'program'})`);
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const g = groups.get(key) ?? { name, where, selfUs: 0 };
    g.selfUs += us;
    groups.set(key, g);
    total += us;
  }
  const idleUs = [...groups.values()].find((g) => g.name === '(idle)')?.selfUs ?? 0;
  const busy = total - idleUs;
  // Percentages are of busy time: idle is waiting for I/O, not cost.
  const rows = [...groups.values()]
    .filter((g) => g.name !== '(idle)')
    .sort((a, b) => b.selfUs - a.selfUs)
    .map((g) => ({ name: g.name, where: g.where, selfMs: g.selfUs / 1000, pct: (100 * g.selfUs) / busy }));
  return { totalMs: total / 1000, idleMs: idleUs / 1000, busyMs: busy / 1000, rows: rows.slice(0, top), all: rows };
}

/** Self time grouped by where the code lives (node internals, http-proxy, Mesher libs, ...). */
function byArea(all) {
  const areas = new Map();
  for (const r of all) {
    let a;
    if (!r.where) a = r.name; // (garbage collector), (program), (idle)
    else if (r.where.startsWith('node:')) a = 'node core (' + r.where.split('/')[0].replace(/:\d+$/, '') + ')';
    else if (r.where.startsWith('node_modules/')) a = r.where.split('/').slice(0, r.where.startsWith('node_modules/@') ? 3 : 2).join('/');
    else if (r.where.startsWith('dist/libs/')) a = 'libs/' + r.where.split('/')[2];
    else if (r.where.startsWith('dist/apps/')) a = 'apps/mesher';
    else a = 'other';
    areas.set(a, (areas.get(a) ?? 0) + r.selfMs);
  }
  return [...areas.entries()].sort((x, y) => y[1] - x[1]);
}

if (require.main === module) {
  process.stdout.on('error', () => process.exit(0)); // e.g. piped into head
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/lib/cpuprofile.js <file.cpuprofile> [top] [skip-ms]\n');
    process.exit(2);
  }
  const s = summarize(JSON.parse(fs.readFileSync(file, 'utf8')), Number(process.argv[3] ?? 15), Number(process.argv[4] ?? 0));
  process.stdout.write(`total ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (percentages of busy)\n`);
  for (const r of s.rows) process.stdout.write(`${r.selfMs.toFixed(1).padStart(9)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}  ${r.where}\n`);
  process.stdout.write('\nby area:\n');
  for (const [a, ms] of byArea(s.all)) process.stdout.write(`${ms.toFixed(1).padStart(9)} ms  ${a}\n`);
}

module.exports = { summarize, byArea, shortUrl };
