import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// In a fresh node process: load the whole app's module graph (the CLI, every controller and service),
// see whether the `yaml` package came with it, then parse one YAML body.
const CHILD = `
require('reflect-metadata');
const loaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/yaml/'));
require(${JSON.stringify(join(__dirname, 'cli', 'mesher.cli.js'))});
require(${JSON.stringify(join(__dirname, 'mesher.app.js'))});
const atStart = loaded();
const { parseYamlBody } = require(${JSON.stringify(join(__dirname, 'admin', 'route-rule-yaml.js'))});
const parsed = parseYamlBody('a: 1');
process.stdout.write(JSON.stringify({ atStart, afterUse: loaded(), parsed }));
`;

describe('yaml-lazy', () => {
  it('the app loads without the yaml package, which comes on the first YAML body', () => {
    const r = JSON.parse(execFileSync(process.execPath, ['-e', CHILD], { encoding: 'utf8', cwd: join(__dirname, '..', '..', '..', '..') })) as { atStart: boolean; afterUse: boolean; parsed: unknown };
    assert.deepEqual(r, { atStart: false, afterUse: true, parsed: { a: 1 } });
  });
});
