import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { api, request, type HttpResult } from './support/http-client';
import { loadAgent, proxyGet, runPool, sleep, tally } from './support/load';
import { putPolicy, QUIET, register } from './support/mesh-admin';
import { startMesher, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

/** An upstream answering `status` (and its name in x-upstream) to everything. */
const answering = (name: string, status: number) =>
  startUpstream(name, (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'x-upstream': name });
    res.end(`${name} ${status}`);
  });

const ok = (name: string) => answering(name, 200);
const upstreamOf = (r: HttpResult) => String(r.headers['x-upstream']);

function assertMesherError(r: HttpResult, status: number, code: string): void {
  assert.equal(r.status, status, r.body);
  assert.equal(r.headers['x-mesher-error'], code);
  assert.equal(r.json<{ code: string }>().code, code);
}

describe('traffic policies over real sockets', () => {
  let m: MesherProcess;
  const agent = loadAgent(32);
  const upstreams: Upstream[] = [];
  const track = async (u: Promise<Upstream>) => {
    const x = await u;
    upstreams.push(x);
    return x;
  };

  before(async () => {
    m = await startMesher();
  });
  after(async () => {
    agent.destroy();
    await m?.stop();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const get = (url: string, headers = {}) => proxyGet(m.proxy, url, agent, headers);

  describe('retries', () => {
    test('a GET answered 503 by one instance is retried on the other', async () => {
      const bad = await track(answering('bad', 503));
      const good = await track(ok('good'));
      await register(m.admin, 'retry-get', bad);
      await register(m.admin, 'retry-get', good);
      await putPolicy(m.admin, 'retry-get', { ...QUIET, retry: { attempts: 2, retryOn: ['503'], backoffBaseMs: 0, backoffMaxMs: 0 } });
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await get('http://retry-get/x'));
      assert.deepEqual(tally(results, (r) => `${r.status} ${upstreamOf(r)}`), { '200 good': 20 });
      assert.equal(good.requests.length, 20);
      assert.ok(bad.requests.length >= 5, `round robin sent first attempts to the 503 instance too (${bad.requests.length})`);
    });

    test('a POST is never repeated unless the policy opts in; then its body is sent again intact', async () => {
      const p1 = await track(answering('p1', 503));
      const p2 = await track(answering('p2', 503));
      await register(m.admin, 'retry-post', p1);
      await register(m.admin, 'retry-post', p2);
      const hits = () => p1.requests.length + p2.requests.length;
      await putPolicy(m.admin, 'retry-post', { ...QUIET, retry: { attempts: 3, retryOn: ['503'], backoffBaseMs: 0, backoffMaxMs: 0 } });

      for (let i = 0; i < 5; i++) assert.equal((await request(m.proxy, 'POST', 'http://retry-post/empty', { agent })).status, 503);
      for (let i = 0; i < 5; i++) assert.equal((await request(m.proxy, 'POST', 'http://retry-post/body', { agent, body: `order=${i}` })).status, 503);
      for (let i = 0; i < 5; i++) assert.equal((await request(m.proxy, 'PATCH', 'http://retry-post/patch', { agent })).status, 503);
      assert.equal(hits(), 15, 'one upstream hit per POST/PATCH: not retried');
      for (let i = 0; i < 5; i++) assert.equal((await get('http://retry-post/get')).status, 503);
      assert.equal(hits(), 30, 'the same policy retries a GET (3 attempts each)');

      await putPolicy(m.admin, 'retry-post', { ...QUIET, retry: { attempts: 3, retryOn: ['503'], backoffBaseMs: 0, backoffMaxMs: 0, retryNonIdempotent: true } });
      for (let i = 0; i < 5; i++) assert.equal((await request(m.proxy, 'POST', 'http://retry-post/opted', { agent })).status, 503);
      assert.equal(hits(), 45, 'opted in: 3 attempts per POST');
      const payload = JSON.stringify({ item: 'x'.repeat(5000) });
      const r = await request(m.proxy, 'POST', 'http://retry-post/opted-body', { agent, body: payload, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 503);
      const sent = [...p1.requests, ...p2.requests].filter((q) => q.url === '/opted-body');
      assert.equal(sent.length, 3, 'a body is replayed on each attempt');
      for (const q of sent) assert.equal(q.body, payload);
    });

    test('the retry budget caps retries under a total outage', async () => {
      const o1 = await track(answering('o1', 503));
      const o2 = await track(answering('o2', 503));
      await register(m.admin, 'outage', o1);
      await register(m.admin, 'outage', o2);
      await putPolicy(m.admin, 'outage', {
        ...QUIET,
        retry: { attempts: 5, retryOn: ['503'], backoffBaseMs: 0, backoffMaxMs: 0, budgetRatio: 0.2, budgetMinPerSecond: 0 },
      });
      const results = await runPool(100, 5, () => get('http://outage/x'));
      assert.ok(results.every((r) => r.status === 503 && r.headers['x-mesher-error'] === undefined), 'the upstream 503 is relayed');
      const hits = o1.requests.length + o2.requests.length;
      // Unbudgeted, 5 attempts each would be 500 hits; the budget allows 20% retries on top of 100.
      assert.ok(hits >= 110 && hits <= 121, `upstream hits ${hits}`);
    });

    test('a pooled connection the upstream closes instead of answering is retried on a fresh one', async () => {
      // Each connection answers its first request and drops on the second: what a server closing an
      // idle keep-alive connection looks like to the request that was just sent on it.
      const perSocket = new WeakMap<object, number>();
      const dropper = await track(
        startUpstream('dropper', (req, res) => {
          const n = (perSocket.get(req.socket) ?? 0) + 1;
          perSocket.set(req.socket, n);
          if (n > 1) return req.socket.destroy();
          res.writeHead(200, { 'x-upstream': 'dropper' });
          res.end('fresh');
        }),
      );
      await register(m.admin, 'dropper', dropper);
      for (let i = 0; i < 5; i++) {
        const r = await get('http://dropper/x');
        assert.equal(r.status, 200, r.body);
        assert.equal(r.body, 'fresh');
      }
      assert.equal(dropper.requests.length, 9, 'every reused connection failed once, then a fresh one answered');
    });

    test('a per-try timeout moves the request to another instance; all tries timing out is UPSTREAM_TIMEOUT', async () => {
      const hang = await track(startUpstream('hang', () => undefined));
      const good = await track(ok('good2'));
      await register(m.admin, 'slowpoke', hang);
      await register(m.admin, 'slowpoke', good);
      await putPolicy(m.admin, 'slowpoke', { ...QUIET, timeout: { perTryMs: 500 }, retry: { attempts: 2, retryOn: ['timeout'], backoffBaseMs: 0, backoffMaxMs: 0 } });
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await get('http://slowpoke/x'));
      assert.deepEqual(tally(results, (r) => `${r.status} ${upstreamOf(r)}`), { '200 good2': 6 });
      assert.ok(hang.requests.length >= 2, `the hanging instance was tried first sometimes (${hang.requests.length})`);

      const hang2 = await track(startUpstream('hang2', () => undefined));
      await register(m.admin, 'all-slow', hang2);
      await putPolicy(m.admin, 'all-slow', { ...QUIET, timeout: { perTryMs: 300 }, retry: { attempts: 2, retryOn: ['timeout'], backoffBaseMs: 0, backoffMaxMs: 0 } });
      const r = await get('http://all-slow/x');
      assertMesherError(r, 504, 'UPSTREAM_TIMEOUT');
      assert.equal(hang2.requests.length, 2, 'both tries reached the instance');
    });
  });

  describe('circuit breaker', () => {
    test('opens after the threshold, rejects without touching the upstream, half-opens after the sleep window', async () => {
      let mode: 'fail' | 'slow-ok' = 'fail';
      const flaky = await track(
        startUpstream('flaky', (_req, res: ServerResponse) => {
          if (mode === 'fail') {
            res.writeHead(500, { 'x-upstream': 'flaky' });
            res.end('boom');
          } else setTimeout(() => res.writeHead(200, { 'x-upstream': 'flaky' }).end('ok'), 300);
        }),
      );
      await register(m.admin, 'fragile', flaky);
      await putPolicy(m.admin, 'fragile', {
        retry: { attempts: 1 },
        outlier: QUIET.outlier!,
        circuitBreaker: { errorThresholdPercent: 50, requestVolumeThreshold: 10, windowMs: 10_000, sleepWindowMs: 1_000 },
      });
      const statuses: number[] = [];
      let opened: HttpResult | null = null;
      for (let i = 0; i < 30 && !opened; i++) {
        const r = await get('http://fragile/x');
        if (r.headers['x-mesher-error'] === 'CIRCUIT_OPEN') opened = r;
        else statuses.push(r.status);
      }
      const openedAt = Date.now();
      assert.ok(opened, 'the breaker opened');
      assertMesherError(opened, 503, 'CIRCUIT_OPEN');
      assert.deepEqual(statuses, new Array(10).fill(500), 'it opened right after the 10th failure (the volume threshold)');
      assert.equal(flaky.requests.length, 10);

      // Well inside the 1 s sleep window (bounded by time, not count, so a busy machine cannot spill over).
      const rejected: HttpResult[] = [];
      while (rejected.length < 20 && Date.now() < openedAt + 600) rejected.push(await get('http://fragile/x'));
      assert.ok(rejected.length > 0);
      for (const r of rejected) assertMesherError(r, 503, 'CIRCUIT_OPEN');
      assert.equal(flaky.requests.length, 10, 'rejected requests never reach the upstream');

      mode = 'slow-ok';
      await sleep(Math.max(0, openedAt + 1_050 - Date.now()));
      // Half-open: exactly one probe goes through; the others are still rejected while it is out.
      const probes = await Promise.all(Array.from({ length: 5 }, () => get('http://fragile/probe')));
      const passed = probes.filter((r) => r.status === 200);
      assert.equal(passed.length, 1, JSON.stringify(probes.map((r) => r.status)));
      for (const r of probes.filter((x) => x.status !== 200)) assertMesherError(r, 503, 'CIRCUIT_OPEN');
      assert.equal(flaky.requests.length, 11);

      // The successful probe closed it.
      const after = await runPool(5, 5, () => get('http://fragile/closed'));
      assert.deepEqual(tally(after, (r) => String(r.status)), { 200: 5 });
    });
  });

  describe('outlier ejection', () => {
    test('an instance answering 500s gets no traffic until its ejection ends; the next ejection is longer', async () => {
      const g1 = await track(ok('g1'));
      const g2 = await track(ok('g2'));
      const bad = await track(answering('bad500', 500));
      for (const u of [g1, g2, bad]) await register(m.admin, 'ejector', u);
      await putPolicy(m.admin, 'ejector', {
        retry: { attempts: 1 },
        circuitBreaker: QUIET.circuitBreaker!,
        outlier: { consecutiveErrors: 3, baseEjectionMs: 1_500, maxEjectionPercent: 50 },
      });
      // Round robin over three: 9 requests give the bad one its 3 failures in a row.
      for (let i = 0; i < 9; i++) await get('http://ejector/warm');
      const ejectedAt = Date.now();
      assert.equal(bad.requests.length, 3);
      // Requests well inside the ejection (bounded by time, so a busy machine cannot spill past its end).
      const during: HttpResult[] = [];
      while (during.length < 60 && Date.now() < ejectedAt + 800) during.push(await get('http://ejector/during'));
      assert.ok(during.length >= 2);
      assert.deepEqual(tally(during, (r) => String(r.status)), { 200: during.length });
      assert.equal(bad.requests.length, 3, 'no traffic while ejected');

      await sleep(Math.max(0, ejectedAt + 1_600 - Date.now()));
      const back = [];
      for (let i = 0; i < 12; i++) back.push(await get('http://ejector/back'));
      assert.equal(bad.requests.length, 6, 'back in rotation after the ejection: 3 more failures eject it again');
      assert.equal(back.filter((r) => r.status === 500).length, 3);
      const reEjectedAt = Date.now();

      // The second ejection lasts 2 x 1.5 s: still out 1.6 s later.
      await sleep(Math.max(0, reEjectedAt + 1_600 - Date.now()));
      const still: HttpResult[] = [];
      while (still.length < 30 && Date.now() < reEjectedAt + 2_300) still.push(await get('http://ejector/still'));
      assert.ok(still.length >= 2);
      assert.deepEqual(tally(still, (r) => String(r.status)), { 200: still.length });
      assert.equal(bad.requests.length, 6);
    });

    test('max ejection percent holds: the second failing instance keeps its traffic', async () => {
      const good = await track(ok('good3'));
      const b1 = await track(answering('b1', 500));
      const b2 = await track(answering('b2', 500));
      for (const u of [good, b1, b2]) await register(m.admin, 'ejector2', u);
      // 34% of 3 instances: at most one ejected.
      await putPolicy(m.admin, 'ejector2', {
        retry: { attempts: 1 },
        circuitBreaker: QUIET.circuitBreaker!,
        outlier: { consecutiveErrors: 2, baseEjectionMs: 10_000, maxEjectionPercent: 34 },
      });
      for (let i = 0; i < 12; i++) await get('http://ejector2/warm');
      const [h1, h2] = [b1.requests.length, b2.requests.length];
      const window = [];
      for (let i = 0; i < 30; i++) window.push(await get('http://ejector2/window'));
      const d1 = b1.requests.length - h1;
      const d2 = b2.requests.length - h2;
      assert.ok((d1 === 0) !== (d2 === 0), `exactly one failing instance is ejected (got ${d1} and ${d2} new hits)`);
      assert.equal(d1 + d2, 15, 'the other shares the traffic with the healthy one');
      assert.equal(window.filter((r) => r.status === 500).length, 15);
    });
  });

  describe('rate limit', () => {
    test('at 2x the configured rate the admitted rate is within 5% of the limit; 429s carry Retry-After', async () => {
      const up = await track(ok('limited'));
      await register(m.admin, 'limited', up);
      // The burst (half a second of tokens) absorbs jitter: the bucket is capped at the burst, so with
      // burst 1 any gap over 20 ms between arrivals (a busy event loop) would lose tokens for good.
      const burst = 25;
      await putPolicy(m.admin, 'limited', { rateLimit: { requestsPerSecond: 50, burst } });
      const rate = 100;
      const n = 400;
      const pending: Array<Promise<HttpResult>> = [];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 1) await sleep(wait);
        pending.push(get('http://limited/x'));
      }
      const seconds = (performance.now() - t0) / 1000;
      const results = await Promise.all(pending);
      const admitted = results.filter((r) => r.status === 200).length;
      const limited = results.filter((r) => r.status === 429);
      assert.equal(admitted + limited.length, n, JSON.stringify(tally(results, (r) => String(r.status))));
      assert.ok(n / seconds >= 70, `offered rate ${(n / seconds).toFixed(1)}/s is well above the limit`);
      const admittedRate = (admitted - burst) / seconds; // the initial burst, then the steady rate
      assert.ok(Math.abs(admittedRate - 50) <= 2.5, `admitted ${admitted} in ${seconds.toFixed(2)} s: ${admittedRate.toFixed(1)}/s`);
      assert.equal(up.requests.length, admitted, 'limited requests never reach the upstream');
      for (const r of limited) {
        assertMesherError(r, 429, 'RATE_LIMITED');
        assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
      }
    });
  });

  describe('fault injection', () => {
    test('a 30% abort lands within 3 points over 5,000 requests, before any upstream is touched', async () => {
      const c1 = await track(ok('c1'));
      const c2 = await track(ok('c2'));
      await register(m.admin, 'chaos', c1);
      await register(m.admin, 'chaos', c2);
      await putPolicy(m.admin, 'chaos', { fault: { abort: { httpStatus: 503, percent: 30 } } });
      const results = await runPool(5_000, 20, () => get('http://chaos/x'));
      const aborted = results.filter((r) => r.headers['x-mesher-error'] === 'FAULT_INJECTED');
      const share = (aborted.length / 5_000) * 100;
      assert.ok(Math.abs(share - 30) <= 3, `aborted ${share}%`);
      for (const r of aborted.slice(0, 50)) assertMesherError(r, 503, 'FAULT_INJECTED');
      assert.equal(results.filter((r) => r.status === 200).length, 5_000 - aborted.length);
      assert.equal(c1.requests.length + c2.requests.length, 5_000 - aborted.length);
    });

    test('a delay is applied before forwarding; a header-limited abort hits only matching requests', async () => {
      const d = await track(ok('delayed'));
      await register(m.admin, 'delayed', d);
      await putPolicy(m.admin, 'delayed', { fault: { delay: { fixedDelayMs: 200, percent: 100 } } });
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const r = await get('http://delayed/x');
        const ms = performance.now() - t0;
        assert.equal(r.status, 200);
        assert.ok(ms >= 200, `took ${ms.toFixed(1)} ms`);
      }

      await putPolicy(m.admin, 'delayed', { fault: { abort: { httpStatus: 418, percent: 100 }, headers: { 'x-chaos': { exact: 'on' } } } });
      assertMesherError(await get('http://delayed/x', { 'x-chaos': 'on' }), 418, 'FAULT_INJECTED');
      assert.equal((await get('http://delayed/x', { 'x-chaos': 'off' })).status, 200);
      assert.equal((await get('http://delayed/x')).status, 200);
    });

    test("a rule's policy applies only to the traffic it matches", async () => {
      const r1 = await track(ok('routed'));
      await register(m.admin, 'per-route', r1);
      const rule = await api(m.admin, 'POST', '/v1/routes', {
        service: 'per-route',
        precedence: 1,
        match: { pathPrefix: '/beta' },
        route: [{ tags: {}, weight: 100 }],
        policy: { fault: { abort: { httpStatus: 555, percent: 100 } } },
      });
      assert.equal(rule.status, 201, rule.body);
      assertMesherError(await get('http://per-route/beta/x'), 555, 'FAULT_INJECTED');
      assert.equal((await get('http://per-route/stable')).status, 200);
    });
  });
});
