import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { api, request, splitHostPort, viaProxy } from './support/http-client';
import { startMesher, tempDir, type MesherProcess } from './support/mesher-process';
import { startUpstream, type Upstream } from './support/upstream';

/** Sums the samples of one metric whose labels include all of `want`. */
function metricSum(text: string, name: string, want: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const kv of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('observability over a real two-hop mesh', () => {
  const dir = tempDir();
  let app: Upstream;
  let provider: MesherProcess;
  let consumer: MesherProcess;
  const N = 40;

  before(async () => {
    // The app takes 40 ms per request, so latency percentiles have a known floor.
    app = await startUpstream('slow-app', (req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ traceparent: req.headers.traceparent ?? null, b3: req.headers['x-b3-traceid'] ?? null }));
      }, 40);
    });
    provider = await startMesher(['--service-name', 'cart', '--app-port', String(app.port), '--inbound-port', '0', '--access-log'], { dataDir: dir });
    consumer = await startMesher(['--service-name', 'web'], { dataDir: dir });
    for (let i = 0; i < N; i++) {
      const r = await viaProxy(consumer.proxy, 'GET', `http://cart/obs/${i}`);
      assert.equal(r.status, 200);
    }
  });
  after(async () => {
    await consumer?.stop();
    await provider?.stop();
    await app?.close();
  });

  test('/metrics counts every request on both sides, with direction, source and destination labels', async () => {
    const out = (await api(consumer.admin, 'GET', '/metrics')).body;
    assert.equal(metricSum(out, 'mesher_requests_total', { direction: 'outbound', source: 'web', destination: 'cart', status_class: '2xx' }), N);
    assert.equal(metricSum(out, 'mesher_request_duration_seconds_count', { direction: 'outbound', destination: 'cart' }), N);
    assert.ok(metricSum(out, 'process_resident_memory_bytes', {}) > 0, 'process metrics are exported');
    assert.equal(metricSum(out, 'mesher_instances', { service: 'cart', status: 'UP' }), 1);
    const inbound = (await api(provider.admin, 'GET', '/v1/mesher/metrics')).body;
    // Provider-side successes are counted too (ServiceComb Mesher does not).
    assert.equal(metricSum(inbound, 'mesher_requests_total', { direction: 'inbound', source: 'web', destination: 'cart', status_class: '2xx' }), N);
    assert.equal(metricSum(inbound, 'mesher_request_duration_seconds_count', { direction: 'inbound', destination: 'cart' }), N);
  });

  test('an incoming traceparent keeps its trace id and gets a new parent at each hop', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const r = await viaProxy(consumer.proxy, 'GET', 'http://cart/trace', { headers: { traceparent: `00-${traceId}-${parent}-01` } });
    const seen = r.json<{ traceparent: string; b3: string }>();
    const [ver, tid, pid, flags] = seen.traceparent.split('-');
    assert.equal(ver, '00');
    assert.equal(tid, traceId);
    assert.notEqual(pid, parent);
    assert.match(pid, /^[0-9a-f]{16}$/);
    assert.equal(flags, '01');
    assert.equal(seen.b3, null, 'a W3C caller gets no B3 headers added');
  });

  test('a B3 caller keeps its trace in B3 and in W3C through both hops', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const r = await viaProxy(consumer.proxy, 'GET', 'http://cart/trace-b3', {
      headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': parent, 'x-b3-sampled': '1' },
    });
    assert.equal(r.status, 200);
    const seen = r.json<{ traceparent: string; b3: string }>();
    assert.equal(seen.b3, traceId);
    const [, tid, pid, flags] = seen.traceparent.split('-');
    assert.equal(tid, traceId);
    assert.notEqual(pid, parent);
    assert.equal(flags, '01');
  });

  test('a request without trace headers gets a new trace and an x-request-id', async () => {
    const r = await viaProxy(consumer.proxy, 'GET', 'http://cart/notrace');
    const seen = r.json<{ traceparent: string }>();
    assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.match(String(r.headers['x-request-id']), /\S{8,}/);
  });

  test('/v1/traffic p99 reflects the latency the upstream adds', async () => {
    const t = (await api(consumer.admin, 'GET', '/v1/traffic')).json<{
      edges: Array<{ source: string; destination: string; windows: Record<string, { requests: number; p50: number; p99: number; errorRatio: number }> }>;
      instances: Array<{ destination: string; instanceId: string }>;
    }>();
    const edge = t.edges.find((e) => e.source === 'web' && e.destination === 'cart')!;
    assert.ok(edge, 'edge web -> cart is listed');
    const w = edge.windows['1m'];
    assert.ok(w.requests >= N, `requests ${w.requests}`);
    assert.equal(w.errorRatio, 0);
    assert.ok(w.p50 >= 38 && w.p50 < 200, `p50 ${w.p50}`);
    assert.ok(w.p99 >= 38 && w.p99 < 400, `p99 ${w.p99}`);
    assert.ok(t.instances.some((i) => i.destination === 'cart'), 'per-instance statistics are listed');
  });

  test('/v1/traffic/stream delivers updates as Server-Sent Events', async () => {
    const [host, port] = splitHostPort(consumer.admin);
    const events = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const req = http.get({ host, port, path: '/v1/traffic/stream', headers: { accept: 'text/event-stream' } }, (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/event-stream/);
        let buf = '';
        res.on('data', (d: Buffer) => {
          buf += d.toString();
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (data) got.push(data);
            if (got.length >= 2) {
              req.destroy();
              resolve(got);
            }
          }
        });
      });
      req.on('error', (e) => (got.length >= 2 ? undefined : reject(e)));
      setTimeout(() => reject(new Error('fewer than two events in 5 s')), 5000).unref();
    });
    for (const e of events) assert.ok(Array.isArray(JSON.parse(e).edges));
  });

  test('the provider writes one JSON access-log line per request with the fields operators need', async () => {
    const accessLines = () =>
      provider
        .output()
        .split('\n')
        .filter((l) => l.includes('"log":"access"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Lines are batched; a flush happens at least every second.
    const deadline = Date.now() + 3000;
    while (accessLines().length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lines = accessLines();
    assert.ok(lines.length >= N, `access lines: ${lines.length}`);
    const one = lines.find((l) => l.path === '/obs/0')!;
    assert.equal(one.direction, 'inbound');
    assert.equal(one.source, 'web');
    assert.equal(one.destination, 'cart');
    assert.equal(one.status, 200);
    assert.equal(one.method, 'GET');
    assert.ok((one.durationMs as number) >= 38);
    assert.ok(typeof one.requestId === 'string' && (one.requestId as string).length > 0);
  });

  test('history rejects a bad time range with a message naming the field', async () => {
    const r = await api(consumer.admin, 'GET', '/v1/traffic/history?from=yesterday');
    assert.equal(r.status, 422);
    assert.match(r.json<{ message: string }>().message, /from must be/);
    const ok = await api(consumer.admin, 'GET', `/v1/traffic/history?service=cart&from=0&to=${Date.now()}`);
    assert.equal(ok.status, 200);
    assert.ok(Array.isArray(ok.json()));
  });
});
