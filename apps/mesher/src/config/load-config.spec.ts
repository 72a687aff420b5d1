import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, helpText, loadConfig, parseArgv } from './load-config';
import { OPTIONS } from './config.schema';

describe('loadConfig', () => {
  test('defaults match the documented ports and addresses', () => {
    const c = loadConfig([], {});
    assert.equal(c.proxyPort, 30101);
    assert.equal(c.adminPort, 30102);
    assert.equal(c.listenAddress, '127.0.0.1');
    assert.equal(c.adminAddress, '127.0.0.1');
    assert.equal(c.dataDir, './data');
    assert.equal(c.adminToken, null);
    assert.equal(c.inboundPort, null);
    assert.equal(c.heartbeatIntervalMs, 5000);
    assert.equal(c.instanceTtlSeconds, 15);
  });

  test('flags beat env, env beats the file, the file beats defaults', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'mesher.yaml');
    fs.writeFileSync(file, 'proxyPort: 1111\nadminPort: 2222\ndataDir: /from/file\nlogLevel: debug\n');
    const c = loadConfig(['--config', file, '--proxy-port', '3333'], { MESHER_PROXY_PORT: '4444', MESHER_ADMIN_PORT: '5555' });
    assert.equal(c.proxyPort, 3333);
    assert.equal(c.adminPort, 5555);
    assert.equal(c.dataDir, '/from/file');
    assert.equal(c.logLevel, 'debug');
  });

  test('durations take units; a bare number is seconds', () => {
    const c = loadConfig(['--heartbeat-interval', '500ms', '--instance-ttl', '1m', '--drain-timeout', '3'], {});
    assert.equal(c.heartbeatIntervalMs, 500);
    assert.equal(c.instanceTtlSeconds, 60);
    assert.equal(c.drainTimeoutMs, 3000);
  });

  test('labels repeat as flags and split by commas in env', () => {
    assert.deepEqual(loadConfig(['--label', 'a=1', '--label', 'b=x=y'], {}).labels, { a: '1', b: 'x=y' });
    assert.deepEqual(loadConfig([], { MESHER_LABELS: 'zone=z1, tier=gold' }).labels, { zone: 'z1', tier: 'gold' });
  });

  test('--app-port turns the inbound listener on at 30103 by default; SERVICE_PORTS is accepted', () => {
    const c = loadConfig(['--service-name', 'cart', '--app-port', '8080'], {});
    assert.equal(c.inboundPort, 30103);
    assert.equal(loadConfig(['--service-name', 'cart'], { SERVICE_PORTS: 'http:9090,grpc:1' }).appPort, 9090);
  });

  test('secrets are not echoed in errors', () => {
    assert.throws(() => loadConfig(['--admin-token', ''], {}), (e: Error) => e instanceof ConfigError && /--admin-token/.test(e.message) && !/""/.test(e.message));
  });

  const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--proxy-port', '-1'], {}, /--proxy-port \(flag\): "-1" is not a port/],
    [['--proxy-port'], {}, /--proxy-port needs a value/],
    [[], { MESHER_LISTEN_ADDRESS: 'not an address!' }, /--listen-address \(env MESHER_LISTEN_ADDRESS\)/],
    [['--service-name', 'Cart!'], {}, /--service-name/],
    [['--admin-address', '10.0.0.1'], {}, /refusing to bind the admin API/],
    [['--inbound-port', '1'], {}, /--inbound-port: the inbound listener needs --app-port/],
    [['--registry', 'etcd'], {}, /--etcd-endpoints/],
    [['--etcd-endpoints', 'ftp://x'], {}, /--etcd-endpoints/],
    [['--access-log', 'maybe'], {}, /--access-log .*true or false/],
    [['--admin-viewer-token', 'v'], {}, /--admin-viewer-token: needs --admin-token/],
    [['--admin-token', 'same', '--admin-viewer-token', 'same'], {}, /--admin-viewer-token: must differ from --admin-token/],
    [['--admin-body-limit', '10'], {}, /--admin-body-limit: must be at least 1k/],
    [['--admin-body-limit', 'lots'], {}, /--admin-body-limit \(flag\): "lots" is not a size/],
    [[], { MESHER_ADMIN_ALLOWED_HOSTS: 'good.example,bad host' }, /--admin-allowed-hosts \(env MESHER_ADMIN_ALLOWED_HOSTS\): .*'bad host'/],
  ];

  test('admin plane options: viewer token, body limit, allowed hosts (lower-cased, trailing dot dropped)', () => {
    const cfg = loadConfig(['--admin-token', 'op', '--admin-viewer-token', 'view', '--admin-body-limit', '256k', '--admin-allowed-hosts', 'Mesher.Internal., admin.example'], {});
    assert.equal(cfg.adminViewerToken, 'view');
    assert.equal(cfg.adminBodyLimit, 256 * 1024);
    assert.deepEqual(cfg.adminAllowedHosts, ['mesher.internal', 'admin.example']);
    const d = loadConfig([], {});
    assert.equal(d.adminBodyLimit, 1024 * 1024);
    assert.deepEqual(d.adminAllowedHosts, []);
    assert.equal(d.adminViewerToken, null);
  });
  for (const [argv, env, re] of bad) {
    test(`rejects ${argv.join(' ') || JSON.stringify(env)}`, () => {
      assert.throws(() => loadConfig(argv, env), (e: Error) => e instanceof ConfigError && re.test(e.message));
    });
  }

  test('a config file with an unknown key or bad YAML is rejected naming the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const f1 = path.join(dir, 'a.yaml');
    fs.writeFileSync(f1, 'proxyPortt: 1\n');
    assert.throws(() => loadConfig(['--config', f1], {}), /unknown key 'proxyPortt'/);
    const f2 = path.join(dir, 'b.yaml');
    fs.writeFileSync(f2, 'a: [1,\n');
    assert.throws(() => loadConfig(['--config', f2], {}), /not valid YAML/);
    assert.throws(() => loadConfig(['--config', path.join(dir, 'missing.yaml')], {}), /cannot read/);
  });
});

describe('argv and help', () => {
  test('--flag=value and a bare boolean flag', () => {
    const { flags } = parseArgv(['--proxy-port=1', '--access-log', '--log-level', 'warn']);
    assert.deepEqual(flags.get('--proxy-port'), ['1']);
    assert.deepEqual(flags.get('--access-log'), ['true']);
  });

  test('help lists every option', () => {
    const h = helpText();
    for (const o of OPTIONS) assert.ok(h.includes(o.flag) && o.env.every((e) => h.includes(e)), o.flag);
  });
});
