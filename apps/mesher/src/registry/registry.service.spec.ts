import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { configOf } from '@mesher/contracts';
import { openDataSource, SqliteRegistryStore } from '@mesher/persistence';
import { buildSnapshot, SnapshotHolder, type RegistrySnapshot } from '@mesher/registry';
import { RegistryService } from './registry.service';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const dirs: string[] = [];
const sources: DataSource[] = [];
const services: RegistryService[] = [];
after(async () => {
  for (const s of services) s.onApplicationShutdown();
  for (const ds of sources) if (ds.isInitialized) await ds.destroy();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function storeAt(dir: string): Promise<SqliteRegistryStore> {
  const ds = await openDataSource(dir);
  sources.push(ds);
  return new SqliteRegistryStore(ds);
}

/** A registry of `n` services with one instance each, and a RegistryService on it, started. */
async function setup(n: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesher-registry-'));
  dirs.push(dir);
  const store = await storeAt(dir);
  for (let i = 0; i < n; i++) await store.registerInstance(`svc-${i}`, { id: `i-${i}`, endpoint: `http://127.0.0.1:${9000 + i}` }, 'api');
  const holder = new SnapshotHolder();
  const registry = new RegistryService(store, holder);
  services.push(registry);
  await registry.onModuleInit();
  let swaps = 0;
  holder.onSwap(() => swaps++);
  return { dir, store, holder, registry, swaps: () => swaps };
}

/** What routing sees of each service, to compare with a full build. */
const routing = (s: RegistrySnapshot) =>
  Object.fromEntries([...s.services].map(([name, e]) => [name, { record: e.record, all: e.allInstances.map((i) => i.id), up: e.instances.map((i) => i.id), routes: e.routes.map((r) => r.id), policy: e.policy }]));

const shared = (a: RegistrySnapshot, b: RegistrySnapshot, except: string[]) => {
  for (const [name, e] of a.services) if (!except.includes(name)) assert.equal(b.services.get(name), e, `${name} keeps its entry`);
};

describe('RegistryService: incremental updates from the SQLite change log', () => {
  test('a local write recompiles only the touched service; the result equals a full build', async () => {
    const { store, holder, registry } = await setup(30);
    const s1 = holder.current;
    assert.equal(s1.services.size, 30);
    await store.registerInstance('svc-3', { id: 'i-3b', endpoint: 'http://127.0.0.1:9100', version: '2.0.0' }, 'api');
    await store.createRoute({ service: 'svc-3', precedence: 1, match: null, route: [{ tags: { version: '2.0.0' }, weight: 1 }] }, 'api');
    await store.registerInstance('new-svc', { id: 'n-1', endpoint: 'http://127.0.0.1:9200' }, 'api');
    await store.deleteService('svc-4', 'api');
    await registry.refresh();
    const s2 = holder.current;
    shared(s1, s2, ['svc-3', 'svc-4']);
    assert.deepEqual(s2.services.get('svc-3')!.allInstances.map((i) => i.id), ['i-3', 'i-3b']);
    assert.equal(s2.services.has('svc-4'), false);
    assert.equal(s2.revision, (await store.listRevisions(0, 1)).items[0].id);
    assert.deepEqual(routing(s2), routing(buildSnapshot(await store.loadState(), Date.now())));
  });

  test('a write by another process on the same file arrives through the poll, and only its service changes', async () => {
    const { dir, holder } = await setup(10);
    const other = await storeAt(dir);
    const s1 = holder.current;
    await other.putPolicy('svc-5', { timeout: { requestMs: 250 } }, 'api');
    await waitFor('the other process\'s policy', () => holder.current.services.get('svc-5')!.policy !== null);
    shared(s1, holder.current, ['svc-5']);
    assert.deepEqual(holder.current.services.get('svc-5')!.policy, { timeout: { requestMs: 250 } });
    await other.putEdgeRule('egress', { id: 'eg', host: 'api.example.org', ports: [443], tls: true, policy: null }, 'api', false);
    await waitFor('the egress rule', () => holder.current.egress.length === 1);
    shared(s1, holder.current, ['svc-5']);
  });

  test('heartbeats move the expiry and rebuild nothing; without them the instance leaves routing, alone', async () => {
    const { dir, store, holder, registry, swaps } = await setup(10);
    const beater = await storeAt(dir); // heartbeats from another process, as a sidecar sharing the file sends them
    await store.registerInstance('ttl-svc', { id: 't-1', endpoint: 'http://127.0.0.1:9300', ttl: 3 }, 'api');
    await registry.refresh();
    const s1 = holder.current;
    const before = swaps();
    // 4 s of heartbeats every 200 ms: longer than the 3 s TTL, so only the heartbeats keep it in routing.
    const end = Date.now() + 4000;
    let beats = 0;
    while (Date.now() < end) {
      await beater.heartbeat('ttl-svc', 't-1');
      beats++;
      await registry.refresh();
      assert.equal(holder.current.services.get('ttl-svc')!.instances.length, 1);
      await sleep(200);
    }
    assert.ok(beats >= 5);
    assert.equal(swaps(), before, 'no snapshot was built for a heartbeat');
    assert.equal(holder.current, s1);

    await waitFor('expiry after the last heartbeat', () => holder.current.services.get('ttl-svc')!.instances.length === 0);
    shared(s1, holder.current, ['ttl-svc']);
    assert.equal(holder.current.services.get('ttl-svc')!.allInstances.length, 1, 'expired, not removed');

    // A heartbeat after expiry brings it back: that one does rebuild its service.
    const s2 = holder.current;
    await beater.heartbeat('ttl-svc', 't-1');
    await registry.refresh();
    assert.equal(holder.current.services.get('ttl-svc')!.instances.length, 1);
    shared(s2, holder.current, ['ttl-svc']);
  });

  test("a sibling's heartbeat arriving after an instance ran out (timer not yet run) does not keep it in routing", async () => {
    const { store, holder, registry } = await setup(3);
    await store.registerInstance('pair', { id: 'short', endpoint: 'http://127.0.0.1:9400', ttl: 1 }, 'api');
    await store.registerInstance('pair', { id: 'long', endpoint: 'http://127.0.0.1:9401', ttl: 30 }, 'api');
    await registry.refresh();
    const entry = () => holder.current.services.get('pair')!.instances.map((i) => i.id);
    assert.deepEqual(entry(), ['long', 'short']);
    // Hold the event loop past the short TTL, so the heartbeat below is applied before the expiry timer runs.
    const until = Date.now() + 1300;
    while (Date.now() < until) {
      // busy: a stalled event loop, on purpose
    }
    await store.heartbeat('pair', 'long');
    await registry.refresh();
    await waitFor('the expired instance out of routing', () => entry().join() === 'long', 5000);
  });

  test('a whole-config write (apply, rollback) touches only the services it changes; the result equals a full build', async () => {
    const { store, holder, registry } = await setup(8);
    const s1 = holder.current;
    const cfg = configOf(await store.loadState());
    cfg.services = cfg.services.filter((s) => s.name !== 'svc-1').concat([{ name: 'only', app: null, description: 'from a document', instances: [] }]);
    cfg.policies['svc-2'] = { timeout: { requestMs: 300 } };
    await store.replaceConfig(cfg, 'api', 'apply');
    await registry.refresh();
    shared(s1, holder.current, ['svc-1', 'svc-2', 'only']);
    assert.equal(holder.current.services.has('svc-1'), false);
    assert.deepEqual(holder.current.services.get('svc-2')!.policy, { timeout: { requestMs: 300 } });
    assert.deepEqual(routing(holder.current), routing(buildSnapshot(await store.loadState(), Date.now())));
    assert.deepEqual(configOf(await store.loadState()), { ...cfg, services: cfg.services.sort((a, b) => (a.name < b.name ? -1 : 1)) });
  });
});
