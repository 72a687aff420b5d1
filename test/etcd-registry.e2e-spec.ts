import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { AdminError } from '@mesher/contracts';
import { EtcdRegistryStore, openDataSource, type RegistryStore } from '@mesher/persistence';
import { etcdAvailable, etcdClient, freePort, startEtcd, type EtcdServer } from './support/etcd';
import { api, viaProxy } from './support/http-client';
import { sleep, waitFor } from './support/load';
import { createRule, register } from './support/mesh-admin';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startSteadyLoad, type LoadResult } from './support/steady-load';
import { startUpstream, type Upstream } from './support/upstream';

/** Rejects with an AdminError of this code (and a message matching `msg`). */
async function rejectsWith(p: Promise<unknown>, code: string, msg?: RegExp, field?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AdminError, `an AdminError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    if (field) assert.ok(e.errors.some((x) => x.field === field), `field ${field} in ${JSON.stringify(e.errors)}`);
    return true;
  });
}

let prefixes = 0;
const prefix = () => `/mesher-test-${process.pid}-${++prefixes}/`;

describe('etcd registry', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.dispose();
  });

  describe('the store against a real etcd', () => {
    const open: RegistryStore[] = [];
    const openStore = async (p: string, extra: Partial<Parameters<typeof EtcdRegistryStore.open>[0]> = {}) => {
      const s = await EtcdRegistryStore.open({ endpoints: [etcd.endpoint], prefix: p, ...extra });
      open.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    test('a write through one store reaches another through its watch; domain errors match the SQLite store', async () => {
      const p = prefix();
      const [a, b] = [await openStore(p), await openStore(p)];
      const before = await b.changeToken();
      await a.createService({ name: 'cart', app: 'shop', description: null }, 'api');
      const inst = await a.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001', version: '1.0.0', labels: { zone: 'z1' } }, 'api');
      assert.deepEqual(await a.getInstance('cart', inst.id), inst, 'a store reads its own write at once');
      await waitFor('the instance at the second store', async () => (await b.loadState()).instances.some((i) => i.id === inst.id));
      assert.notEqual(await b.changeToken(), before, 'the change token moved');
      assert.deepEqual(await b.getService('cart'), { name: 'cart', app: 'shop', description: null });
      assert.deepEqual(await b.getInstance('cart', inst.id), inst);

      await rejectsWith(a.createService({ name: 'cart', app: null, description: null }, 'api'), 'CONFLICT', /already exists/, 'name');
      await rejectsWith(a.deleteService('nope', 'api'), 'NOT_FOUND', /no service named 'nope'/);
      await rejectsWith(a.listInstances('nope'), 'NOT_FOUND');
      await rejectsWith(a.registerInstance('cart', { endpoint: 'http://127.0.0.1:9001' }, 'api'), 'CONFLICT', /already has an instance/, 'endpoint');
      await rejectsWith(a.createRoute({ service: 'ghost', precedence: 1, match: null, route: [{ tags: {}, weight: 100 }] }, 'api'), 'INVALID', /ghost/, 'service');
      await rejectsWith(a.updateInstance('cart', 'nope', { weight: 5 }, 'api'), 'NOT_FOUND', /no instance with id 'nope'/);
      await rejectsWith(a.deletePolicy('cart', 'api'), 'NOT_FOUND', /has no policy/);
      await a.createService({ name: 'other', app: null, description: null }, 'api');
      await rejectsWith(a.registerInstance('other', { id: inst.id, endpoint: 'http://127.0.0.1:9002' }, 'api'), 'CONFLICT', /belongs to service 'cart'/, 'id');

      const route = await a.createRoute({ service: 'cart', precedence: 5, match: { pathPrefix: '/v2' }, route: [{ tags: { version: '1.0.0' }, weight: 100 }] }, 'cli');
      await a.putPolicy('cart', { timeout: { requestMs: 1500 } }, 'api');
      const updated = await a.updateInstance('cart', inst.id, { weight: 7, status: 'DRAINING' }, 'api');
      assert.equal(updated.weight, 7);
      assert.equal(updated.status, 'DRAINING');
      await a.putEdgeRule('egress', { id: 'ext', host: 'api.example.com', ports: [443], tls: true, policy: null }, 'api', false);
      await rejectsWith(a.putEdgeRule('egress', { id: 'ext', host: 'x', ports: [80], tls: false, policy: null }, 'api', false), 'CONFLICT');
      await rejectsWith(a.putEdgeRule('ingress', { id: 'nope', host: null, pathPrefix: '/', pathRegex: null, rewritePath: null, service: 'cart', port: null }, 'api', true), 'NOT_FOUND');

      const state = await waitFor('every write at the second store', async () => {
        const s = await b.loadState();
        return s.routes.length === 1 && s.policies.length === 1 && (s.egress ?? []).length === 1 && s.instances[0]?.weight === 7 ? s : undefined;
      });
      assert.deepEqual(state.routes[0], route);
      assert.deepEqual(state.policies, [{ service: 'cart', spec: { timeout: { requestMs: 1500 } } }]);
      assert.deepEqual(await b.listEdgeRules('egress'), [{ id: 'ext', host: 'api.example.com', ports: [443], tls: true, policy: null }]);

      // Every configuration write is a revision, newest first, with the whole config after it.
      const revs = await b.listRevisions(0, 100);
      assert.equal(revs.total, 7);
      assert.deepEqual(revs.items.map((r) => r.id), [7, 6, 5, 4, 3, 2, 1]);
      assert.equal(revs.items[3].actor, 'cli');
      assert.match(revs.items[3].summary, /create route for cart/);
      assert.deepEqual((await b.listRevisions(2, 2)).items.map((r) => r.id), [5, 4]);
      const first = await b.getRevision(1);
      assert.deepEqual(first?.config?.services.map((s) => s.name), ['cart']);
      assert.equal(await b.getRevision(99), null);

      // A declarative config: applied as one revision; applying it again changes nothing.
      const cfg = { services: [{ name: 'cart', app: 'shop', description: null, instances: [] }], routes: [], policies: { cart: { timeout: { requestMs: 900 } } } };
      assert.equal(await a.replaceConfig(cfg, 'cli', 'apply'), 8);
      assert.equal(await a.replaceConfig(cfg, 'cli', 'apply'), null);
      const after = await waitFor('the applied config', async () => {
        const s = await b.loadState();
        return s.revision === 8 ? s : undefined;
      });
      assert.deepEqual(after.services.map((s) => s.name), ['cart']);
      assert.deepEqual(after.instances, []);
      assert.deepEqual(after.routes, []);

      await a.deleteService('cart', 'api');
      await waitFor('the deletion at the second store', async () => (await b.listServices()).length === 0);
    });

    test('concurrent writers through two stores lose nothing and number revisions without gaps', async () => {
      const p = prefix();
      const [a, b] = [await openStore(p), await openStore(p)];
      await a.createService({ name: 'cart', app: null, description: null }, 'api');
      const rule = (n: number) => ({ id: `r${n}`, service: 'cart', precedence: n, match: null, route: [{ tags: {}, weight: 100 }] });
      await Promise.all(
        Array.from({ length: 12 }, (_, n) =>
          n % 2 === 0
            ? a.createRoute(rule(n), 'api')
            : b.registerInstance('cart', { id: `i${n}`, endpoint: `http://127.0.0.1:${9100 + n}` }, 'api').then(() => b.createRoute(rule(n), 'api')),
        ),
      );
      // Each store reads its own writes at once, and the other's as soon as its watch delivers them.
      await waitFor('all writes at both stores', async () => {
        for (const s of [a, b]) if ((await s.listRoutes('cart')).length !== 12 || (await s.listInstances('cart')).length !== 6) return false;
        return true;
      });
      const revs = await a.listRevisions(0, 100);
      assert.equal(revs.total, 1 + 12 + 6);
      assert.deepEqual(
        revs.items.map((r) => r.id),
        Array.from({ length: 19 }, (_, i) => 19 - i),
      );
    });

    test('a sidecar instance carries a lease: heartbeats keep it, it disappears when they stop', async () => {
      const p = prefix();
      const [a, b] = [await openStore(p), await openStore(p)];
      const actor = 'sidecar:pay@127.0.0.1:9200';
      const inst = await a.registerInstance('pay', { id: 'pay-1', endpoint: 'http://127.0.0.1:9200', ttl: 2, registeredBy: actor }, actor);
      assert.equal(inst.ttl, 2);
      assert.equal((await a.listRevisions(0, 10)).total, 0, 'a sidecar registration is not a configuration revision');
      // etcd expires it, so the data plane does not expire it by its own clock (an outage must not empty routing).
      await waitFor('the instance at the second store', async () => (await b.loadState()).instances.find((i) => i.id === 'pay-1'));
      assert.equal((await b.loadState()).instances.find((i) => i.id === 'pay-1')?.ttl, 0);
      assert.equal((await b.getInstance('pay', 'pay-1'))?.ttl, 2);

      // Heart-beating every 700 ms for 3 s (past the 2 s TTL) keeps it, and records the time.
      const start = Date.now();
      let last = inst.lastHeartbeat;
      for (let i = 0; i < 5; i++) {
        await sleep(700);
        const hb = await a.heartbeat('pay', 'pay-1');
        assert.ok(hb.lastHeartbeat > last);
        last = hb.lastHeartbeat;
      }
      assert.ok(Date.now() - start > 3000);
      assert.ok(await b.getInstance('pay', 'pay-1'), 'still registered after more than its TTL');
      // A status change keeps the lease (the instance still expires when heartbeats stop).
      await a.updateInstance('pay', 'pay-1', { status: 'DRAINING' }, actor);

      // No more heartbeats: the lease runs out and every store sees the instance go.
      const stopped = Date.now();
      await waitFor('the instance to expire', async () => !(await b.loadState()).instances.some((i) => i.id === 'pay-1'), 8000);
      assert.ok(Date.now() - stopped >= 1000, 'it stayed until its lease ran out');
      await rejectsWith(a.heartbeat('pay', 'pay-1'), 'NOT_FOUND', /no instance with id 'pay-1'/);
      // The sidecar's answer to NOT_FOUND: register again, with a fresh lease.
      await a.registerInstance('pay', { id: 'pay-1', endpoint: 'http://127.0.0.1:9200', ttl: 2, registeredBy: actor }, actor);
      assert.equal((await a.heartbeat('pay', 'pay-1')).id, 'pay-1');
    });

    test('with etcd unreachable: the SQLite cache serves, ping explains, writes are refused with UNAVAILABLE', async () => {
      const p = prefix();
      const dir = tempDir();
      const live = await openStore(p, { cache: await openDataSource(dir) });
      await live.createService({ name: 'cart', app: null, description: null }, 'api');
      await live.registerInstance('cart', { id: 'c1', endpoint: 'http://127.0.0.1:9300', version: '2.0.0' }, 'api');
      await live.createRoute({ id: 'to-v2', service: 'cart', precedence: 1, match: null, route: [{ tags: { version: '2.0.0' }, weight: 100 }] }, 'api');
      await live.close(); // flushes the cache and closes the SQLite file

      // Nothing listens on this port: the store starts from the cache and says so.
      const dead = `http://127.0.0.1:${await freePort()}`;
      const cached = await EtcdRegistryStore.open({ endpoints: [dead], prefix: p, cache: await openDataSource(dir), callTimeoutMs: 1000 });
      open.push(cached);
      const state = await cached.loadState();
      assert.deepEqual(state.services.map((s) => s.name), ['cart']);
      assert.deepEqual(state.instances.map((i) => [i.id, i.endpoint, i.version]), [['c1', 'http://127.0.0.1:9300', '2.0.0']]);
      assert.deepEqual(state.routes.map((r) => r.id), ['to-v2']);
      const st = cached.status();
      assert.equal(st.connected, false);
      assert.equal(st.source, 'cache');
      assert.deepEqual(st.endpoints, [dead]);
      await assert.rejects(cached.ping(), /etcd is unreachable .*routing continues from the local SQLite cache/);
      await rejectsWith(cached.createService({ name: 'x', app: null, description: null }, 'api'), 'UNAVAILABLE', /etcd is unreachable/);
      await rejectsWith(cached.heartbeat('cart', 'c1'), 'UNAVAILABLE', /etcd is unreachable/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  describe('Meshers sharing one etcd', () => {
    const dirs = { a: tempDir(), b: tempDir() };
    let a: MesherProcess;
    let b: MesherProcess;
    let v1: Upstream;
    let v2: Upstream;
    let app: Upstream;
    /** A sidecar on a fixed inbound port: SIGKILLed and restarted during the outage. */
    let pay: MesherProcess | undefined;
    let payPort = 0;
    const payDir = tempDir();
    const etcdArgs = () => ['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint];
    const payArgs = (...extra: string[]) => [...etcdArgs(), ...extra, '--service-name', 'payments', '--app-port', String(app.port), '--inbound-port', String(payPort), '--heartbeat-interval', '300ms', '--instance-ttl', '2s'];
    /** Every request of a steady load answered 200 by `upstream`, and there were enough of them to mean something. */
    const allServed = (results: LoadResult[], upstream: string, min: number) => {
      assert.ok(results.length >= min, `the load ran (${results.length} requests)`);
      const failed = results.filter((r) => r.status !== 200 || r.upstream !== upstream);
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${results.length} requests failed`);
    };
    // Generous: on a loaded machine a Mesher can take well over the default 20 s to start.
    const START = { timeoutMs: 45_000 };
    const get = (m: MesherProcess, url: string) => viaProxy(m.proxy, 'GET', url);
    const registryOf = async (m: MesherProcess) => (await api(m.admin, 'GET', '/v1/registry')).json<{ connected: boolean; source: string; kind: string }>();

    before(async () => {
      [v1, v2, app] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startUpstream('billing-app')]);
      // allSettled: if one fails to start, the other is still stopped by `after`.
      const [ra, rb] = await Promise.allSettled([startMesher(etcdArgs(), { dataDir: dirs.a, ...START }), startMesher(etcdArgs(), { dataDir: dirs.b, ...START })]);
      if (ra.status === 'fulfilled') a = ra.value;
      if (rb.status === 'fulfilled') b = rb.value;
      for (const r of [ra, rb]) if (r.status === 'rejected') throw r.reason;
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop(), pay?.stop()]);
      await Promise.all([v1?.close(), v2?.close(), app?.close()]);
      for (const d of [...Object.values(dirs), payDir]) fs.rmSync(d, { recursive: true, force: true });
    });

    /** Polls `m`'s proxy until `url` answers from `upstream`, for at most `ms`. */
    const routedWithin = async (m: MesherProcess, url: string, upstream: string, ms: number) => {
      const end = Date.now() + ms;
      for (let i = 0; i < 200; i++) {
        const r = await get(m, url);
        if (r.status === 200 && r.headers['x-upstream'] === upstream) return;
        if (Date.now() > end) assert.fail(`${url} via ${m.proxy} did not reach ${upstream} within ${ms} ms: ${r.status} ${r.body}`);
        await sleep(25);
      }
    };

    test('a registration, then a route rule change, through one Mesher is routed by the other within 1 s', async () => {
      const reg = await registryOf(b);
      assert.equal(reg.kind, 'etcd');
      assert.equal(reg.connected, true);
      await register(a.admin, 'cart', v1, '1.0.0');
      await routedWithin(b, 'http://cart/items', 'v1', 1000);
      await register(a.admin, 'cart', v2, '2.0.0');
      // Every request to version 2, decided by a rule written through A.
      await createRule(a.admin, { service: 'cart', precedence: 1, route: [{ tags: { version: '2.0.0' }, weight: 100 }] });
      await routedWithin(b, 'http://cart/items', 'v2', 1000);
      for (let i = 0; i < 10; i++) assert.equal((await get(b, `http://cart/n${i}`)).headers['x-upstream'], 'v2');
      // Both see the same registry through their admin APIs.
      const services = (await api(b.admin, 'GET', '/v1/services/cart')).json<{ instances: unknown[] }>();
      assert.equal(services.instances.length, 2);
    });

    test('a sidecar killed with SIGKILL leaves the other Meshers\' routing when its lease runs out', async () => {
      const sidecar = await startMesher(
        [...etcdArgs(), '--service-name', 'billing', '--app-port', String(app.port), '--inbound-port', '0', '--heartbeat-interval', '300ms', '--instance-ttl', '2s'],
        { dataDir: tempDir(), ...START },
      );
      try {
        await routedWithin(b, 'http://billing/pay', 'billing-app', 3000);
        sidecar.proc.kill('SIGKILL');
        await new Promise((r) => sidecar.proc.once('exit', r));
        const instancesAt = async (m: MesherProcess) => (await api(m.admin, 'GET', '/v1/services/billing')).json<{ instances: unknown[] }>().instances.length;
        // Until the lease runs out the instance stays registered (requests to it fail: its port is closed).
        await waitFor('the lease to run out', async () => (await instancesAt(b)) === 0 && (await instancesAt(a)) === 0, 8000);
        // ... and the data planes follow within their next rebuild (the store is polled every 250 ms).
        for (const m of [a, b]) {
          const r = await waitFor('the proxy to drop it', async () => {
            const x = await get(m, 'http://billing/pay');
            return x.headers['x-mesher-error'] === 'NO_HEALTHY_INSTANCE' ? x : undefined;
          }, 2000);
          assert.equal(r.status, 503, r.body);
        }
      } finally {
        await sidecar.stop('SIGKILL');
        fs.rmSync(sidecar.dataDir, { recursive: true, force: true });
      }
    });

    test('etcd stopped under steady load: no request fails, readiness says why, writes answer 503', async () => {
      payPort = await freePort();
      pay = await startMesher(payArgs(), { dataDir: payDir, ...START });
      for (const m of [a, b]) await routedWithin(m, 'http://payments/before', 'billing-app', 5000);
      const load = startSteadyLoad([[a.proxy, 'http://cart/load-a'], [b.proxy, 'http://cart/load-b']]);
      await sleep(500);
      await etcd.kill();
      // Right away, before anything noticed: not one request to a known instance fails.
      for (let i = 0; i < 30; i++) {
        const r = await get(i % 2 ? a : b, `http://cart/outage-${i}`);
        assert.equal(r.status, 200, `request ${i}: ${r.body}`);
        assert.equal(r.headers['x-upstream'], 'v2');
      }
      const ready = await waitFor('B to report the registry down', async () => {
        const r = await api(b.admin, 'GET', '/health/ready');
        return r.status === 503 ? r : undefined;
      });
      const details = ready.json<{ details: { registry: { status: string; message: string }; proxy: { status: string } } }>().details;
      assert.equal(details.registry.status, 'down');
      assert.match(details.registry.message, /etcd is unreachable/);
      assert.equal(details.proxy.status, 'up', 'the proxy keeps serving');
      assert.equal((await registryOf(b)).connected, false);

      const w = await api(a.admin, 'POST', '/v1/services', { name: 'orders' });
      assert.equal(w.status, 503, w.body);
      assert.equal(w.json<{ code: string }>().code, 'UNAVAILABLE');
      assert.match(w.json<{ message: string }>().message, /etcd is unreachable/);
      // Reads still answer from the last known state.
      assert.equal((await api(a.admin, 'GET', '/v1/services/cart')).status, 200);
      for (let i = 0; i < 10; i++) assert.equal((await get(a, `http://cart/still-${i}`)).status, 200);
      allServed(await load.stop(), 'v2', 40);
    });

    test('a Mesher restarted and a sidecar SIGKILLed and restarted during the outage start from their SQLite caches and route', async () => {
      await b.stop();
      await pay!.stop('SIGKILL');
      // Neither can reach etcd: they start anyway, the sidecar (now a new version) registers when etcd answers.
      const [rb, rp] = await Promise.allSettled([startMesher(etcdArgs(), { dataDir: dirs.b, ...START }), startMesher(payArgs('--service-version', '1.1.0'), { dataDir: payDir, ...START })]);
      if (rb.status === 'fulfilled') b = rb.value;
      if (rp.status === 'fulfilled') pay = rp.value;
      for (const r of [rb, rp]) if (r.status === 'rejected') throw r.reason;
      const reg = await registryOf(b);
      assert.equal(reg.connected, false);
      assert.equal(reg.source, 'cache');
      for (let i = 0; i < 10; i++) {
        const r = await get(b, `http://cart/after-restart-${i}`);
        assert.equal(r.status, 200, r.body);
        assert.equal(r.headers['x-upstream'], 'v2', 'the route rule came from the cache too');
      }
      // The sidecar is back on its old address, which B knows from its cache; the sidecar routes from its own.
      assert.equal((await get(b, 'http://payments/after-restart')).headers['x-upstream'], 'billing-app');
      assert.equal((await registryOf(pay!)).source, 'cache');
      assert.equal((await get(pay!, 'http://cart/from-the-sidecar')).headers['x-upstream'], 'v2');
    });

    test('etcd back under steady load: the Meshers resync, the restarted sidecar re-registers, a new write propagates', async () => {
      const load = startSteadyLoad([[a.proxy, 'http://cart/back-a'], [b.proxy, 'http://cart/back-b']]);
      await etcd.restart();
      const back = Date.now();
      await waitFor('all three Meshers to reconnect', async () => (await registryOf(a)).connected && (await registryOf(b)).connected && (await registryOf(pay!)).connected, 10_000);
      assert.equal((await api(b.admin, 'GET', '/health/ready')).status, 200);
      assert.equal((await registryOf(b)).source, 'etcd');
      await register(b.admin, 'orders', v1, '1.0.0');
      await routedWithin(a, 'http://orders/list', 'v1', 1000);
      assert.equal((await get(b, 'http://cart/again')).headers['x-upstream'], 'v2');
      await routedWithin(a, 'http://payments/back', 'billing-app', 5000);
      // Past its 2 s TTL after etcd came back: the sidecar's instance is in etcd on a live lease, its heartbeats landing.
      await sleep(3000);
      const c = etcdClient(etcd.endpoint);
      try {
        const kvs = (await c.getAll().prefix('/mesher/instances/payments/').exec()).kvs;
        assert.equal(kvs.length, 1);
        const inst = JSON.parse(kvs[0].value.toString()) as { endpoint: string; version: string; registeredBy: string; lastHeartbeat: number };
        assert.equal(inst.endpoint, `http://127.0.0.1:${payPort}`);
        assert.equal(inst.version, '1.1.0', 'the restarted sidecar registered itself, not only kept the old registration alive');
        assert.match(inst.registeredBy, /^sidecar:payments@/);
        assert.ok(inst.lastHeartbeat > back, 'heartbeats reach etcd again');
        assert.ok(Number((await c.leaseClient.leaseTimeToLive({ ID: kvs[0].lease, keys: false })).TTL) > 0, 'on a live lease');
      } finally {
        c.close();
      }
      allServed(await load.stop(), 'v2', 40);
    });
  });
});
