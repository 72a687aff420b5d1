#!/usr/bin/env node
'use strict';
// Runs every compiled spec with node's test runner: unit specs beside their sources, e2e specs in test/.
// Node 20's --test takes no globs, so the files are listed here. Usage: node scripts/run-tests.js [filter...]
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', 'dist');
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.(spec|e2e-spec)\.js$/.test(e.name)) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = files.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (chosen.length === 0) {
  console.error('no test files found under dist/ (run npm run build first)');
  process.exit(1);
}
// Unit specs in parallel; e2e specs start real processes and ports, so one file at a time.
const unit = chosen.filter((f) => !f.endsWith('.e2e-spec.js'));
const e2e = chosen.filter((f) => f.endsWith('.e2e-spec.js'));
let status = 0;
for (const [group, conc] of [[unit, 2], [e2e, 1]]) {
  if (group.length === 0) continue;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${conc}`, ...group], { stdio: 'inherit' });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
