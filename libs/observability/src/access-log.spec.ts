import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAccessLog, type AccessLogEntry } from './access-log';

const dir = mkdtempSync(join(tmpdir(), 'mesher-access-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempFile = () => join(dir, `access-${files++}.log`);

function entry(i: number): AccessLogEntry {
  return {
    time: 1_700_000_000_000 + i,
    requestId: `req-${i}`,
    direction: i % 2 === 0 ? 'outbound' : 'inbound',
    method: 'GET',
    path: `/api/items/${i}?q="quoted"\\`,
    source: 'web',
    destination: 'cart',
    route: i % 3 === 0 ? null : 'r1',
    instance: i % 5 === 0 ? null : 'cart-1',
    attempts: 1 + (i % 3),
    status: i % 7 === 0 ? 503 : 200,
    bytes: i * 10,
    durationMs: i / 8,
    code: i % 7 === 0 ? 'UPSTREAM_UNAVAILABLE' : null,
  };
}

function readLines(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'every line is terminated');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

describe('createAccessLog', () => {
  it('writes one JSON line per entry, with every field', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: true, destination: file });
    assert.equal(log.enabled, true);
    const N = 5_000;
    for (let i = 0; i < N; i++) log.log(entry(i));
    await log.flush();
    const lines = readLines(file);
    assert.equal(lines.length, N);
    lines.forEach((line, i) => assert.deepEqual(line, { log: 'access', ...entry(i) }));
    await log.close();
  });

  it('does not write on the caller’s turn, and flush() hands the buffer over', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: true, destination: file });
    log.log(entry(1));
    assert.equal(statSync(file).size, 0, 'nothing written synchronously');
    await log.flush();
    assert.deepEqual(readLines(file), [{ log: 'access', ...entry(1) }]);
    await log.close();
  });

  it('appends to an existing file and ignores entries after close()', async () => {
    const file = tempFile();
    writeFileSync(file, '{"previous":true}\n');
    const log = createAccessLog({ enabled: true, destination: file });
    log.log(entry(2));
    await log.close();
    log.log(entry(3));
    await log.close();
    await log.flush();
    assert.deepEqual(readLines(file), [{ previous: true }, { log: 'access', ...entry(2) }]);
  });

  it('writes to a file descriptor', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: true, destination: openSync(file, 'w') });
    for (let i = 0; i < 3; i++) log.log(entry(i));
    await log.close();
    assert.equal(readLines(file).length, 3);
  });

  it('drops lines instead of buffering without bound when the destination falls behind', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: true, destination: file });
    const N = 20_000;
    const long = { ...entry(0), path: '/' + 'x'.repeat(1_000) };
    // One synchronous burst of ~20 MB: no write can complete before it ends.
    for (let i = 0; i < N; i++) log.log({ ...long, requestId: `req-${i}` });
    assert.ok(log.dropped > 0, 'the 16 MiB buffer cap was hit');
    await log.close();
    const lines = readLines(file);
    assert.equal(lines.length + log.dropped, N);
    const size = statSync(file).size;
    assert.ok(size > 15 * 1024 * 1024 && size <= 16 * 1024 * 1024 + 2_000, `${size} bytes kept`);
  });

  it('is a no-op when disabled', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: false, destination: file });
    assert.equal(log.enabled, false);
    log.log(entry(1));
    assert.equal(log.dropped, 0);
    await log.flush();
    await log.close();
    assert.equal(existsSync(file), false, 'a disabled log does not even open its file');
  });

  it('honours the level threshold', async () => {
    const file = tempFile();
    const log = createAccessLog({ enabled: true, destination: file, level: 'warn' });
    log.log(entry(1));
    await log.close();
    assert.deepEqual(readLines(file), []);
  });

  it('fails at creation on a bad path or level, with a clear message', () => {
    assert.throws(
      () => createAccessLog({ enabled: true, destination: join(dir, 'missing', 'dir', 'a.log') }),
      /access log: cannot open .*missing.*ENOENT/,
    );
    assert.throws(() => createAccessLog({ enabled: true, destination: tempFile(), level: 'loud' }), /unknown level 'loud'/);
  });
});
