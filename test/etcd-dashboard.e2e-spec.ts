import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, eventually, shot, text } from './support/browser';
import { etcdAvailable, startEtcd, type EtcdServer } from './support/etcd';
import { REPO_ROOT, startMesher, type MesherProcess } from './support/mesher-process';

const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist', 'index.html');
const BADGE = '[data-registry]';

describe('dashboard: which registry, and whether it is connected', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let etcd: EtcdServer;
  let onEtcd: MesherProcess | undefined;
  let onSqlite: MesherProcess | undefined;
  let browser: Browser;
  let page: Page;

  before(async () => {
    assert.ok(fs.existsSync(WEB_DIST), `the dashboard is not built (${WEB_DIST} is missing): run npm run build`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
    etcd = await startEtcd();
    const started = await Promise.allSettled([
      startMesher(['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint], { timeoutMs: 45_000 }).then((x) => (onEtcd = x)),
      startMesher([], { timeoutMs: 45_000 }).then((x) => (onSqlite = x)),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }).then((x) => (browser = x)),
    ]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([onEtcd?.stop(), onSqlite?.stop()]);
    for (const m of [onEtcd, onSqlite]) if (m) fs.rmSync(m.dataDir, { recursive: true, force: true });
    await etcd?.dispose();
  });

  const badge = async () => ({ text: await text(page, BADGE), title: (await page.locator(BADGE).getAttribute('title')) ?? '' });

  test('a Mesher on SQLite says so', async () => {
    await page.goto(`http://${onSqlite!.admin}/`);
    await eventually(async () => assert.equal((await badge()).text, 'SQLite: connected'));
  });

  test('a Mesher on etcd: connected with its endpoints, disconnected while etcd is down (with the reason), connected again after', async () => {
    await page.goto(`http://${onEtcd!.admin}/`);
    const up = await eventually(async () => {
      const b = await badge();
      assert.equal(b.text, 'etcd: connected');
      return b;
    });
    assert.equal(up.title, `Registry: etcd at ${etcd.endpoint}`);
    assert.match((await page.locator(BADGE).getAttribute('class')) ?? '', /h-ok/);
    await shot(page, 'etcd-registry-connected');

    await etcd.kill();
    // The store notices within its 2 s health check; the badge refreshes every 5 s.
    const down = await eventually(async () => {
      const b = await badge();
      assert.equal(b.text, 'etcd: disconnected');
      return b;
    }, 20_000);
    assert.match(down.title, new RegExp(`^Registry: etcd at ${etcd.endpoint.replace(/[.:/]/g, '\\$&')}: .+; routing continues from the last state read from etcd$`));
    assert.match((await page.locator(BADGE).getAttribute('class')) ?? '', /h-bad/);
    await shot(page, 'etcd-registry-disconnected');

    await etcd.restart();
    await eventually(async () => assert.equal((await badge()).text, 'etcd: connected'), 20_000);
  });
});
