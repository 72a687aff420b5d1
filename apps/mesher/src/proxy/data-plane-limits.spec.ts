import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { ProxyServer } from '@mesher/proxy-core';
import { ConfigError, loadConfig } from '../config/load-config';
import { listenerOptions, overloadGuard, registerDataPlaneMetrics, requestGuard } from './data-plane-limits';

describe('data-plane limit options', () => {
  test('documented defaults', () => {
    const c = loadConfig([], {});
    assert.deepEqual(
      [c.maxHeaderSize, c.maxHeaderCount, c.maxUrlLength, c.headersTimeoutMs, c.connectTimeoutMs, c.maxConnections, c.overloadEventLoopDelayMs, c.overloadHeapPercent, c.requestBodyTimeoutMs, c.inboundTimeoutMs],
      [32_768, 100, 8192, 20_000, 5000, 10_000, 0, 95, 30_000, 60_000],
    );
  });

  test('flags and environment, with size suffixes and durations', () => {
    const c = loadConfig(
      ['--max-header-size', '16k', '--max-url-length', '2048', '--headers-timeout', '2s', '--connect-timeout', '250ms', '--overload-event-loop-delay', '0', '--inbound-timeout', '0'],
      { MESHER_MAX_CONNECTIONS: '500', MESHER_MAX_HEADER_COUNT: '50', MESHER_OVERLOAD_HEAP_PERCENT: '80', MESHER_REQUEST_BODY_TIMEOUT: '1.5s' },
    );
    assert.deepEqual(listenerOptions(c), { maxHeaderSize: 16_384, maxHeaderCount: 50, headersTimeoutMs: 2000, bodyIdleTimeoutMs: 1500, maxConnections: 500 });
    assert.equal(c.inboundTimeoutMs, 0, '0 = no inbound deadline');
    assert.equal(listenerOptions(loadConfig(['--request-body-timeout', '0'], {})).bodyIdleTimeoutMs, 0, '0 = off');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'limits-')), 'mesher.yaml');
    fs.writeFileSync(file, 'requestBodyTimeoutMs: 2s\ninboundTimeoutMs: 90s\n');
    const y = loadConfig(['--config', file], {});
    assert.deepEqual([y.requestBodyTimeoutMs, y.inboundTimeoutMs], [2000, 90_000], 'YAML keys');
    assert.equal(c.connectTimeoutMs, 250);
    const g = requestGuard(c, overloadGuard(c));
    assert.deepEqual(g.limits, { maxUrlLength: 2048, maxHeaderCount: 50 });
    assert.ok(g.overload, 'heap check still on');
    const off = loadConfig(['--overload-event-loop-delay', '0', '--overload-heap-percent', '0'], {});
    assert.equal(requestGuard(off, overloadGuard(off)).overload, null, 'both checks off: no shedding at all');
  });

  test('bad values stop start-up with a message naming the option', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--max-header-size', 'lots'], /invalid --max-header-size \(flag\): "lots" is not a size in bytes/],
      [['--max-header-size', '100'], /invalid --max-header-size: must be at least 1k/],
      [['--max-header-count', '-1'], /invalid --max-header-count \(flag\): "-1" is not a whole number/],
      [['--max-connections', '1.5'], /invalid --max-connections/],
      [['--max-url-length', '8'], /invalid --max-url-length: must be at least 16/],
      [['--headers-timeout', '10ms'], /invalid --headers-timeout: must be at least 100ms/],
      [['--overload-heap-percent', '150'], /invalid --overload-heap-percent: must be 0 \(off\) to 100/],
      [['--connect-timeout', 'soon'], /invalid --connect-timeout/],
      [['--request-body-timeout', '50ms'], /invalid --request-body-timeout: must be 0 \(off\) or at least 100ms/],
      [['--request-body-timeout', 'never'], /invalid --request-body-timeout \(flag\): "never" is not a duration/],
      [['--inbound-timeout', '10ms'], /invalid --inbound-timeout: must be 0 \(none\) or at least 100ms/],
    ];
    for (const [argv, msg] of cases) assert.throws(() => loadConfig(argv, {}), (e: unknown) => e instanceof ConfigError && msg.test(e.message), argv.join(' '));
  });

  test('refusals and shedding are exported as metrics', async () => {
    const registry = new Registry();
    const server = new ProxyServer('outbound', (_q, s) => s.end());
    const c = loadConfig([], {});
    const overload = overloadGuard(c);
    overload.shed = 3;
    registerDataPlaneMetrics(registry, () => [['outbound', server], ['inbound', null]], overload);
    const text = await registry.metrics();
    assert.match(text, /^mesher_listener_refused_connections_total\{listener="outbound"\} 0$/m);
    assert.match(text, /^mesher_overload_shed_requests_total 3$/m);
    assert.match(text, /^mesher_overloaded 0$/m);
    assert.match(text, /^mesher_upgraded_connections\{listener="outbound"\} 0$/m);
    assert.match(text, /^mesher_request_body_timeouts_total\{listener="outbound"\} 0$/m);
  });
});
