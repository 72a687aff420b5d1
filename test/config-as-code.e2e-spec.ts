import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { api, request, viaProxy } from './support/http-client';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

type Rev = { id: number; actor: string; summary: string; diff: unknown; config: unknown };

describe('configuration as code: revisions, apply, rollback, If-Match, CLI', () => {
  let m: MesherProcess;
  let v1: Upstream;
  let v2: Upstream;
  const dir = tempDir();

  const doc = () => `
services:
  - name: shop
    description: the shop
    instances:
      - id: shop-v1
        endpoint: ${v1.url}
        version: 1.0.0
      - id: shop-v2
        endpoint: ${v2.url}
        version: 2.0.0
routes:
  - id: shop-to-v2
    service: shop
    precedence: 1
    route:
      - tags: { version: 2.0.0 }
        weight: 100
policies:
  shop:
    timeout: { requestMs: 2000 }
`;

  before(async () => {
    m = await startMesher([], { dataDir: dir });
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
  });
  after(async () => {
    await m?.stop();
    await v1?.close();
    await v2?.close();
  });

  test('every admin write records a revision with actor, summary and diff; the history pages', async () => {
    await api(m.admin, 'POST', '/v1/services', { name: 'history' }, { 'x-mesher-actor': 'dashboard' });
    await api(m.admin, 'POST', '/v1/services/history/instances', { endpoint: v1.url });
    const page = (await api(m.admin, 'GET', '/v1/revisions?limit=1')).json<{ total: number; items: Rev[] }>();
    assert.equal(page.total, 2);
    assert.equal(page.items.length, 1);
    assert.match(page.items[0].summary, /register instance of history/);
    assert.equal(page.items[0].actor, 'api');
    const first = (await api(m.admin, 'GET', '/v1/revisions?offset=1&limit=1')).json<{ items: Rev[] }>().items[0];
    assert.equal(first.actor, 'dashboard');
    const full = (await api(m.admin, 'GET', `/v1/revisions/${first.id}`)).json<Rev>();
    assert.deepEqual(full.diff, { created: { service: { name: 'history', app: null, description: null } } });
    assert.equal((await api(m.admin, 'GET', '/v1/revisions/9999')).status, 404);
    assert.equal((await api(m.admin, 'GET', '/v1/revisions?limit=0')).status, 422);
  });

  test('dry run reports the diff and changes nothing; apply makes it so, all or nothing', async () => {
    const before = (await api(m.admin, 'GET', '/v1/config')).body;
    const revsBefore = (await api(m.admin, 'GET', '/v1/revisions')).json<{ total: number }>().total;
    const dry = await request(m.admin, 'PUT', '/v1/config?dryRun=true', { headers: { 'content-type': 'application/yaml' }, body: doc() });
    assert.equal(dry.status, 200, dry.body);
    const d = dry.json<{ applied: boolean; changes: Array<{ op: string; kind: string; key: string }> }>();
    assert.equal(d.applied, false);
    assert.deepEqual(
      d.changes.map((c) => `${c.op} ${c.kind} ${c.key}`),
      ['remove service history', 'add service shop', 'remove instance history/' + (await api(m.admin, 'GET', '/v1/services/history/instances')).json<Array<{ id: string }>>()[0].id, 'add instance shop/shop-v1', 'add instance shop/shop-v2', 'add route shop-to-v2', 'add policy shop'],
    );
    assert.equal((await api(m.admin, 'GET', '/v1/config')).body, before, 'dry run changed nothing');
    assert.equal((await api(m.admin, 'GET', '/v1/revisions')).json<{ total: number }>().total, revsBefore);

    const bad = await request(m.admin, 'PUT', '/v1/config', {
      headers: { 'content-type': 'application/yaml' },
      body: doc().replace('weight: 100', 'weight: 90').replace('requestMs: 2000', 'requestMs: -1'),
    });
    assert.equal(bad.status, 422);
    const fields = bad.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field);
    assert.ok(fields.includes('routes[0].route'), fields.join(','));
    assert.ok(fields.includes('policies.shop.timeout.requestMs'), fields.join(','));
    assert.equal((await api(m.admin, 'GET', '/v1/config')).body, before, 'an invalid document applies nothing');

    const ok = await request(m.admin, 'PUT', '/v1/config', { headers: { 'content-type': 'application/yaml' }, body: doc() });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json<{ applied: boolean }>().applied, true);
    const r = await viaProxy(m.proxy, 'GET', 'http://shop/x');
    assert.equal(r.body, 'v2 GET /x', 'the applied route is live');
    assert.equal((await viaProxy(m.proxy, 'GET', 'http://history/x')).status, 404);
    const again = await request(m.admin, 'PUT', '/v1/config', { headers: { 'content-type': 'application/yaml' }, body: doc() });
    assert.equal(again.json<{ applied: boolean; changes: unknown[] }>().changes.length, 0, 'applying the same document is a no-op');
    const exported = parse((await api(m.admin, 'GET', '/v1/config?format=yaml')).body) as { services: Array<{ name: string }>; routes: Array<{ id: string }> };
    assert.deepEqual(exported.services.map((s) => s.name), ['shop']);
    assert.deepEqual(exported.routes.map((x) => x.id), ['shop-to-v2']);
  });

  test('rollback restores a revision as a new revision, and revisions diff', async () => {
    const applied = (await api(m.admin, 'GET', '/v1/revisions?limit=1')).json<{ items: Rev[] }>().items[0];
    const configAtApply = (await api(m.admin, 'GET', '/v1/config')).json();
    const rule = (await api(m.admin, 'GET', '/v1/routes/shop-to-v2')).json<Record<string, unknown>>();
    const put = await api(m.admin, 'PUT', '/v1/routes/shop-to-v2', { ...rule, id: undefined, route: [{ tags: { version: '1.0.0' }, weight: 100 }] });
    assert.equal(put.status, 200, put.body);
    assert.equal((await viaProxy(m.proxy, 'GET', 'http://shop/x')).body, 'v1 GET /x');
    const latest = (await api(m.admin, 'GET', '/v1/revisions?limit=1')).json<{ items: Rev[] }>().items[0];
    const diff = (await api(m.admin, 'GET', `/v1/revisions/${applied.id}/diff/${latest.id}`)).json<{ changes: Array<{ op: string; key: string }> }>();
    assert.deepEqual(diff.changes.map((c) => `${c.op} ${c.key}`), ['change shop-to-v2']);
    const rb = await api(m.admin, 'POST', `/v1/revisions/${applied.id}/rollback`);
    assert.equal(rb.status, 201, rb.body);
    assert.equal(rb.json<{ revision: number }>().revision, latest.id + 1);
    assert.deepEqual((await api(m.admin, 'GET', '/v1/config')).json(), configAtApply);
    assert.equal((await viaProxy(m.proxy, 'GET', 'http://shop/x')).body, 'v2 GET /x');
    const newest = (await api(m.admin, 'GET', '/v1/revisions?limit=1')).json<{ items: Rev[] }>().items[0];
    assert.equal(newest.summary, `rollback to revision ${applied.id}`);
  });

  test('a write with a stale If-Match gets 412 and changes nothing', async () => {
    const got = await api(m.admin, 'GET', '/v1/routes/shop-to-v2');
    const etag = String(got.headers.etag);
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const { id: _id, ...body } = got.json<Record<string, unknown>>();
    const ok = await api(m.admin, 'PUT', '/v1/routes/shop-to-v2', { ...body, precedence: 7 }, { 'if-match': etag });
    assert.equal(ok.status, 200, ok.body);
    const stale = await api(m.admin, 'PUT', '/v1/routes/shop-to-v2', { ...body, precedence: 9 }, { 'if-match': etag });
    assert.equal(stale.status, 412);
    assert.equal((await api(m.admin, 'GET', '/v1/routes/shop-to-v2')).json<{ precedence: number }>().precedence, 7);
    const cfg = await api(m.admin, 'GET', '/v1/config');
    assert.equal((await request(m.admin, 'PUT', '/v1/config', { headers: { 'content-type': 'application/yaml', 'if-match': '"0000000000000000"' }, body: doc() })).status, 412);
    const p = await api(m.admin, 'GET', '/v1/policies/shop');
    assert.equal((await api(m.admin, 'PUT', '/v1/policies/shop', { timeout: { requestMs: 1 } }, { 'if-match': '"stale"' })).status, 412);
    assert.equal((await api(m.admin, 'PUT', '/v1/policies/shop', { timeout: { requestMs: 1500 } }, { 'if-match': String(p.headers.etag) })).status, 200);
    assert.ok(cfg.headers.etag);
  });

  test('the CLI applies, exports, lists and rolls back through the admin API', async () => {
    const env = { MESHER_ADMIN_URL: `http://${m.admin}` };
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, doc().replace('precedence: 1', 'precedence: 3'));
    const dry = await runMesher(['apply', '-f', file, '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /~ route shop-to-v2/);
    assert.match(dry.stdout, /dry run: nothing applied/);
    const applied = await runMesher(['apply', '-f', file], env);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied as revision (\d+)/);
    const services = await runMesher(['get', 'services', '-o', 'json'], env);
    assert.deepEqual(JSON.parse(services.stdout).map((s: { name: string }) => s.name), ['shop']);
    const table = await runMesher(['get', 'revisions'], env);
    assert.match(table.stdout, /^REVISION\s+AT\s+ACTOR\s+SUMMARY/);
    assert.match(table.stdout, /\bcli\b/);
    const exported = await runMesher(['export'], env);
    assert.equal((parse(exported.stdout) as { routes: Array<{ precedence: number }> }).routes[0].precedence, 3);
    const rev = Number(/applied as revision (\d+)/.exec(applied.stdout)![1]);
    const rb = await runMesher(['rollback', String(rev - 1)], env);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /restored revision/);
    const bad = await runMesher(['apply', '-f', path.join(dir, 'missing.yaml')], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot read/);
    const unreachable = await runMesher(['get', 'services', '--admin-url', 'http://127.0.0.1:1'], {});
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the admin API/);
  });

  test('sidecar registrations and heartbeats do not flood the history', async () => {
    const before = (await api(m.admin, 'GET', '/v1/revisions')).json<{ total: number }>().total;
    const app = await startUpstream('sc');
    const sc = await startMesher(['--service-name', 'sidecarred', '--app-port', String(app.port), '--inbound-port', '0', '--heartbeat-interval', '200ms', '--instance-ttl', '2s'], { dataDir: dir });
    try {
      await new Promise((r) => setTimeout(r, 700));
      assert.equal((await api(m.admin, 'GET', '/v1/services/sidecarred/instances')).json<unknown[]>().length, 1);
      assert.equal((await api(m.admin, 'GET', '/v1/revisions')).json<{ total: number }>().total, before);
      // An apply leaves sidecar-registered services and instances alone.
      const cfg = await request(m.admin, 'PUT', '/v1/config', { headers: { 'content-type': 'application/yaml' }, body: doc() });
      assert.equal(cfg.status, 200, cfg.body);
      assert.equal((await api(m.admin, 'GET', '/v1/services/sidecarred/instances')).json<unknown[]>().length, 1);
    } finally {
      await sc.stop();
      await app.close();
    }
  });
});

describe('configuration as code: --config-file at start-up', () => {
  test('a mesh kept in a file is applied before traffic; an invalid one stops start-up naming the field', async () => {
    const up = await startUpstream('filed');
    const dir = tempDir();
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, `services:\n  - name: filed\n    instances:\n      - endpoint: ${up.url}\n`);
    const m = await startMesher(['--config-file', file], { dataDir: dir });
    try {
      assert.equal((await viaProxy(m.proxy, 'GET', 'http://filed/ok')).body, 'filed GET /ok');
    } finally {
      await m.stop();
      await up.close();
    }
    fs.writeFileSync(file, `services:\n  - name: filed\n    instances:\n      - endpoint: not-a-url\n`);
    const r = await runMesher(['start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', tempDir(), '--config-file', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /services\[0\]\.instances\[0\]\.endpoint/);
  });
});
