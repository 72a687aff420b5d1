import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { writeFileSync } from 'node:fs';
import { api, request, viaProxy } from './support/http-client';
import { runMesher, startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';
import { sleep, waitFor as waitUntil, type Condition } from './support/load';

const waitFor = <T>(what: string, fn: Condition<T>, ms = 5000) => waitUntil(what, fn, ms, 50);

type Inst = { id: string; endpoint: string; status: string; version: string; registeredBy: string };
const instances = async (admin: string, svc: string) => (await api(admin, 'GET', `/v1/services/${svc}/instances`)).json<Inst[]>();

describe('sidecar mode: three request paths over real processes', () => {
  const shared = tempDir();
  let app: Upstream;
  let provider: MesherProcess;
  let consumer: MesherProcess;

  before(async () => {
    app = await startUpstream('cart-app');
    provider = await startMesher(['--service-name', 'cart', '--service-version', '1.2.0', '--app-port', String(app.port), '--inbound-port', '0', '--label', 'zone=z1'], { dataDir: shared });
    consumer = await startMesher(['--service-name', 'web'], { dataDir: shared });
  });
  after(async () => {
    await consumer?.stop();
    await provider?.stop();
    await app?.close();
  });

  test('the provider sidecar registers its app with its inbound address, version and labels', async () => {
    const list = await instances(provider.admin, 'cart');
    assert.equal(list.length, 1);
    assert.equal(list[0].endpoint, `http://${provider.inbound}`);
    assert.equal(list[0].version, '1.2.0');
    assert.equal(list[0].status, 'UP');
    assert.match(list[0].registeredBy, /^sidecar:cart@/);
  });

  test('consumer -> Mesher -> Mesher -> provider, with the caller named in x-mesher-source', async () => {
    const r = await waitFor('route through both sidecars', async () => {
      const res = await viaProxy(consumer.proxy, 'GET', 'http://cart:8080/items');
      return res.status === 200 ? res : undefined;
    });
    assert.equal(r.body, 'cart-app GET /items');
    const seen = app.requests.at(-1)!;
    assert.equal(seen.headers['x-mesher-source'], 'web');
    assert.equal(seen.headers['x-mesher-token'], undefined);
    assert.equal(String(seen.headers.via).split(',').length, 2, 'both Meshers added themselves to Via');
  });

  test('provider-only sidecar: a plain client calling the inbound listener reaches the app', async () => {
    const r = await request(provider.inbound!, 'GET', '/direct', { headers: { 'x-mesher-source': 'forged' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'cart-app GET /direct');
    // Loopback callers count as same-host Meshers when no mesh secret is set, so the claim is kept...
    assert.equal(app.requests.at(-1)!.headers['x-mesher-source'], 'forged');
  });

  test('the inbound listener refuses proxy-style requests with a clear error', async () => {
    const r = await request(provider.inbound!, 'GET', 'http://cart/x');
    assert.equal(r.status, 400);
    assert.equal(r.headers['x-mesher-error'], 'BAD_REQUEST');
  });

  test('the local app down gives APP_UNAVAILABLE from the inbound listener, not a crash', async () => {
    const lonelyDir = tempDir();
    const dead = await startUpstream('dead');
    const port = dead.port;
    await dead.close();
    const m = await startMesher(['--service-name', 'ghost', '--app-port', String(port), '--inbound-port', '0'], { dataDir: lonelyDir });
    try {
      const r = await request(m.inbound!, 'GET', '/x');
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-mesher-error'], 'APP_UNAVAILABLE');
    } finally {
      await m.stop();
    }
  });
});

describe('sidecar mode: a mesh secret decides whose x-mesher-source is believed', () => {
  test('with --mesh-secret only callers presenting it keep their source', async () => {
    const dir = tempDir();
    const app = await startUpstream('secret-app');
    const provider = await startMesher(['--service-name', 'vault', '--app-port', String(app.port), '--inbound-port', '0', '--mesh-secret', 's3cret'], { dataDir: dir });
    const consumer = await startMesher(['--service-name', 'web', '--mesh-secret', 's3cret'], { dataDir: dir });
    try {
      const r = await waitFor('route', async () => {
        const res = await viaProxy(consumer.proxy, 'GET', 'http://vault/a');
        return res.status === 200 ? res : undefined;
      });
      assert.equal(r.status, 200);
      assert.equal(app.requests.at(-1)!.headers['x-mesher-source'], 'web');
      assert.equal(app.requests.at(-1)!.headers['x-mesher-token'], undefined, 'the secret is not passed to the app');
      await request(provider.inbound!, 'GET', '/b', { headers: { 'x-mesher-source': 'forged' } });
      assert.equal(app.requests.at(-1)!.headers['x-mesher-source'], 'unknown');
    } finally {
      await consumer.stop();
      await provider.stop();
      await app.close();
    }
  });
});

describe('sidecar mode: liveness of instances', () => {
  const shared = tempDir();
  let appA: Upstream;
  let appB: Upstream;
  let consumer: MesherProcess;
  const fast = ['--heartbeat-interval', '300ms', '--instance-ttl', '2s', '--drain-timeout', '5s'];

  before(async () => {
    appA = await startUpstream('A');
    appB = await startUpstream('B');
    consumer = await startMesher(['--service-name', 'web'], { dataDir: shared });
  });
  after(async () => {
    await consumer?.stop();
    await appA?.close();
    await appB?.close();
  });

  test('a provider sidecar killed with SIGKILL leaves routing within its TTL; no request fails after that', async () => {
    const pa = await startMesher(['--service-name', 'orders', '--app-port', String(appA.port), '--inbound-port', '0', ...fast], { dataDir: shared });
    const pb = await startMesher(['--service-name', 'orders', '--app-port', String(appB.port), '--inbound-port', '0', ...fast], { dataDir: shared });
    try {
      await waitFor('both instances', async () => (await instances(consumer.admin, 'orders')).length === 2);
      pb.proc.kill('SIGKILL');
      const killedAt = Date.now();
      await new Promise((r) => pb.proc.once('exit', r));
      // The TTL is 2 s: wait it out (plus the 250 ms poll), then every request must succeed on A.
      await sleep(Math.max(0, killedAt + 2000 + 400 - Date.now()));
      for (let i = 0; i < 50; i++) {
        const r = await viaProxy(consumer.proxy, 'GET', `http://orders/after-kill-${i}`);
        assert.equal(r.status, 200, `request ${i}: ${r.body}`);
        assert.equal(r.body, `A GET /after-kill-${i}`);
      }
    } finally {
      await pa.stop();
    }
  });

  test('a provider sidecar sent SIGTERM under steady load drains with zero failed requests', async () => {
    const pa = await startMesher(['--service-name', 'billing', '--app-port', String(appA.port), '--inbound-port', '0', ...fast], { dataDir: shared });
    const pb = await startMesher(['--service-name', 'billing', '--app-port', String(appB.port), '--inbound-port', '0', ...fast], { dataDir: shared });
    try {
      await waitFor('both instances', async () => (await instances(consumer.admin, 'billing')).length === 2);
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const worker = async () => {
        while (!stop) {
          try {
            const r = await request(consumer.proxy, 'GET', 'http://billing/steady', { agent });
            if (r.status === 200) ok++;
            else failures.push(`${r.status} ${r.body}`);
          } catch (e) {
            failures.push((e as Error).message);
          }
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      await sleep(500);
      const code = await pb.stop('SIGTERM');
      assert.equal(code, 0, 'a drained sidecar exits 0');
      await sleep(700);
      stop = true;
      await Promise.all(workers);
      agent.destroy();
      assert.deepEqual(failures, []);
      assert.ok(ok > 50, `steady load was running (${ok} requests)`);
      const left = await instances(consumer.admin, 'billing');
      assert.equal(left.length, 1, 'the drained instance deregistered');
    } finally {
      await pa.stop();
    }
  });

  test('the app health check flips the instance DOWN and back UP, and traffic follows', async () => {
    let healthy = true;
    const app = await startUpstream('hc', (req, res) => {
      if (req.url === '/health') {
        res.writeHead(healthy ? 200 : 500);
        res.end(healthy ? 'ok' : 'sick');
        return;
      }
      res.writeHead(200, { 'x-upstream': 'hc' });
      res.end('hc app');
    });
    const p = await startMesher(
      ['--service-name', 'checked', '--app-port', String(app.port), '--inbound-port', '0', '--app-health-check', '/health', '--app-health-interval', '200ms', ...fast],
      { dataDir: shared },
    );
    try {
      await waitFor('route', async () => (await viaProxy(consumer.proxy, 'GET', 'http://checked/x')).status === 200);
      healthy = false;
      await waitFor('DOWN', async () => (await instances(consumer.admin, 'checked'))[0]?.status === 'DOWN');
      const down = await waitFor('traffic stops', async () => {
        const r = await viaProxy(consumer.proxy, 'GET', 'http://checked/x');
        return r.status === 503 ? r : undefined;
      });
      assert.equal(down.headers['x-mesher-error'], 'NO_HEALTHY_INSTANCE');
      healthy = true;
      await waitFor('UP', async () => (await instances(consumer.admin, 'checked'))[0]?.status === 'UP');
      const back = await waitFor('traffic returns', async () => {
        const r = await viaProxy(consumer.proxy, 'GET', 'http://checked/x');
        return r.status === 200 ? r : undefined;
      });
      assert.equal(back.body, 'hc app');
    } finally {
      await p.stop();
      await app.close();
    }
  });

  test('two Meshers sharing one SQLite file: a registration through one is routable through the other within 1 s', async () => {
    const other = await startMesher([], { dataDir: shared });
    try {
      const reg = await api(other.admin, 'POST', '/v1/services/shared-svc/instances', { endpoint: appA.url });
      assert.equal(reg.status, 201);
      const t0 = Date.now();
      await waitFor('visible in the other Mesher', async () => (await viaProxy(consumer.proxy, 'GET', 'http://shared-svc/x')).status === 200, 1000);
      assert.ok(Date.now() - t0 <= 1000);
    } finally {
      await other.stop();
    }
  });
});

describe('sidecar mode: start-up options', () => {
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['a port out of range', ['--proxy-port', '70000'], {}, /invalid --proxy-port \(flag\): "70000" is not a port/],
    ['a bad duration', ['--heartbeat-interval', 'soon'], {}, /invalid --heartbeat-interval/],
    ['an env value', [], { MESHER_ADMIN_PORT: 'abc' }, /invalid --admin-port \(env MESHER_ADMIN_PORT\)/],
    ['an unknown flag', ['--no-such-flag', '1'], {}, /unknown option --no-such-flag/],
    ['an app port without a service name', ['--app-port', '8080'], {}, /--app-port: a local app needs --service-name/],
    ['a bad health check', ['--service-name', 'x', '--app-port', '8080', '--app-health-check', 'health'], {}, /invalid --app-health-check/],
    ['a TTL shorter than the heartbeat', ['--instance-ttl', '1s', '--heartbeat-interval', '2s'], {}, /invalid --instance-ttl/],
    ['a bad SERVICE_PORTS', ['--service-name', 'x'], { SERVICE_PORTS: 'grpc:1' }, /invalid SERVICE_PORTS/],
    ['a bad label', ['--label', 'novalue'], {}, /invalid --label .*expected k=v/],
    ['a bad log level', ['--log-level', 'loud'], {}, /invalid --log-level .*must be one of/],
    ['admin on all interfaces without a token', ['--admin-address', '0.0.0.0'], {}, /refusing to bind the admin API to 0\.0\.0\.0 without --admin-token/],
  ];
  for (const [what, args, env, msg] of cases) {
    test(`${what} stops start-up with a message naming the option`, async () => {
      const r = await runMesher(['start', '--data-dir', tempDir(), ...args], env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, msg);
    });
  }

  test('a mesher.yaml supplies options, and flags override it', async () => {
    const dir = tempDir();
    const cfg = `${dir}/mesher.yaml`;
    writeFileSync(cfg, 'serviceName: from-file\nserviceVersion: 9.9.9\nproxyPort: 0\nadminPort: 0\nlogLevel: warn\nlabels:\n  tier: gold\n');
    const app = await startUpstream('yaml-app');
    const m = await startMesher(['--config', cfg, '--service-version', '1.0.0', '--app-port', String(app.port), '--inbound-port', '0'], { dataDir: dir });
    try {
      const list = await instances(m.admin, 'from-file');
      assert.equal(list.length, 1);
      assert.deepEqual((list[0] as unknown as { labels: Record<string, string> }).labels, { tier: 'gold' });
      assert.equal(list[0].version, '1.0.0', 'the flag wins over the file');
    } finally {
      await m.stop();
      await app.close();
    }
  });

  test('SERVICE_PORTS=http:<port> (ServiceComb Mesher) names the app port', async () => {
    const dir = tempDir();
    const app = await startUpstream('sp-app');
    const m = await startMesher(['--service-name', 'legacy', '--inbound-port', '0'], { dataDir: dir, env: { SERVICE_PORTS: `http:${app.port}` } });
    try {
      assert.ok(m.inbound);
      const r = await request(m.inbound!, 'GET', '/legacy');
      assert.equal(r.body, 'sp-app GET /legacy');
    } finally {
      await m.stop();
      await app.close();
    }
  });

  test('mesher --help lists every option with its environment variable', async () => {
    const r = await runMesher(['--help']);
    assert.equal(r.code, 0);
    for (const s of ['--proxy-port', 'MESHER_PROXY_PORT', '--service-name', '--inbound-port', '--label', '--drain-timeout', '--app-health-check', '--config']) {
      assert.ok(r.stdout.includes(s), `help mentions ${s}`);
    }
  });
});
