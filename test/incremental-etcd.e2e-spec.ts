import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configOf, type MeshConfig } from '@mesher/contracts';
import { EtcdRegistryStore } from '@mesher/persistence';
import { buildSnapshot, updateSnapshot, type RegistrySnapshot } from '@mesher/registry';
import { etcdAvailable, startEtcd, type EtcdServer } from './support/etcd';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** What routing sees of each service, to compare an incremental update with a full build. */
const routing = (s: RegistrySnapshot) =>
  Object.fromEntries([...s.services].map(([name, e]) => [name, { record: e.record, all: e.allInstances, up: e.instances.map((i) => i.id), routes: e.routes.map((r) => r.id), policy: e.policy }]));

/** The etcd store's watch events feed incremental updates like the SQLite change log does (issue #7). */
describe('incremental registry over etcd', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let etcd: EtcdServer;
  const stores: EtcdRegistryStore[] = [];
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await etcd?.dispose();
  });

  test('watch events hand out only the touched services, heartbeats as heartbeats, and equal a full build', async () => {
    const prefix = `/mesher-incremental-${process.pid}/`;
    const a = await EtcdRegistryStore.open({ endpoints: [etcd.endpoint], prefix });
    const b = await EtcdRegistryStore.open({ endpoints: [etcd.endpoint], prefix });
    stores.push(a, b);
    for (let i = 0; i < 5; i++) await a.registerInstance(`svc-${i}`, { id: `i-${i}`, endpoint: `http://127.0.0.1:${9000 + i}` }, 'api');
    await waitFor('the first writes at b', async () => (await b.loadState()).services.length === 5);
    const seq0 = await b.changeSeq();
    let snap = buildSnapshot(await b.loadState(), Date.now());

    const rec = await a.registerInstance('svc-2', { id: 'i-2b', endpoint: 'http://127.0.0.1:9100', ttl: 30 }, 'api');
    await a.putPolicy('svc-3', { timeout: { requestMs: 400 } }, 'api');
    await a.createRoute({ service: 'svc-2', precedence: 1, match: null, route: [{ tags: {}, weight: 1 }] }, 'api');
    await a.deleteService('svc-4', 'api');
    await waitFor('the writes at b', async () => (await b.loadState()).services.length === 4);
    const c1 = (await b.changesSince(seq0))!;
    assert.ok(c1, 'the journal reaches back');
    assert.deepEqual([...c1.services.keys()].sort(), ['svc-2', 'svc-3', 'svc-4']);
    assert.equal(c1.services.get('svc-4'), null);
    assert.deepEqual(c1.services.get('svc-2')!.instances.map((i) => i.id).sort(), ['i-2', 'i-2b']);
    assert.deepEqual(c1.heartbeats, []);
    const next = updateSnapshot(snap, { revision: c1.revision, services: c1.services }, Date.now());
    assert.deepEqual(routing(next), routing(buildSnapshot(await b.loadState(), Date.now())));
    assert.equal(next.services.get('svc-0'), snap.services.get('svc-0'), 'untouched entries are shared');
    snap = next;

    await sleep(5); // a later heartbeat time than the registration's
    const beat = await a.heartbeat('svc-2', rec.id);
    await waitFor('the heartbeat at b', async () => (await b.getInstance('svc-2', rec.id))?.lastHeartbeat === beat.lastHeartbeat);
    const c2 = (await b.changesSince(c1.seq))!;
    assert.equal(c2.services.size, 0, 'a heartbeat re-reads no service');
    assert.deepEqual(c2.heartbeats, [{ service: 'svc-2', id: rec.id, lastHeartbeat: beat.lastHeartbeat }]);

    await a.putEdgeRule('egress', { id: 'eg', host: 'api.example.org', ports: [443], tls: true, policy: null }, 'api', false);
    await waitFor('the egress rule at b', async () => ((await b.loadState()).egress ?? []).length === 1);
    const c3 = (await b.changesSince(c2.seq))!;
    assert.equal(c3.services.size, 0);
    assert.deepEqual(c3.egress?.map((r) => r.id), ['eg']);
    assert.equal(await b.changesSince(-5), null, 'a position before the journal: read everything');
  });

  test('revisions are stored as deltas after the first and materialize to the config after each write', async () => {
    const prefix = `/mesher-revisions-${process.pid}/`;
    const a = await EtcdRegistryStore.open({ endpoints: [etcd.endpoint], prefix });
    stores.push(a);
    const seen = new Map<number, MeshConfig>();
    const step = async (write: () => Promise<unknown>) => {
      await write();
      const { items } = await a.listRevisions(0, 1);
      seen.set(items[0].id, configOf(await a.loadState()));
    };
    await step(() => a.createService({ name: 'cart', app: null, description: null }, 'api'));
    for (let i = 0; i < 30; i++) await step(() => a.createService({ name: `filler-${i}`, app: null, description: 'x'.repeat(40) }, 'api'));
    let id = '';
    await step(async () => (id = (await a.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001', version: '1.0.0' }, 'api')).id));
    await step(() => a.updateInstance('cart', id, { weight: 7 }, 'api'));
    await step(() => a.putPolicy('cart', { retry: { attempts: 2 } }, 'api'));
    await step(() => a.createRoute({ service: 'cart', precedence: 1, match: null, route: [{ tags: { version: '1.0.0' }, weight: 1 }] }, 'api'));
    await step(() => a.deleteService('filler-3', 'api'));
    for (const [rev, cfg] of seen) assert.deepEqual((await a.getRevision(rev))!.config, cfg, `revision ${rev}`);
    assert.equal(((await a.listRevisions(0, 1)).items[0] as { changes?: unknown }).changes, undefined, 'the delta stays internal');

    // As stored (etcd's JSON gateway): the first holds the whole config, later ones only what they touched.
    const raw = async (rev: number) => {
      const res = await fetch(`${etcd.endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(`${prefix}revisions/${String(rev).padStart(12, '0')}`).toString('base64') }) });
      const body = (await res.json()) as { kvs: Array<{ value: string }> };
      return Buffer.from(body.kvs[0].value, 'base64').toString();
    };
    const revs = [...seen.keys()];
    assert.ok(JSON.parse(await raw(revs[0])).config);
    const last = await raw(revs[revs.length - 1]);
    assert.equal(JSON.parse(last).config, null);
    assert.deepEqual(Object.keys(JSON.parse(last).changes.services), ['filler-3']);
    assert.ok(last.length < 600, `${last.length} bytes`);
    assert.ok(JSON.stringify(seen.get(revs[revs.length - 1])).length > 2_000);
  });
});
