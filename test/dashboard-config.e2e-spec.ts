import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, eventually, shot, text } from './support/browser';
import { api, request } from './support/http-client';
import { REPO_ROOT, startMesher, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

// The dashboard's configuration pages (runtime state, history, edge rules, concurrent edits) against one real
// edge-mode Mesher, in Debian's chromium.
const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist', 'index.html');

interface Rev {
  id: number;
  actor: string;
  summary: string;
}

describe('dashboard configuration pages in a real browser (Debian chromium)', () => {
  let m: MesherProcess;
  let shop: Upstream;
  let sick: Upstream;
  let browser: Browser;
  let page: Page;
  let loads = 0;
  const visit = (hash: string) => page.goto(`http://${m.admin}/?load=${++loads}${hash}`);
  const ids: Record<string, string> = {};

  before(async () => {
    assert.ok(fs.existsSync(WEB_DIST), `the dashboard is not built (${WEB_DIST} is missing): run npm run build`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
    const started = await Promise.allSettled([
      startMesher(['--mode', 'edge', '--edge-port', '0', '--edge-address', '127.0.0.1']).then((x) => (m = x)),
      startUpstream('shop').then((x) => (shop = x)),
      // Serves requests but fails its health check.
      startUpstream('sick', (req, res) => {
        res.writeHead(req.url === '/health' ? 503 : 200, { 'x-upstream': 'sick' });
        res.end(req.url === '/health' ? 'not well' : 'sick');
      }).then((x) => (sick = x)),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }).then((x) => (browser = x)),
    ]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    for (const [name, up] of [
      ['healthy', shop],
      ['sick', sick],
    ] as const) {
      const r = await api(m.admin, 'POST', '/v1/services/shop/instances', { endpoint: up.url, version: '1.0.0' });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json<{ id: string }>().id;
    }
  });
  after(async () => {
    await browser?.close();
    await m?.stop();
    await shop?.close();
    await sick?.close();
  });

  test('the services page shows the circuit state and an instance failing its active health check', async () => {
    const hc = { path: '/health', intervalMs: 300, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 1 };
    const set = await api(m.admin, 'PUT', '/v1/policies/shop', { healthCheck: hc });
    assert.equal(set.status, 200, set.body);
    await visit('#/services');
    const card = page.locator('section[data-service="shop"]');
    const sickCell = card.locator(`[data-runtime="shop/${ids.sick}"]`);
    await eventually(async () => assert.equal(await sickCell.getAttribute('data-health'), 'unhealthy'));
    assert.match((await sickCell.textContent()) ?? '', /failing health checks/);
    const okCell = card.locator(`[data-runtime="shop/${ids.healthy}"]`);
    assert.equal(await okCell.getAttribute('data-health'), 'routable');
    assert.match((await okCell.textContent()) ?? '', /routable.*in flight/);
    // The default circuit breaker is on and nothing has failed.
    assert.equal(await text(page, 'section[data-service="shop"] [data-circuit="shop"]'), 'circuit closed');
    const rt = (await api(m.admin, 'GET', '/v1/runtime/shop')).json<{ instances: Array<{ id: string; unhealthy: boolean }> }>();
    assert.deepEqual(
      rt.instances.map((i) => [i.id, i.unhealthy]).sort(),
      [
        [ids.healthy, false],
        [ids.sick, true],
      ].sort(),
    );
    await shot(page, 'services-runtime');
    // Leave the sick instance out of the rest: the edge traffic below must not depend on the health checker.
    assert.equal((await api(m.admin, 'DELETE', `/v1/services/shop/instances/${ids.sick}`)).status, 204);
    assert.equal((await api(m.admin, 'DELETE', '/v1/policies/shop')).status, 204);
  });

  test('history lists revisions with actors, shows what one changed, and rolls back after a confirmation', async () => {
    const first = await api(m.admin, 'PUT', '/v1/policies/shop', { timeout: { requestMs: 2000 } });
    assert.equal(first.status, 200, first.body);
    const second = await api(m.admin, 'PUT', '/v1/policies/shop', { timeout: { requestMs: 3000 } }, { 'x-mesher-actor': 'cli' });
    assert.equal(second.status, 200, second.body);
    const [after2, after1] = (await api(m.admin, 'GET', '/v1/revisions?offset=0&limit=2')).json<{ items: Rev[] }>().items;
    assert.equal(after2.actor, 'cli');

    await visit('#/history');
    const table = page.locator('table[aria-label="Revisions"]');
    const row2 = table.locator(`tr[data-revision="${after2.id}"]`);
    await row2.waitFor();
    assert.equal(await row2.getAttribute('data-actor'), 'cli');
    assert.match((await row2.textContent()) ?? '', /set policy of shop/);
    assert.equal(await table.locator(`tr[data-revision="${after1.id}"]`).getAttribute('data-actor'), 'api');
    assert.match(await text(page, '[data-range]'), /^1–\d+ of \d+$/);

    await row2.getByRole('button', { name: `Show changes of revision #${after2.id}` }).click();
    const change = page.locator(`table[aria-label="Changes from revision ${after2.id - 1} to ${after2.id}"] tr[data-kind="policy"][data-key="shop"]`);
    await change.waitFor();
    assert.equal(await change.getAttribute('data-op'), 'change');
    assert.match((await change.textContent()) ?? '', /timeout\.requestMs: 2000 → 3000/);
    await shot(page, 'history-diff');

    // The rollback asks first, in the page, and shows what it would change; nothing happens until confirmed.
    await table.locator(`tr[data-revision="${after1.id}"]`).getByRole('button', { name: `Roll back to revision #${after1.id}` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to revision #${after1.id}?` });
    await dialog.waitFor();
    await eventually(async () => assert.match((await dialog.locator('table[aria-label="Changes the rollback would make"]').textContent()) ?? '', /timeout\.requestMs: 3000 → 2000/));
    await shot(page, 'history-rollback-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await api(m.admin, 'GET', '/v1/policies/shop')).json<{ spec: { timeout: { requestMs: number } } }>().spec.timeout.requestMs, 3000, 'cancel changes nothing');

    await table.locator(`tr[data-revision="${after1.id}"]`).getByRole('button', { name: `Roll back to revision #${after1.id}` }).click();
    await dialog.getByRole('button', { name: `Roll back to #${after1.id}` }).click();
    await dialog.waitFor({ state: 'detached' });
    const newest = table.locator(`tr[data-revision="${after2.id + 1}"]`);
    await newest.waitFor();
    assert.match((await newest.textContent()) ?? '', new RegExp(`rollback to revision ${after1.id}.*current`));
    assert.equal(await newest.getAttribute('data-actor'), 'dashboard', 'the dashboard names itself in the history');
    assert.equal((await api(m.admin, 'GET', '/v1/policies/shop')).json<{ spec: { timeout: { requestMs: number } } }>().spec.timeout.requestMs, 2000);
    const [made] = (await api(m.admin, 'GET', '/v1/revisions?offset=0&limit=1')).json<{ items: Rev[] }>().items;
    assert.deepEqual([made.id, made.actor, made.summary], [after2.id + 1, 'dashboard', `rollback to revision ${after1.id}`]);
    // Any two revisions compare: the rollback's result matches the revision it went back to.
    const compare = page.getByRole('form', { name: 'Compare two revisions' });
    await compare.getByLabel('From revision').fill(String(after1.id));
    await compare.getByLabel('To revision').fill(String(made.id));
    await compare.getByRole('button', { name: 'Compare' }).click();
    await eventually(async () => assert.match(await text(page, '#revision-diff [data-diff="empty"]'), new RegExp(`No change to services, instances, routes or policies between #${after1.id} and #${made.id}`)));
    await shot(page, 'history');
  });

  test('an ingress rule with a bad regex is named next to its field and kept; a good one appears in the list', async () => {
    await visit('#/edge');
    await page.getByRole('button', { name: 'New ingress rule' }).click();
    const form = page.locator('#ingress-form');
    await form.getByLabel('Host').fill('shop.example.test');
    await form.getByLabel('Path regex').fill('^/(shop|store');
    await form.getByLabel('Service').fill('shop');
    await form.getByRole('button', { name: 'Create ingress rule' }).click();
    const regexError = form.locator('[data-error-for="pathRegex"]');
    await eventually(async () => assert.match((await regexError.textContent()) ?? '', /pathRegex does not compile/));
    assert.equal(await form.getByLabel('Path regex').getAttribute('aria-invalid'), 'true');
    const [errBox, inputBox] = await Promise.all([regexError.boundingBox(), form.getByLabel('Path regex').boundingBox()]);
    assert.ok(errBox && inputBox && errBox.y > inputBox.y && errBox.y - inputBox.y < 80, 'the message is next to the regex field');
    assert.equal(await form.getByLabel('Host').inputValue(), 'shop.example.test');
    assert.deepEqual((await api(m.admin, 'GET', '/v1/ingress')).json(), [], 'nothing was stored');
    await shot(page, 'edge-invalid');

    await form.getByLabel('Path regex').fill('^/(shop|store)/');
    await form.getByRole('button', { name: 'Create ingress rule' }).click();
    const row = page.locator('table[aria-label="Ingress rules"] tr[data-ingress]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /shop\.example\.test.*\^\/\(shop\|store\)\/.*shop/);
    assert.equal(await form.count(), 0, 'the form closes after a successful save');
    const rules = (await api(m.admin, 'GET', '/v1/ingress')).json<Array<{ host: string; pathRegex: string; service: string }>>();
    assert.deepEqual(
      rules.map((r) => [r.host, r.pathRegex, r.service]),
      [['shop.example.test', '^/(shop|store)/', 'shop']],
    );

    // Egress the same way: a bad port is named, a good rule is listed.
    await page.getByRole('button', { name: 'New egress rule' }).click();
    const eform = page.locator('#egress-form');
    await eform.getByLabel('Host', { exact: true }).fill('api.partner.test');
    await eform.getByLabel('Ports').fill('443, https');
    await eform.getByRole('button', { name: 'Create egress rule' }).click();
    await eventually(async () => assert.match(await text(page, '#egress-form [data-error-for="ports"]'), /ports\[1\] must be an integer/));
    await eform.getByLabel('Ports').fill('443');
    await eform.getByRole('button', { name: 'Create egress rule' }).click();
    await page.locator('table[aria-label="Egress rules"] tr[data-egress]').waitFor();
    assert.deepEqual((await api(m.admin, 'GET', '/v1/egress')).json<Array<{ host: string; ports: number[] }>>().map((r) => [r.host, r.ports]), [['api.partner.test', [443]]]);
    await shot(page, 'edge');
  });

  test('traffic through the edge listener shows as an "outside" node at the left of the topology', async () => {
    assert.ok(m.edge, 'the edge listener is open');
    for (let i = 0; i < 5; i++) {
      const r = await request(m.edge, 'GET', `/shop/item-${i}`, { headers: { host: 'shop.example.test' } });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['x-upstream'], 'shop');
    }
    await visit('');
    const outside = page.locator('svg.topology g.node-outside[data-node="outside"]');
    await outside.waitFor({ timeout: 15_000 });
    await page.locator('svg.topology g[data-edge="outside>shop"]').waitFor();
    // Measured in one go: the graph is redrawn with every live update.
    await eventually(async () => {
      // A string: the test project has no DOM types.
      const [outsideRight, shopLeft] = await page.evaluate<[number, number]>(`(() => {
        const box = (sel) => document.querySelector(sel)?.getBoundingClientRect();
        return [box('svg.topology g[data-node="outside"]')?.right ?? NaN, box('svg.topology g[data-node="shop"]')?.left ?? NaN];
      })()`);
      assert.ok(outsideRight < shopLeft, `outside (right edge ${outsideRight}) is drawn to the left of shop (left edge ${shopLeft})`);
    });
    await eventually(async () => assert.match(await text(page, 'table[aria-label="Calls in the last minute"] tr[data-edge="outside>shop"]'), /^outside/));
    await shot(page, 'overview-outside');
  });

  test('saving an edit of a rule someone else changed meanwhile gets 412: the form says so and keeps the input', async () => {
    const [rule] = (await api(m.admin, 'GET', '/v1/ingress')).json<Array<{ id: string }>>();
    await visit('#/edge');
    await page.locator(`tr[data-ingress="${rule.id}"]`).getByRole('button', { name: /^Edit ingress rule/ }).click();
    const form = page.locator('#ingress-form');
    await form.getByLabel('Rewrite path').fill('/v2/');
    // Someone else changes the rule while the form is open.
    const other = await api(m.admin, 'PUT', `/v1/ingress/${rule.id}`, { host: 'shop.example.test', pathPrefix: '/shop', service: 'shop' });
    assert.equal(other.status, 200, other.body);
    await form.getByRole('button', { name: 'Save ingress rule' }).click();
    await eventually(async () => assert.match(await text(page, '#ingress-form .form-banner'), /changed by someone else since you opened it; reload/));
    assert.equal(await form.getByLabel('Rewrite path').inputValue(), '/v2/', 'what the user typed is kept');
    const stored = (await api(m.admin, 'GET', `/v1/ingress/${rule.id}`)).json<{ pathPrefix: string; pathRegex: string | null; rewritePath: string | null }>();
    assert.deepEqual([stored.pathPrefix, stored.pathRegex, stored.rewritePath], ['/shop', null, null], 'the other change was not overwritten');
    await shot(page, 'edge-stale');

    // Reload opens the current version; saving it now works.
    await form.getByRole('button', { name: 'Reload' }).click();
    await eventually(async () => assert.equal(await page.locator('#ingress-form').getByLabel('Path prefix').inputValue(), '/shop'));
    await page.locator('#ingress-form').getByLabel('Rewrite path').fill('/');
    await page.locator('#ingress-form').getByRole('button', { name: 'Save ingress rule' }).click();
    await page.locator('#ingress-form').waitFor({ state: 'detached' });
    assert.equal((await api(m.admin, 'GET', `/v1/ingress/${rule.id}`)).json<{ rewritePath: string }>().rewritePath, '/');
  });
});
