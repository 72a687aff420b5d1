import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestCa, type CertFiles, type TestCa } from '../../../test/support/tls-certs';
import { loadTlsMaterial, TlsFileWatcher, type TlsFiles, type TlsMaterial } from './tls-material';

const LABELS = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' };

describe('loadTlsMaterial and TlsFileWatcher (real files, real certificates)', () => {
  let ca: TestCa;
  let a: CertFiles;
  let b: CertFiles;
  let files: TlsFiles & { cert: string; key: string };

  before(() => {
    ca = createTestCa();
    a = ca.issue('cart', ['DNS:cart']);
    b = ca.issue('cart', ['DNS:cart']);
  });
  after(() => ca?.dispose());

  function freshFiles(): void {
    const dir = fs.mkdtempSync(path.join(ca.dir, 'live-'));
    files = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), ca: ca.caFile };
    fs.copyFileSync(a.cert, files.cert);
    fs.copyFileSync(a.key, files.key);
  }

  function watcher(initial: TlsMaterial, onReload: (m: TlsMaterial) => void = () => undefined) {
    const reloads: TlsMaterial[] = [];
    const errors: string[] = [];
    const w = new TlsFileWatcher(files, LABELS, initial, (m) => {
      onReload(m);
      reloads.push(m);
    }, (e) => errors.push(e));
    return { w, reloads, errors };
  }

  test('loads and checks a certificate, its key and a CA', () => {
    freshFiles();
    const m = loadTlsMaterial(files, LABELS);
    assert.ok(m.leaf);
    assert.equal(m.leaf.subject, 'CN=cart');
    assert.deepEqual(m.cert, fs.readFileSync(a.cert));
    assert.ok(m.ca && m.ca.length > 0);
  });

  test('errors name the option: unreadable, not PEM, key of another certificate', () => {
    freshFiles();
    assert.throws(() => loadTlsMaterial({ ...files, cert: '/nonexistent.crt' }, LABELS), /^TlsFileError: invalid --tls-cert: cannot read \/nonexistent.crt/);
    fs.writeFileSync(files.key, 'nope');
    assert.throws(() => loadTlsMaterial(files, LABELS), /invalid --tls-key: .*holds no PEM private key/);
    fs.copyFileSync(b.key, files.key);
    assert.throws(() => loadTlsMaterial(files, LABELS), (e: Error & { which?: string }) => e.which === 'key' && /is not the key of the certificate in --tls-cert/.test(e.message));
    assert.throws(() => loadTlsMaterial({ cert: null, key: null, ca: files.key }, LABELS), /invalid --tls-ca: .*holds no PEM certificate/);
  });

  test('unchanged files: nothing happens', async () => {
    freshFiles();
    const { w, reloads, errors } = watcher(loadTlsMaterial(files, LABELS));
    await w.check();
    await w.check();
    assert.equal(reloads.length, 0);
    assert.deepEqual(errors, []);
  });

  test('a rotated pair is handed over once, with the new certificate', async () => {
    freshFiles();
    const first = loadTlsMaterial(files, LABELS);
    const { w, reloads, errors } = watcher(first);
    fs.copyFileSync(b.key, files.key);
    fs.copyFileSync(b.cert, files.cert);
    await w.check();
    await w.check();
    assert.deepEqual(errors, []);
    assert.equal(reloads.length, 1);
    assert.notEqual(reloads[0].leaf!.serialNumber, first.leaf!.serialNumber);
    assert.equal(reloads[0].leaf!.serialNumber, loadTlsMaterial({ cert: b.cert, key: b.key, ca: null }, LABELS).leaf!.serialNumber);
  });

  test('a half-done rotation (new key, old certificate) is reported once and not used; completing it reloads', async () => {
    freshFiles();
    const { w, reloads, errors } = watcher(loadTlsMaterial(files, LABELS));
    fs.copyFileSync(b.key, files.key);
    await w.check();
    await w.check();
    assert.equal(reloads.length, 0);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /invalid --tls-key: .*is not the key of the certificate/);
    fs.copyFileSync(b.cert, files.cert);
    await w.check();
    assert.equal(reloads.length, 1);
  });

  test('a missing file (mid-rename) is reported once; when it is back the material reloads', async () => {
    freshFiles();
    const { w, reloads, errors } = watcher(loadTlsMaterial(files, LABELS));
    fs.rmSync(files.cert);
    await w.check();
    await w.check();
    assert.equal(errors.length, 1);
    assert.match(errors[0], /invalid --tls-cert: cannot read/);
    fs.copyFileSync(b.cert, files.cert);
    fs.copyFileSync(b.key, files.key);
    await w.check();
    assert.equal(reloads.length, 1);
  });

  test('a consumer refusing the new material (onReload throws) is reported, not thrown', async () => {
    freshFiles();
    const { w, reloads, errors } = watcher(loadTlsMaterial(files, LABELS), () => {
      throw new Error('setSecureContext said no');
    });
    fs.copyFileSync(b.key, files.key);
    fs.copyFileSync(b.cert, files.cert);
    await w.check();
    assert.equal(reloads.length, 0);
    assert.deepEqual(errors, ['setSecureContext said no']);
  });
});
