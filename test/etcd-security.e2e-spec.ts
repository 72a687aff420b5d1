import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { enableAuth, etcdAvailable, etcdClient, startEtcd, type EtcdServer } from './support/etcd';
import { api, viaProxy } from './support/http-client';
import { sleep, waitFor } from './support/load';
import { register } from './support/mesh-admin';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { createTestCa, type CertFiles, type TestCa } from './support/tls-certs';
import { startUpstream, type Upstream } from './support/upstream';

// Generous: on a loaded machine a Mesher can take well over the default 20 s to start.
const START = { timeoutMs: 45_000 };
const PASSWORD = 'mesher pw: not in argv';

describe('etcd with TLS and a login', { skip: etcdAvailable() ? false : 'etcd is not installed' }, () => {
  let ca: TestCa;
  let rogue: TestCa;
  let etcdCert: CertFiles;
  let mesherCert: CertFiles;
  let cart: Upstream;
  let billingApp: Upstream;
  const meshers: MesherProcess[] = [];
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  const start = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const m = await startMesher(args, { dataDir: dir(), env, ...START });
    meshers.push(m);
    return m;
  };
  /** `mesher start` that is expected to exit: its code and stderr. */
  const startFails = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runMesher(['start', '--proxy-port', '0', '--admin-port', '0', '--data-dir', dir(), '--log-level', 'warn', ...args], env, 45_000);
  const registry = async (m: MesherProcess) => (await api(m.admin, 'GET', '/v1/registry')).json<{ kind: string; connected: boolean; source: string }>();

  before(async () => {
    ca = createTestCa('etcd-test-ca');
    rogue = createTestCa('rogue-ca');
    etcdCert = ca.issue('etcd', ['IP:127.0.0.1', 'DNS:localhost']);
    mesherCert = ca.issue('mesher', ['DNS:mesher']);
    [cart, billingApp] = await Promise.all([startUpstream('cart-v1'), startUpstream('billing-app')]);
  });
  after(async () => {
    await Promise.all(meshers.map((m) => m.stop()));
    await Promise.all([cart?.close(), billingApp?.close()]);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    ca?.dispose();
    rogue?.dispose();
  });

  describe('mutual TLS: etcd with --client-cert-auth', () => {
    let etcd: EtcdServer;
    before(async () => {
      etcd = await startEtcd({ tls: { cert: etcdCert.cert, key: etcdCert.key, clientCa: ca.caFile } });
    });
    after(async () => {
      await etcd?.dispose();
    });
    const base = () => ['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint];

    test('with --etcd-ca, --etcd-cert and --etcd-key: connected, a registration is routable and stored in etcd', async () => {
      assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
      const m = await start([...base(), '--etcd-ca', ca.caFile, '--etcd-cert', mesherCert.cert, '--etcd-key', mesherCert.key]);
      const reg = await registry(m);
      assert.equal(reg.kind, 'etcd');
      assert.equal(reg.connected, true);
      assert.equal(reg.source, 'etcd');
      const ready = await api(m.admin, 'GET', '/health/ready');
      assert.equal(ready.status, 200, ready.body);

      const id = await register(m.admin, 'cart', cart, '1.0.0');
      const r = await viaProxy(m.proxy, 'GET', 'http://cart/items');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['x-upstream'], 'cart-v1');

      const c = etcdClient(etcd.endpoint, { tls: { ca: ca.caFile, cert: mesherCert.cert, key: mesherCert.key } });
      try {
        const stored = await c.getAll().prefix('/mesher/instances/cart/').json();
        assert.deepEqual(Object.values(stored).map((v) => [(v as { id: string }).id, (v as { endpoint: string }).endpoint]), [[id, cart.url]]);
      } finally {
        c.close();
      }
    });

    test('without a client certificate: start-up stops with a message naming --etcd-cert', async () => {
      const r = await startFails([...base(), '--etcd-ca', ca.caFile]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /mesher: cannot start: etcd at https:\/\/127\.0\.0\.1:\d+ refuses this Mesher: etcd refused the TLS handshake \([a-z ]+\).*check --etcd-cert and --etcd-key/);
    });

    test('a CA that did not sign etcd\'s certificate: start-up stops with a message naming --etcd-ca', async () => {
      const r = await startFails([...base(), '--etcd-ca', rogue.caFile, '--etcd-cert', mesherCert.cert, '--etcd-key', mesherCert.key]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /mesher: cannot start: etcd at https:\/\/127\.0\.0\.1:\d+ refuses this Mesher: etcd's TLS certificate cannot be trusted: .*verify.*check --etcd-ca/);
    });

    test('an http:// endpoint with TLS options is a configuration error, before any connection', async () => {
      const r = await startFails(['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint.replace('https:', 'http:'), '--etcd-ca', ca.caFile]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^mesher: invalid --etcd-ca: TLS to etcd needs https:\/\/ endpoints/);
    });
  });

  describe('TLS and authentication enabled (user with read-write on /mesher/ only)', () => {
    let etcd: EtcdServer;
    let gateway: MesherProcess;
    const rootPassword = 'root-pw';
    const tlsFiles = () => ({ ca: ca.caFile });
    before(async () => {
      // Login tokens expire after 1 s unused: the Meshers must log in again (and keep watching) as they go.
      etcd = await startEtcd({ tls: { cert: etcdCert.cert, key: etcdCert.key }, args: ['--auth-token-ttl', '1'] });
      await enableAuth(etcd.endpoint, rootPassword, { name: 'mesher', password: PASSWORD, prefix: '/mesher/' }, tlsFiles());
    });
    after(async () => {
      await etcd?.dispose();
    });
    const base = () => ['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-ca', ca.caFile, '--etcd-username', 'mesher'];
    const root = () => etcdClient(etcd.endpoint, { tls: tlsFiles(), auth: { username: 'root', password: rootPassword } });

    test('a sidecar (password from a file) and a gateway (password from MESHER_ETCD_PASSWORD): the lease is kept past its TTL', async () => {
      const pwFile = path.join(dir(), 'etcd-password');
      fs.writeFileSync(pwFile, PASSWORD + '\n', { mode: 0o600 });
      const sidecar = await start([...base(), '--etcd-password-file', pwFile, '--service-name', 'billing', '--app-port', String(billingApp.port), '--inbound-port', '0', '--heartbeat-interval', '300ms', '--instance-ttl', '2s']);
      gateway = await start(base(), { MESHER_ETCD_PASSWORD: PASSWORD });
      assert.ok(!sidecar.proc.spawnargs.join(' ').includes(PASSWORD), 'the password is not in the process list');
      assert.equal((await registry(gateway)).connected, true);

      const routed = await waitFor('billing through the gateway', async () => {
        const r = await viaProxy(gateway.proxy, 'GET', 'http://billing/pay');
        return r.status === 200 ? r : undefined;
      }, 10_000);
      assert.equal(routed.headers['x-upstream'], 'billing-app');
      // Past the 2 s lease TTL: heartbeats (lease keep-alives under the login) kept the instance.
      await sleep(3000);
      const again = await viaProxy(gateway.proxy, 'GET', 'http://billing/pay');
      assert.equal(again.status, 200, again.body);
      const c = root();
      try {
        const kvs = (await c.getAll().prefix('/mesher/instances/billing/').exec()).kvs;
        assert.equal(kvs.length, 1);
        assert.notEqual(String(kvs[0].lease), '0', 'a sidecar instance carries a lease');
        assert.equal(JSON.parse(kvs[0].value.toString()).endpoint, `http://${sidecar.inbound}`);
      } finally {
        c.close();
      }
      // Well past the token TTL: a write through the gateway still works, and reaches the sidecar through its watch.
      await register(gateway.admin, 'ledger', cart, '1.0.0');
      await waitFor('ledger through the sidecar', async () => (await viaProxy(sidecar.proxy, 'GET', 'http://ledger/x')).headers['x-upstream'] === 'cart-v1', 5000);
      assert.equal((await api(gateway.admin, 'GET', '/health/ready')).status, 200);
    });

    test('a wrong password stops start-up with a message naming the login options, not showing the password', async () => {
      const r = await startFails(base(), { MESHER_ETCD_PASSWORD: 'wrong-password-123' });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /mesher: cannot start: etcd at https:\/\/127\.0\.0\.1:\d+ refuses this Mesher: etcd rejected the login: authentication failed, invalid user ID or password \(check --etcd-username and its password/);
      assert.ok(!r.stderr.includes('wrong-password-123'));
      const none = await startFails(['--registry', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-ca', ca.caFile]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(none.stderr, /refuses this Mesher: etcd rejected the login: user name is empty/);
    });

    test('access taken away while running: readiness names the refusal, routing goes on, writes answer 503; given back: it recovers', async () => {
      assert.ok(gateway, 'the gateway of the first test runs');
      await register(gateway.admin, 'cart', cart, '1.0.0');
      const c = root();
      try {
        await c.role('mesher').revoke({ permission: 'Readwrite', range: c.range({ prefix: '/mesher/' }) });
        const down = await waitFor('readiness to report the refusal', async () => {
          const r = await api(gateway.admin, 'GET', '/health/ready');
          return r.status === 503 ? r : undefined;
        }, 15_000);
        const details = down.json<{ details: { registry: { message: string }; proxy: { status: string } } }>().details;
        assert.match(details.registry.message, /^etcd refuses this Mesher \(https:\/\/127\.0\.0\.1:\d+\): etcd denied access to the registry keys: permission denied; routing continues from the state synced at /);
        assert.equal(details.proxy.status, 'up');
        for (let i = 0; i < 10; i++) {
          const r = await viaProxy(gateway.proxy, 'GET', `http://cart/during-${i}`);
          assert.equal(r.status, 200, r.body);
        }
        const w = await api(gateway.admin, 'POST', '/v1/services', { name: 'orders' });
        assert.equal(w.status, 503, w.body);
        assert.match(w.json<{ message: string }>().message, /etcd refuses this Mesher/);

        await c.role('mesher').grant({ permission: 'Readwrite', range: c.range({ prefix: '/mesher/' }) });
        await waitFor('readiness to recover', async () => (await api(gateway.admin, 'GET', '/health/ready')).status === 200, 15_000);
        const ok = await api(gateway.admin, 'POST', '/v1/services', { name: 'orders' });
        assert.equal(ok.status, 201, ok.body);
      } finally {
        c.close();
      }
    });
  });
});
