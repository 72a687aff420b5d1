'use strict';
// Markdown tables and the dated sections appended to bench/RESULTS.md.
const fs = require('node:fs');
const os = require('node:os');
const { machineLine } = require('./procs');

const MB = 1024 * 1024;

function fmt(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (typeof v === 'string') return v;
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

const mb = (bytes) => (Number.isFinite(bytes) ? (bytes / MB).toFixed(1) : '-');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** The command as the user typed it (npm run bench -- ... when run through npm). */
function commandLine() {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node bench/run.js${args ? ` ${args}` : ''}`;
}

function header(title, extra = []) {
  return [
    `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: ${title}`,
    '',
    `- command: \`${commandLine()}\``,
    `- machine: ${machineLine()}`,
    `- node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at start`,
    ...extra.map((e) => `- ${e}`),
  ].join('\n');
}

/** Appends a section, keeping what is there (creating the file with a preamble if needed). */
function appendResults(file, section) {
  if (!fs.existsSync(file)) {
    fs.writeFileSync(
      file,
      '# Benchmark results\n\nAppended by `npm run bench` (see bench/README.md), newest last. ' +
        'Earlier sections are kept for comparison; figures from different days ran on a machine shared with other work.\n',
    );
  }
  fs.appendFileSync(file, `\n${section.trim()}\n`);
}

module.exports = { fmt, mb, ratio, table, header, appendResults, commandLine, MB };
