#!/usr/bin/env node
'use strict';
// Dependency rule: libraries on the proxy path must not import Nest or TypeORM (or the persistence lib).
const fs = require('node:fs');
const path = require('node:path');

const HOT = ['contracts', 'policies', 'registry', 'proxy-core', 'observability'];
const FORBIDDEN = [/^@nestjs\//, /^typeorm(\/|$)/, /^@mesher\/persistence$/, /^better-sqlite3$/];
const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

let bad = 0;
for (const lib of HOT) {
  const dir = path.join(__dirname, '..', 'libs', lib, 'src');
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const src = fs.readFileSync(p, 'utf8');
        for (const m of src.matchAll(IMPORT_RE)) {
          const spec = m[1] || m[2] || m[3] || m[4];
          if (FORBIDDEN.some((re) => re.test(spec))) {
            console.error(`${path.relative(process.cwd(), p)}: imports '${spec}', which libs/${lib} must not use (hot path)`);
            bad++;
          }
        }
      }
    }
  })(dir);
}
if (bad) process.exit(1);
console.log(`dependency rule ok: ${HOT.join(', ')} import no @nestjs/*, typeorm or persistence`);
