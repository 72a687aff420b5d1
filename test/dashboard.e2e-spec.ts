import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, eventually, shot, text } from './support/browser';
import { api, request, viaProxy } from './support/http-client';
import { REPO_ROOT, startMesher, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist', 'index.html');
const TOKEN = 'dashboard-e2e-token';

/** Where 10 proxied requests to cart land, by the upstream's name. */
async function landing(m: MesherProcess): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < 10; i++) {
    const r = await viaProxy(m.proxy, 'GET', `http://cart/landing?i=${i}`);
    assert.equal(r.status, 200, r.body);
    const who = String(r.headers['x-upstream']);
    seen[who] = (seen[who] ?? 0) + 1;
  }
  return seen;
}

describe('dashboard in a real browser (Debian chromium)', () => {
  let m: MesherProcess;
  let a: Upstream;
  let b: Upstream;
  let browser: Browser;
  let page: Page;
  let base: string;
  let loads = 0;
  /** A full page load at `hash` (a query makes each one distinct, so no test starts on the previous page's state). */
  const visit = (p: Page, hash = '', origin = base) => p.goto(`${origin}/?load=${++loads}${hash}`);

  before(async () => {
    assert.ok(fs.existsSync(WEB_DIST), `the dashboard is not built (${WEB_DIST} is missing): run npm run build`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
    // Settled one by one, so after() closes whatever did start even when one of them fails (no leaked browser).
    const started = await Promise.allSettled([
      startMesher().then((x) => (m = x)),
      startUpstream('a').then((x) => (a = x)),
      startUpstream('b').then((x) => (b = x)),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }).then((x) => (browser = x)),
    ]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    base = `http://${m.admin}`;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    const reg = await api(m.admin, 'POST', '/v1/services/cart/instances', { endpoint: a.url, version: '1.0.0' });
    assert.equal(reg.status, 201, reg.body);
  });
  after(async () => {
    await browser?.close();
    await m?.stop();
    await a?.close();
    await b?.close();
  });

  test('the admin server serves the dashboard at / and leaves /v1, /health, /docs and /metrics alone', async () => {
    const index = await request(m.admin, 'GET', '/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.match(index.body, /<div id="app">/);
    const script = /<script type="module"[^>]* src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    assert.ok(script, 'index.html names its bundle');
    const js = await request(m.admin, 'GET', script);
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.doesNotMatch(index.body + js.body, /https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)[a-z]/i, 'no CDN or remote font in the bundle');

    assert.equal((await api(m.admin, 'GET', '/v1/services')).json<unknown[]>().length, 1);
    assert.equal((await api(m.admin, 'GET', '/health/ready')).status, 200);
    assert.match((await api(m.admin, 'GET', '/docs-json')).json<{ openapi: string }>().openapi, /^3\./);
    const metrics = await request(m.admin, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.doesNotMatch(metrics.body, /<div id="app">/);
    const unknown = await api(m.admin, 'GET', '/no-such-page');
    assert.equal(unknown.status, 404);
    assert.doesNotMatch(unknown.body, /<div id="app">/);
  });

  test('the overview lists the registered services', async () => {
    await visit(page);
    const row = page.locator('table[aria-label="Services"] tr[data-service="cart"]');
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? '', /cart.*1 up.*1\.0\.0/s);
    assert.equal(await text(page, '[data-tile="Services"] .tile-value'), '1');
    assert.equal(await text(page, '[data-tile="Instances up"] .tile-value'), '1 / 1');
    assert.equal(await page.locator('svg.topology g[data-node="cart"]').count(), 1);
    await shot(page, 'overview');
  });

  test('registering an instance through the form shows it, and the API has it; a bad endpoint is named next to its field', async () => {
    await visit(page, '#/services');
    const form = page.getByRole('form', { name: 'Register an instance' });
    await form.getByLabel('Service', { exact: true }).fill('cart');
    await form.getByLabel('Endpoint').fill('not-a-url');
    await form.getByRole('button', { name: 'Register' }).click();
    const endpointError = form.locator('[data-error-for="endpoint"]');
    await eventually(async () => assert.match((await endpointError.textContent()) ?? '', /endpoint must be an http\(s\) URL/));
    assert.equal(await form.getByLabel('Endpoint').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('Endpoint').fill(b.url);
    await form.getByLabel('Version').fill('2.0.0');
    await form.getByLabel('Labels').fill('zone=b, canary=true');
    await form.getByRole('button', { name: 'Register' }).click();
    const row = page.locator(`section[data-service="cart"] tr[data-endpoint="${b.url}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? '', /2\.0\.0.*zone=b.*canary=true/s);
    assert.equal(await endpointError.isHidden(), true, 'the error is cleared after a successful save');

    const detail = (await api(m.admin, 'GET', '/v1/services/cart')).json<{ instances: Array<{ endpoint: string; version: string; labels: Record<string, string> }> }>();
    const inst = detail.instances.find((i) => i.endpoint === b.url);
    assert.ok(inst, 'the API lists the instance registered through the form');
    assert.equal(inst.version, '2.0.0');
    assert.deepEqual(inst.labels, { zone: 'b', canary: 'true' });
    await shot(page, 'services');
  });

  test('removing an instance takes two clicks, and then it is gone from the page and the API', async () => {
    const tmp = await api(m.admin, 'POST', '/v1/services/scratch/instances', { endpoint: 'http://127.0.0.1:9', version: '0.0.1' });
    assert.equal(tmp.status, 201, tmp.body);
    const id = tmp.json<{ id: string }>().id;
    await visit(page, '#/services');
    const row = page.locator(`section[data-service="scratch"] tr[data-instance="${id}"]`);
    await row.waitFor();
    const remove = row.getByRole('button', { name: 'Remove instance http://127.0.0.1:9' });
    await remove.click();
    assert.equal(await remove.textContent(), 'Confirm', 'the first click only arms the button');
    assert.equal((await api(m.admin, 'GET', `/v1/services/scratch/instances/${id}`)).status, 200);
    await remove.click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await api(m.admin, 'GET', `/v1/services/scratch/instances/${id}`)).status, 404);
    assert.equal(await page.locator(`tr[data-endpoint="${b.url}"]`).count(), 1, 'other instances stay');
  });

  test('a route rule whose weights do not sum to 100 shows the API message next to the weights and keeps the form', async () => {
    await visit(page, '#/routes');
    await page.getByRole('button', { name: 'New route rule' }).click();
    const form = page.locator('#route-form');
    await form.getByLabel('Destination service').fill('cart');
    await form.getByLabel('keep the total at 100').uncheck();
    await form.getByLabel('Weight % of subset 2').fill('5');
    await form.getByRole('button', { name: 'Add header match' }).click();
    await form.getByLabel('Header name').fill('x-canary');
    await form.getByLabel('Match kind').selectOption('regex');
    await form.getByLabel('Header value').fill('(unclosed');
    await form.getByRole('button', { name: 'Create rule' }).click();

    const weightsError = form.locator('[data-error-for="route"]');
    await eventually(async () => assert.match((await weightsError.textContent()) ?? '', /route weights must sum to 100 \(got 95\)/));
    // The slot sits right under the weight rows.
    const [errBox, weightBox] = await Promise.all([weightsError.boundingBox(), form.getByLabel('Weight % of subset 2').boundingBox()]);
    assert.ok(errBox && weightBox && errBox.y > weightBox.y && errBox.y - weightBox.y < 120, 'the message is next to the weight field');
    assert.match(await text(page, '[data-error-for="match.headers.x-canary.regex"]'), /match\.headers\.x-canary\.regex/);
    assert.match(await text(page, '#route-form .form-banner'), /^Not saved/);
    // Nothing the user typed is lost.
    assert.equal(await form.getByLabel('Weight % of subset 1').inputValue(), '90');
    assert.equal(await form.getByLabel('Weight % of subset 2').inputValue(), '5');
    assert.equal(await form.getByLabel('Header value').inputValue(), '(unclosed');
    assert.equal(await form.getByLabel('Destination service').inputValue(), 'cart');
    await shot(page, 'routes-invalid');
    assert.deepEqual((await api(m.admin, 'GET', '/v1/routes')).json(), [], 'nothing was stored');
  });

  test('a valid canary rule saves and shows in the list, and moving its slider moves the traffic', async () => {
    await visit(page, '#/routes');
    await page.getByRole('button', { name: 'New route rule' }).click();
    let form = page.locator('#route-form');
    await form.getByLabel('Destination service').fill('cart');
    // With "keep the total at 100" on, the other subset takes the rest.
    await form.getByLabel('Weight slider of subset 1').fill('0');
    assert.equal(await form.getByLabel('Weight % of subset 2').inputValue(), '100');
    await form.getByRole('button', { name: 'Create rule' }).click();
    const row = page.locator('table[aria-label="Route rules"] tr[data-service="cart"]');
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? '', /version=1\.0\.0 0% · version=2\.0\.0 100%/);
    assert.equal(await form.count(), 0, 'the form closes after a successful save');
    const rules = (await api(m.admin, 'GET', '/v1/routes')).json<Array<{ id: string; route: Array<{ tags: Record<string, string>; weight: number }> }>>();
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].route, [
      { tags: { version: '1.0.0' }, weight: 0 },
      { tags: { version: '2.0.0' }, weight: 100 },
    ]);
    assert.deepEqual(await landing(m), { b: 10 });

    await row.getByRole('button', { name: /^Edit rule for cart/ }).click();
    form = page.locator('#route-form');
    await form.getByLabel('Weight slider of subset 1').fill('100');
    assert.equal(await form.getByLabel('Weight % of subset 2').inputValue(), '0');
    await form.getByRole('button', { name: 'Save rule' }).click();
    await eventually(async () => assert.match((await row.textContent()) ?? '', /version=1\.0\.0 100% · version=2\.0\.0 0%/));
    assert.deepEqual(await landing(m), { a: 10 });
    await shot(page, 'routes');
  });

  test('a policy value the API rejects is named next to its field; a valid one is saved', async () => {
    await visit(page, '#/policies?service=cart');
    const form = page.locator('#policy-form');
    await form.waitFor({ timeout: 10_000 });
    await form.getByLabel('Attempts (incl. first)').fill('20');
    await form.getByLabel('Request (ms)').fill('2500');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await eventually(async () => assert.match(await text(page, '[data-error-for="retry.attempts"]'), /retry\.attempts must be an integer between 1 and 10/));
    assert.equal(await form.getByLabel('Request (ms)').inputValue(), '2500');
    assert.deepEqual((await api(m.admin, 'GET', '/v1/policies/cart')).json<{ spec: object }>().spec, {});

    await form.getByLabel('Attempts (incl. first)').fill('3');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('table[aria-label="Policies"] tr[data-policy="cart"]').waitFor({ timeout: 10_000 });
    const spec = (await api(m.admin, 'GET', '/v1/policies/cart')).json<{ spec: { retry?: { attempts: number }; timeout?: { requestMs: number } } }>().spec;
    assert.equal(spec.retry?.attempts, 3);
    assert.equal(spec.timeout?.requestMs, 2500);
    await shot(page, 'policies');
  });

  test('traffic sent through the proxy shows up live on the overview and the traffic page', async (t) => {
    const probe = await api(m.admin, 'GET', '/v1/traffic');
    if (probe.status === 404) {
      t.skip('traffic API not present');
      return;
    }
    assert.equal(probe.status, 200, probe.body);
    await visit(page);
    for (let i = 0; i < 30; i++) assert.equal((await viaProxy(m.proxy, 'GET', `http://cart/live?i=${i}`)).status, 200);
    // 20 requests from the canary test plus these 30, all within the last minute.
    const requests = page.locator('table[aria-label="Calls in the last minute"] tr[data-edge$=">cart"] [data-col="requests"]');
    await eventually(async () => assert.ok(Number(await requests.textContent()) >= 50, `requests shown: ${await requests.textContent()}`), 15_000);
    assert.match(await text(page, 'svg.topology g[data-edge$=">cart"] .edge-label'), /rps/);
    assert.notEqual(await text(page, '[data-tile="Requests / s"] .tile-value'), '0');
    assert.equal(await text(page, '[data-tile="Error ratio"] .tile-value'), '0%');
    await shot(page, 'overview-live');

    await visit(page, `#/traffic?sel=${encodeURIComponent('service:cart')}`);
    const oneMinute = page.locator('tr[data-window="1 min"] td').first();
    await eventually(async () => assert.ok(Number((await oneMinute.textContent())?.replace(/,/g, '')) >= 50));
    assert.equal(await page.locator('figure.chart-box').count() >= 3, true);
    await shot(page, 'traffic');
  });

  test('against a Mesher without the traffic API (404) the pages show an empty state and the rest still works', async () => {
    const old = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    old.setDefaultTimeout(10_000);
    try {
      // What an older Mesher answers for routes it does not have.
      await old.route(/\/v1\/traffic(\/|\?|$)/, (r) =>
        r.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', message: `Cannot GET ${new URL(r.request().url()).pathname}` }) }),
      );
      await visit(old);
      await old.locator('table[aria-label="Services"] tr[data-service="cart"]').waitFor();
      await eventually(async () => assert.match(await text(old, '[data-feed]'), /Live traffic is not available.*404/));
      assert.equal(await text(old, '[data-tile="Requests / s"] .tile-value'), '–');
      assert.equal(await old.locator('svg.topology g[data-node="cart"]').count(), 1, 'the services are still drawn');

      await visit(old, `#/traffic?sel=${encodeURIComponent('service:cart')}`);
      await old.getByText('Live traffic is not available', { exact: true }).waitFor();
      await old.getByText('History is not available', { exact: true }).waitFor();
    } finally {
      await old.close();
    }
  });

  test('with an admin token the dashboard asks for it, then loads data sending it as a bearer header', async () => {
    const secured = await startMesher(['--admin-token', TOKEN]);
    let context: BrowserContext | undefined;
    try {
      context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const reg = await api(secured.admin, 'POST', '/v1/services/secured-svc/instances', { endpoint: a.url }, { authorization: `Bearer ${TOKEN}` });
      assert.equal(reg.status, 201, reg.body);
      const p = await context.newPage();
      const sentAuth: string[] = [];
      p.on('request', (r) => {
        if (new URL(r.url()).pathname === '/v1/services') sentAuth.push(r.headers()['authorization'] ?? '');
      });
      p.setDefaultTimeout(10_000);
      await visit(p, '', `http://${secured.admin}`);
      await p.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
      await shot(p, 'login');

      await p.getByLabel('Admin token').fill('wrong-token');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await eventually(async () => assert.match(await text(p, '.login .form-banner'), /That token was refused/));

      await p.getByLabel('Admin token').fill(TOKEN);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.locator('table[aria-label="Services"] tr[data-service="secured-svc"]').waitFor({ timeout: 10_000 });
      assert.equal(await p.evaluate("sessionStorage.getItem('mesher.adminToken')"), TOKEN);
      assert.deepEqual(await context.cookies(), [], 'the token is never a cookie');
      assert.ok(sentAuth.includes(`Bearer ${TOKEN}`), `requests carried: ${JSON.stringify(sentAuth)}`);
    } finally {
      await context?.close();
      await secured.stop();
    }
  });
});
