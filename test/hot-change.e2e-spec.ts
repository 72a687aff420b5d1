import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadBalancerStrategy, PolicySpec } from '@mesher/contracts';
import { api, type HttpResult } from './support/http-client';
import { loadAgent, proxyGet, sleep } from './support/load';
import { createRule, register } from './support/mesh-admin';
import { startMesher, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

const LOAD_MS = 20_000;
const CHANGE_EVERY_MS = 200;
const WORKERS = 12;

const STRATEGIES: LoadBalancerStrategy[] = ['RoundRobin', 'Random', 'WeightedRoundRobin', 'LeastRequest', 'SessionSticky'];
const SPLITS = [
  [100, 0],
  [50, 50],
  [0, 100],
  [90, 10],
];

/** The k-th policy: balancer, retries, timeouts, and now and then a fault or a rate limit. */
function policyAt(k: number): PolicySpec {
  const spec: PolicySpec = {
    loadBalancer: { strategy: STRATEGIES[k % STRATEGIES.length], sessionHeader: 'x-session' },
    retry: { attempts: 1 + (k % 3) },
    timeout: { requestMs: 5_000 + (k % 7) * 100, perTryMs: 4_000 },
    circuitBreaker: { errorThresholdPercent: 50 + (k % 5), requestVolumeThreshold: 20, windowMs: 10_000, sleepWindowMs: 5_000 },
  };
  if (k % 2 === 0) spec.fault = { abort: { httpStatus: 555, percent: 5 } };
  if (k % 4 === 1) spec.rateLimit = { requestsPerSecond: 800 + k, burst: 200 };
  return spec;
}

/**
 * A config change under load drops no request: 20 s of traffic while the route rules and the policy
 * change every 200 ms. The only failures allowed are the ones the policies produce on purpose
 * (fault aborts with status 555 and RATE_LIMITED).
 */
describe('hot change: config changes under load', () => {
  let m: MesherProcess;
  const ups: Upstream[] = [];
  const agent = loadAgent(WORKERS);

  before(async () => {
    m = await startMesher();
    ups.push(...(await Promise.all(['h1', 'h2', 'h3'].map((n) => startUpstream(n)))));
    await register(m.admin, 'hot', ups[0], '1.0.0');
    await register(m.admin, 'hot', ups[1], '1.0.0');
    await register(m.admin, 'hot', ups[2], '2.0.0');
  });
  after(async () => {
    agent.destroy();
    await m?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  test('20 s of load while rules and policies change every 200 ms: no failure the policies did not produce', async (t) => {
    const split = await createRule(m.admin, {
      service: 'hot',
      precedence: 1,
      route: [
        { tags: { version: '1.0.0' }, weight: 50 },
        { tags: { version: '2.0.0' }, weight: 50 },
      ],
    });
    const counts = { ok: 0, faulted: 0, limited: 0 };
    const failures: string[] = [];
    const seen = new Set<string>();
    let stop = false;

    const classify = (r: HttpResult) => {
      const code = r.headers['x-mesher-error'];
      if (r.status === 200 && /^h[123]$/.test(String(r.headers['x-upstream']))) {
        counts.ok++;
        seen.add(String(r.headers['x-upstream']));
      } else if (r.status === 555 && code === 'FAULT_INJECTED') counts.faulted++;
      else if (r.status === 429 && code === 'RATE_LIMITED') counts.limited++;
      else failures.push(`${r.status} ${String(code ?? '')} ${r.body.slice(0, 200)}`);
    };
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 1_000_000; i++) {
        const headers = { 'x-session': `s${w}-${i % 5}`, ...(i % 3 === 0 ? { 'x-canary': 'yes' } : {}) };
        try {
          classify(await proxyGet(m.proxy, `http://hot/load?w=${w}&i=${i}`, agent, headers));
        } catch (e) {
          failures.push(`client error: ${(e as Error).message}`);
        }
      }
    };

    let changes = 0;
    let canary: string | null = null;
    const changer = async () => {
      const t0 = Date.now();
      for (let k = 0; !stop; k++) {
        let r: HttpResult;
        switch (k % 4) {
          case 0:
          case 2: {
            const [v1, v2] = SPLITS[(k >> 1) % SPLITS.length];
            r = await api(m.admin, 'PUT', `/v1/routes/${split}`, {
              service: 'hot',
              precedence: 1,
              route: [
                { tags: { version: '1.0.0' }, weight: v1 },
                { tags: { version: '2.0.0' }, weight: v2 },
              ],
            });
            break;
          }
          case 1:
            r = await api(m.admin, 'PUT', '/v1/policies/hot', policyAt(k >> 2));
            break;
          default:
            if (canary) {
              r = await api(m.admin, 'DELETE', `/v1/routes/${canary}`);
              canary = null;
            } else {
              r = await api(m.admin, 'POST', '/v1/routes', {
                service: 'hot',
                precedence: 10,
                match: { headers: { 'x-canary': { exact: 'yes' } } },
                route: [{ tags: { version: '2.0.0' }, weight: 100 }],
                policy: { loadBalancer: { strategy: 'Random' } },
              });
              canary = r.json<{ id: string }>().id;
            }
        }
        assert.ok([200, 201, 204].includes(r.status), `change ${k}: ${r.status} ${r.body}`);
        changes++;
        const wait = t0 + (k + 1) * CHANGE_EVERY_MS - Date.now();
        if (wait > 0) await sleep(wait);
      }
    };

    const started = Date.now();
    const running = [changer(), ...Array.from({ length: WORKERS }, (_, w) => worker(w))];
    await sleep(LOAD_MS);
    stop = true;
    await Promise.all(running);
    const seconds = (Date.now() - started) / 1000;

    const total = counts.ok + counts.faulted + counts.limited + failures.length;
    t.diagnostic(`${total} requests in ${seconds.toFixed(1)} s, ${changes} changes: ${JSON.stringify(counts)}, ${failures.length} failed`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed of ${total}`);
    // Sanity only (the machine may be busy): there was load, and the config did change many times under it.
    assert.ok(changes >= 25, `only ${changes} changes in ${seconds.toFixed(1)} s`);
    assert.ok(total >= 20 * WORKERS, `only ${total} requests in ${seconds.toFixed(1)} s`);
    assert.ok(counts.faulted > 0, 'the fault policy applied while live');
    assert.deepEqual([...seen].sort(), ['h1', 'h2', 'h3'], 'every instance served');

    // After the storm the last config serves: all to v2 now.
    await api(m.admin, 'PUT', `/v1/routes/${split}`, { service: 'hot', precedence: 1, route: [{ tags: { version: '2.0.0' }, weight: 100 }] });
    assert.equal((await api(m.admin, 'DELETE', '/v1/policies/hot')).status, 204);
    for (let i = 0; i < 5; i++) {
      const r = await proxyGet(m.proxy, 'http://hot/after', agent);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-upstream'], 'h3');
    }
  });
});
