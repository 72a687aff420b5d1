import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { etcdAvailable, etcdClient, startEtcdCluster, type EtcdCluster } from './support/etcd';
import { api, viaProxy } from './support/http-client';
import { sleep, tally, waitFor } from './support/load';
import { register } from './support/mesh-admin';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startSteadyLoad } from './support/steady-load';
import { startUpstream, type Upstream } from './support/upstream';

// Generous: on a loaded machine a Mesher can take well over the default 20 s to start.
const START = { timeoutMs: 45_000 };
const TTL_S = 3;

describe('a three-member etcd cluster', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let cluster: EtcdCluster;
  let billingApp: Upstream;
  let cartApp: Upstream;
  let sidecar: MesherProcess | undefined;
  let gateway: MesherProcess | undefined;
  const dirs = [tempDir(), tempDir()];

  before(async () => {
    cluster = await startEtcdCluster(3);
    [billingApp, cartApp] = await Promise.all([startUpstream('billing-app'), startUpstream('cart-app')]);
    const etcdArgs = ['--registry', 'etcd', '--etcd-endpoints', cluster.endpoints.join(',')];
    // allSettled: if one fails to start, the other is still stopped by `after`.
    const [rs, rg] = await Promise.allSettled([
      startMesher([...etcdArgs, '--service-name', 'billing', '--app-port', String(billingApp.port), '--inbound-port', '0', '--heartbeat-interval', '500ms', '--instance-ttl', `${TTL_S}s`], { dataDir: dirs[0], ...START }),
      startMesher(etcdArgs, { dataDir: dirs[1], ...START }),
    ]);
    if (rs.status === 'fulfilled') sidecar = rs.value;
    if (rg.status === 'fulfilled') gateway = rg.value;
    for (const r of [rs, rg]) if (r.status === 'rejected') throw r.reason;
  });
  after(async () => {
    await Promise.all([sidecar?.stop(), gateway?.stop()]);
    await Promise.all([billingApp?.close(), cartApp?.close()]);
    await cluster?.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('stopping the leader under load loses no request and no registration; writes work after the election', async (t) => {
    const gw = gateway!;
    const sc = sidecar!;
    await waitFor('billing to be routable through the gateway', async () => (await viaProxy(gw.proxy, 'GET', 'http://billing/warm-up')).status === 200, 10_000);
    // The hard case on purpose: the leader is the member a Mesher's watch stream is attached to.
    const streams = await waitFor('both Meshers to watch', async () => {
      const n = await Promise.all(cluster.members.map((m) => m.watchStreams()));
      return n.reduce((a, b) => a + b, 0) >= 2 ? n : undefined;
    }, 10_000);
    const watched = cluster.members[streams.indexOf(Math.max(...streams))];
    await cluster.makeLeader(watched);
    const instanceKey = async () => {
      const c = etcdClient(cluster.members.filter((m) => m.running()).map((m) => m.endpoint));
      try {
        const kvs = (await c.getAll().prefix('/mesher/instances/billing/').exec()).kvs;
        assert.equal(kvs.length, 1, 'the sidecar instance is registered');
        const lease = await c.leaseClient.leaseTimeToLive({ ID: kvs[0].lease, keys: false });
        return { key: kvs[0].key.toString(), lease: String(kvs[0].lease), granted: Number(lease.grantedTTL), left: Number(lease.TTL) };
      } finally {
        c.close();
      }
    };
    const before = await instanceKey();
    assert.notEqual(before.lease, '0');

    const load = startSteadyLoad([[gw.proxy, 'http://billing/pay']]);
    let tailFrom = 0;
    let election = '';
    try {
      await sleep(1000);
      const leader = await cluster.leader();
      assert.equal(leader.name, watched.name, 'the leader is the watched member');
      const killedAt = Date.now();
      await leader.kill();
      const next = await cluster.leader();
      assert.notEqual(next.name, leader.name, 'a new leader was elected');
      const electedAt = Date.now();
      election = `${leader.name} killed, ${next.name} leader ${electedAt - killedAt} ms later`;
      // Past the election and past the lease TTL counted from the kill: the lease must have been kept alive.
      // (3 s: the store retries a lost connection with a back-off of up to 2 s.)
      await sleep(Math.max(3000, killedAt + (TTL_S + 1) * 1000 - electedAt));
      // From here on every heartbeat succeeds: the sidecar no longer tries the stopped member.
      tailFrom = sc.output().length;
      await sleep(2000);
    } finally {
      await load.stop();
    }
    const results = load.results;
    const byOutcome = tally(results, (r) => `${r.status} ${r.upstream}`);
    t.diagnostic(`${election}; ${results.length} requests through the gateway: ${JSON.stringify(byOutcome)}`);
    assert.ok(results.length >= 100, `the load ran (${results.length} requests)`);
    assert.deepEqual(byOutcome, { [`200 billing-app`]: results.length }, 'every request succeeded');
    assert.ok(tailFrom > 0);
    assert.doesNotMatch(sc.output().slice(tailFrom), /heartbeat failed/, 'heartbeats succeed once a new leader is elected');

    // The registration is still in etcd after more than the TTL, on the same lease: the keep-alives outlived the
    // leader (no expiry and re-registration in between).
    const afterKill = await instanceKey();
    assert.deepEqual({ key: afterKill.key, lease: afterKill.lease, granted: afterKill.granted }, { key: before.key, lease: before.lease, granted: TTL_S });
    assert.ok(afterKill.left > 0, `the lease is alive (${afterKill.left} s left)`);
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(gw.proxy, 'GET', `http://billing/after-${i}`);
      assert.equal(r.status, 200, r.body);
    }

    // After the election: the gateway is connected again, a write through it succeeds and reaches the sidecar's data plane.
    await waitFor('the gateway to be connected', async () => (await api(gw.admin, 'GET', '/v1/registry')).json<{ connected: boolean }>().connected, 15_000);
    await register(gw.admin, 'cart', cartApp, '1.0.0');
    await waitFor('cart through the sidecar', async () => {
      const r = await viaProxy(sc.proxy, 'GET', 'http://cart/items');
      return r.status === 200 && r.headers['x-upstream'] === 'cart-app';
    }, 5000);
    for (const m of [gw, sc]) {
      await waitFor(`${m.admin} to be ready`, async () => (await api(m.admin, 'GET', '/health/ready')).status === 200, 15_000);
    }
  });
});
