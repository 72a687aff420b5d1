#!/usr/bin/env node
'use strict';
// Entry of `npm run bench` (which builds first): runs the chosen suites, prints their tables and
// appends them as one dated section to bench/RESULTS.md. See bench/README.md.
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs, HELP } = require('./lib/args');
const { header, appendResults } = require('./lib/report');
const { loadTool } = require('./lib/load');
const { REPO } = require('./lib/procs');
const { enablePinning } = require('./lib/cpus');

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (!fs.existsSync(path.join(REPO, 'dist', 'apps', 'mesher', 'src', 'main.js'))) {
    process.stderr.write('bench: dist/ is missing; run `npm run build` first (npm run bench does it)\n');
    process.exit(1);
  }
  const log = (s) => process.stdout.write(s + '\n');
  // Before any child starts: children inherit the runner's CPUs, proxies get their own (lib/cpus.js).
  const pinning = o.pin ? enablePinning() : null;
  const suites = ['compare', 'scale', 'soak', 'profile'].filter((s) => o[s]);
  log(`bench: ${suites.join(', ')}${o.quick ? ' (quick)' : ''}; load tool: ${loadTool()}; ${pinning ?? 'unpinned'}`);
  const sections = [];
  const started = Date.now();
  for (const s of suites) {
    log(`\n== ${s}`);
    const t0 = Date.now();
    const { [`run${s[0].toUpperCase()}${s.slice(1)}`]: run } = require(`./suites/${s}`);
    const r = await run(o, log);
    log('\n' + r.text + '\n');
    sections.push(r.text);
    log(`(${s} took ${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  const section = [
    header(`${suites.join(', ')}${o.quick ? ' (quick)' : ''}`, [
      pinning ??
        'unpinned: the load generator, the upstream and every proxy share the same cores (and the machine may be shared with other work), so absolute figures are noisy',
      'ratios within one run are the meaningful part',
      `total time ${Math.round((Date.now() - started) / 1000)} s`,
    ]),
    ...sections,
  ].join('\n\n');
  if (o.write) {
    appendResults(o.results, section);
    log(`appended to ${path.relative(process.cwd(), o.results)}`);
  } else log('(not written to the results file: --quick without --write, or --no-write)');
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
