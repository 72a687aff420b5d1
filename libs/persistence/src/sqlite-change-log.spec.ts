import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { configOf, diffConfig, type MeshConfig } from '@mesher/contracts';
import { dataSourceOptions, MIGRATIONS, openDataSource } from './data-source';
import { writeRegistryCache } from './registry-cache';
import { SqliteRegistryStore } from './sqlite-registry.store';

const dirs: string[] = [];
const open: DataSource[] = [];
after(async () => {
  for (const ds of open) if (ds.isInitialized) await ds.destroy();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mesher-changelog-'));
  dirs.push(d);
  return d;
}

async function storeAt(dir: string, clock?: () => number): Promise<{ store: SqliteRegistryStore; ds: DataSource }> {
  const ds = await openDataSource(dir);
  open.push(ds);
  return { store: new SqliteRegistryStore(ds, clock), ds };
}

describe('SQLite change log: what another reader of the file sees', () => {
  test('only the touched services come back, whole; a heartbeat comes back as a heartbeat only', async () => {
    const dir = tempDir();
    const { store: a, ds: dsA } = await storeAt(dir);
    const { store: b } = await storeAt(dir);
    await a.createService({ name: 'idle', app: null, description: null }, 'api');
    const seq0 = await b.changeSeq();
    assert.ok(seq0 > 0);
    await a.createService({ name: 'cart', app: 'shop', description: null }, 'api');
    const inst = await a.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001', ttl: 30 }, 'api');
    await a.putPolicy('cart', { timeout: { requestMs: 500 } }, 'api');
    await a.createRoute({ service: 'cart', precedence: 1, match: null, route: [{ tags: {}, weight: 1 }] }, 'api');

    const c1 = (await b.changesSince(seq0))!;
    assert.ok(c1, 'the log reaches back');
    assert.deepEqual([...c1.services.keys()], ['cart']);
    const cart = c1.services.get('cart')!;
    assert.deepEqual(cart.record, { name: 'cart', app: 'shop', description: null });
    assert.deepEqual(cart.instances, [inst]);
    assert.deepEqual(cart.policy, { timeout: { requestMs: 500 } });
    assert.equal(cart.routes.length, 1);
    assert.deepEqual(c1.heartbeats, []);
    assert.equal(c1.ingress, undefined);
    assert.equal(c1.revision, (await a.listRevisions(0, 1)).items[0].id);
    assert.equal(c1.seq, await a.changeSeq());
    assert.deepEqual((await b.changesSince(c1.seq))!.services.size, 0, 'nothing new, nothing read');

    const beat = await a.heartbeat('cart', inst.id);
    const c2 = (await b.changesSince(c1.seq))!;
    assert.equal(c2.services.size, 0);
    assert.deepEqual(c2.heartbeats, [{ service: 'cart', id: inst.id, lastHeartbeat: beat.lastHeartbeat }]);

    await a.deleteService('cart', 'api');
    const c3 = (await b.changesSince(c2.seq))!;
    assert.deepEqual([...c3.services.entries()], [['cart', null]]);

    await a.putEdgeRule('ingress', { id: 'in', host: null, pathPrefix: '/', pathRegex: null, rewritePath: null, service: 'idle', port: null }, 'api', false);
    const c4 = (await b.changesSince(c3.seq))!;
    assert.equal(c4.services.size, 0);
    assert.deepEqual(c4.ingress?.map((r) => r.id), ['in']);
    assert.deepEqual(c4.egress, []);

    await a.replaceConfig({ services: [{ name: 'only', app: null, description: null, instances: [] }], routes: [], policies: {} }, 'api', 'apply');
    const c5 = (await b.changesSince(c4.seq))!;
    assert.deepEqual([...c5.services.keys()].sort(), ['idle', 'only'], 'a whole-config write logs only the services it changed');
    assert.equal(c5.services.get('idle'), null);
    assert.equal(c5.services.get('only')!.record.name, 'only');

    // The etcd store's local cache rewrites every table at once: readers of the file must read it all.
    await writeRegistryCache(dsA, { services: [{ name: 'cached', app: null, description: null, createdAt: 1 }], instances: [], routes: [], policies: [], ingress: [], egress: [] });
    assert.equal(await b.changesSince(c5.seq), null);
    assert.deepEqual((await b.loadState()).services.map((x) => x.name), ['cached']);
  });

  test('a reader the pruned log no longer reaches gets null (read everything), never a partial change', async () => {
    let t = 1_000_000;
    const { store: a } = await storeAt(tempDir(), () => t);
    await a.createService({ name: 'cart', app: null, description: null }, 'api');
    const old = await a.changeSeq();
    const inst = await a.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001' }, 'api');
    const reached = await a.changeSeq();
    t += 120_000;
    // Enough heartbeats to pass a pruning point (every 256 log rows), all newer than the retention.
    for (let i = 0; i < 300; i++) await a.heartbeat('cart', inst.id);
    // The registration this reader never saw is pruned: it must not get the heartbeats alone.
    assert.equal(await a.changesSince(old), null);
    assert.equal((await a.changesSince(reached))!.heartbeats.length, 1, 'a reader that saw it is still reached');
    const recent = (await a.changeSeq()) - 5;
    assert.equal((await a.changesSince(recent))!.heartbeats.length, 1, 'five beats of one instance come back as its latest');
  });
});

describe('SQLite revisions as deltas', () => {
  const raw = (ds: DataSource) =>
    ds.query(`SELECT id, length("config") AS configLen, length("changes") AS changesLen FROM "revision" ORDER BY id`) as Promise<
      Array<{ id: number; configLen: number | null; changesLen: number | null }>
    >;

  test('every revision materializes to the config as it was after it; only the first keeps the whole config', async () => {
    const { store, ds } = await storeAt(tempDir());
    const seen: MeshConfig[] = [];
    const step = async (write: () => Promise<unknown>) => {
      await write();
      seen.push(configOf(await store.loadState()));
    };
    await step(() => store.createService({ name: 'cart', app: null, description: null }, 'api'));
    for (let i = 0; i < 100; i++) await step(() => store.createService({ name: `filler-${i}`, app: null, description: 'x'.repeat(50) }, 'api'));
    const i1 = (await store.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001', version: '1.0.0' }, 'api')).id;
    seen.push(configOf(await store.loadState()));
    await step(() => store.registerInstance('cart', { endpoint: 'http://127.0.0.1:9002', version: '2.0.0' }, 'api'));
    await step(() => store.registerInstance('cart', { id: 'side', endpoint: 'http://127.0.0.1:9003', registeredBy: 'sidecar:n1' }, 'sidecar:n1'));
    await step(() => store.updateInstance('cart', i1, { weight: 5, labels: { zone: 'a' } }, 'api'));
    const r = await store.createRoute({ service: 'cart', precedence: 2, match: { pathPrefix: '/a' }, route: [{ tags: { version: '2.0.0' }, weight: 1 }] }, 'api');
    seen.push(configOf(await store.loadState()));
    await step(() => store.replaceRoute(r.id, { service: 'filler-3', precedence: 1, match: null, route: [{ tags: {}, weight: 1 }] }, 'api'));
    await step(() => store.putPolicy('cart', { retry: { attempts: 2 } }, 'api'));
    await step(() => store.deletePolicy('cart', 'api'));
    await step(() => store.deleteInstance('cart', i1, 'api'));
    await step(() => store.deleteService('filler-3', 'api'));

    const revs = (await store.listRevisions(0, 1000)).items.sort((x, y) => x.id - y.id);
    // The sidecar's registration records no revision.
    assert.equal(revs.length, seen.length - 1);
    const configs = seen.filter((_, i) => i !== 103);
    for (let i = 0; i < revs.length; i++) {
      assert.deepEqual((await store.getRevision(revs[i].id))!.config, configs[i], `revision ${revs[i].id} (${revs[i].summary})`);
    }
    const rows = await raw(ds);
    assert.ok(rows[0].configLen! > 0, 'the first revision starts the chain with the whole config');
    assert.ok(rows.slice(1).every((x) => x.configLen === null && x.changesLen! > 0), 'later ones store only their change');
    // A change to one service stays small however many services there are.
    assert.ok(rows[rows.length - 2].changesLen! < 600, `delta of ${rows[rows.length - 2].changesLen} bytes`);
    assert.ok(JSON.stringify(configs[configs.length - 1]).length > 8_000);

    const applied = await store.replaceConfig(configs[5], 'api', 'rollback');
    assert.deepEqual((await store.getRevision(applied!))!.config, configOf(await store.loadState()));
    assert.ok((await raw(ds)).at(-1)!.configLen! > 0, 'a whole-config write keeps the whole config it has at hand');
    await store.createService({ name: 'late', app: null, description: null }, 'api');
    assert.deepEqual((await store.getRevision(applied! + 1))!.config, configOf(await store.loadState()));
  });

  test('an existing database migrates: old full-config revisions stay, new ones chain onto them', async () => {
    const dir = tempDir();
    // The schema as the previous release left it, with a revision holding the whole config.
    const old = new DataSource({ ...dataSourceOptions(dir), migrations: MIGRATIONS.slice(0, 4) } as ConstructorParameters<typeof DataSource>[0]);
    fs.mkdirSync(dir, { recursive: true });
    await old.initialize();
    const cfg: MeshConfig = { services: [{ name: 'cart', app: null, description: null, instances: [] }], routes: [], policies: {} };
    await old.query(`INSERT INTO "service" ("name", "app", "description", "createdAt") VALUES ('cart', NULL, NULL, 1)`);
    await old.query(`INSERT INTO "revision" ("at", "actor", "summary", "diff", "config") VALUES (1, 'api', 'create service cart', NULL, ?)`, [JSON.stringify(cfg)]);
    await old.destroy();

    const { store, ds } = await storeAt(dir);
    const tables = (await ds.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'registry_change'`)) as unknown[];
    assert.equal(tables.length, 1, 'the migration created the change log');
    assert.deepEqual((await store.getRevision(1))!.config, cfg);
    await store.putPolicy('cart', { timeout: { requestMs: 100 } }, 'api');
    const latest = (await store.getRevision(2))!;
    assert.deepEqual(latest.config, configOf(await store.loadState()));
    assert.deepEqual(diffConfig((await store.getRevision(1))!.config!, latest.config!).map((c) => `${c.op} ${c.kind} ${c.key}`), ['add policy cart']);
    assert.equal((await raw(ds))[1].configLen, null);
  });

  test('a revision without a chain behind it (rows written outside Mesher) keeps the whole config', async () => {
    const { store, ds } = await storeAt(tempDir());
    await ds.query(`INSERT INTO "service" ("name", "app", "description", "createdAt") VALUES ('outside', NULL, NULL, 1)`);
    await ds.query(`INSERT INTO "revision" ("at", "actor", "summary", "diff") VALUES (1, 'bench', 'rows written by hand', NULL)`);
    await store.createService({ name: 'cart', app: null, description: null }, 'api');
    assert.equal((await store.getRevision(1))!.config, null);
    assert.deepEqual((await store.getRevision(2))!.config!.services.map((s) => s.name), ['cart', 'outside']);
    await store.createService({ name: 'shop', app: null, description: null }, 'api');
    assert.deepEqual((await store.getRevision(3))!.config!.services.map((s) => s.name), ['cart', 'outside', 'shop']);
    assert.equal((await raw(ds))[2].configLen, null);
  });
});
