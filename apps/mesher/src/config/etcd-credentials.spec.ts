import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestCa, type CertFiles, type TestCa } from '../../../../test/support/tls-certs';
import { ConfigError, helpText, loadConfig } from './load-config';
import { etcdCredentials } from './etcd-credentials';

const HTTPS = ['--registry', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379'];
const HTTP = ['--registry', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379'];

describe('etcd TLS and login options', () => {
  let ca: TestCa;
  let client: CertFiles;
  let other: CertFiles;
  let dir: string;
  before(() => {
    ca = createTestCa();
    client = ca.issue('mesher', ['DNS:mesher']);
    other = ca.issue('other', ['DNS:other']);
    dir = ca.dir;
  });
  after(() => ca?.dispose());

  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  test('CA, client certificate and key are read from their files (flags, env or YAML)', () => {
    const flags = etcdCredentials(loadConfig([...HTTPS, '--etcd-ca', ca.caFile, '--etcd-cert', client.cert, '--etcd-key', client.key], {}));
    assert.deepEqual(flags.tls?.ca, fs.readFileSync(ca.caFile));
    assert.deepEqual(flags.tls?.cert, fs.readFileSync(client.cert));
    assert.deepEqual(flags.tls?.key, fs.readFileSync(client.key));
    assert.equal(flags.auth, undefined);

    const env = loadConfig(HTTPS, { MESHER_ETCD_CA: ca.caFile, MESHER_ETCD_CERT: client.cert, MESHER_ETCD_KEY: client.key });
    assert.equal(env.etcdCa, ca.caFile);
    assert.deepEqual(etcdCredentials(env).tls?.cert, fs.readFileSync(client.cert));

    const yaml = file('mesher.yaml', `registry: etcd\netcdEndpoints: [https://127.0.0.1:2379]\netcdCa: ${ca.caFile}\n`);
    const fromFile = etcdCredentials(loadConfig(['--config', yaml], {}));
    assert.deepEqual(fromFile.tls, { ca: fs.readFileSync(ca.caFile) });
  });

  test('https:// endpoints without --etcd-ca use TLS with the system CAs (no credentials to pass)', () => {
    assert.deepEqual(etcdCredentials(loadConfig(HTTPS, {})), {});
  });

  test('user name and password: from the environment, a file (trailing newline dropped) or a flag', () => {
    assert.deepEqual(etcdCredentials(loadConfig([...HTTP, '--etcd-username', 'mesher'], { MESHER_ETCD_PASSWORD: 'pw from env' })).auth, {
      username: 'mesher',
      password: 'pw from env',
    });
    const pwFile = file('etcd-password', 's3cret pass\n');
    assert.deepEqual(etcdCredentials(loadConfig([...HTTP, '--etcd-username', 'mesher', '--etcd-password-file', pwFile], {})).auth, {
      username: 'mesher',
      password: 's3cret pass',
    });
    assert.deepEqual(etcdCredentials(loadConfig([...HTTP], { MESHER_ETCD_USERNAME: 'u', MESHER_ETCD_PASSWORD_FILE: pwFile })).auth, { username: 'u', password: 's3cret pass' });
    assert.equal(etcdCredentials(loadConfig([...HTTP, '--etcd-username', 'u', '--etcd-password', 'p'], {})).auth?.password, 'p');
  });

  test('every option is in --help with its env var', () => {
    const help = helpText();
    for (const [flag, env] of [
      ['--etcd-ca', 'MESHER_ETCD_CA'],
      ['--etcd-cert', 'MESHER_ETCD_CERT'],
      ['--etcd-key', 'MESHER_ETCD_KEY'],
      ['--etcd-username', 'MESHER_ETCD_USERNAME'],
      ['--etcd-password', 'MESHER_ETCD_PASSWORD'],
      ['--etcd-password-file', 'MESHER_ETCD_PASSWORD_FILE'],
    ]) {
      assert.match(help, new RegExp(`${flag} +${env} `), flag);
    }
  });

  test('a bad combination or file stops start-up with a message naming the option', () => {
    const notPem = file('not-a-cert.pem', 'hello\n');
    const empty = file('empty-password', '\n');
    const missing = path.join(dir, 'nope.pem');
    const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--etcd-ca', ca.caFile], {}, /^invalid --etcd-ca: etcd options need --registry etcd$/],
      [['--etcd-username', 'u'], { MESHER_ETCD_PASSWORD: 'p' }, /^invalid --etcd-username: etcd options need --registry etcd$/],
      [[...HTTP, '--etcd-ca', ca.caFile], {}, /^invalid --etcd-ca: TLS to etcd needs https:\/\/ endpoints in --etcd-endpoints$/],
      [['--registry', 'etcd', '--etcd-endpoints', 'https://a:2379,http://b:2379'], {}, /^invalid --etcd-endpoints: mixes https:\/\/ and http:\/\//],
      [[...HTTPS, '--etcd-cert', client.cert], {}, /^invalid --etcd-cert: needs --etcd-key/],
      [[...HTTPS, '--etcd-key', client.key], {}, /^invalid --etcd-key: needs --etcd-cert/],
      [[...HTTPS, '--etcd-ca', missing], {}, /^invalid --etcd-ca: cannot read .*nope\.pem: ENOENT/],
      [[...HTTPS, '--etcd-ca', notPem], {}, /^invalid --etcd-ca: .*not-a-cert\.pem holds no PEM certificate/],
      [[...HTTPS, '--etcd-cert', notPem, '--etcd-key', client.key], {}, /^invalid --etcd-cert: .*holds no PEM certificate/],
      [[...HTTPS, '--etcd-cert', client.cert, '--etcd-key', notPem], {}, /^invalid --etcd-key: .*holds no PEM private key/],
      [[...HTTPS, '--etcd-cert', client.cert, '--etcd-key', other.key], {}, /^invalid --etcd-key: .* is not the key of the certificate in --etcd-cert /],
      [[...HTTP, '--etcd-username', 'u'], {}, /^invalid --etcd-username: needs a password \(MESHER_ETCD_PASSWORD, --etcd-password-file or --etcd-password\)$/],
      [[...HTTP], { MESHER_ETCD_PASSWORD: 'p' }, /^invalid --etcd-password: a password needs --etcd-username$/],
      [[...HTTP, '--etcd-username', 'u', '--etcd-password-file', empty], {}, /^invalid --etcd-password-file: .*empty-password is empty$/],
      [[...HTTP, '--etcd-username', 'u', '--etcd-password-file', missing], {}, /^invalid --etcd-password-file: cannot read /],
      [[...HTTP, '--etcd-username', 'u', '--etcd-password-file', empty], { MESHER_ETCD_PASSWORD: 'p' }, /^invalid --etcd-password-file: give the password either/],
      [[...HTTP, '--etcd-username', ''], {}, /^invalid --etcd-username \(flag\)/],
    ];
    for (const [argv, env, re] of bad) {
      assert.throws(() => loadConfig(argv, env), (e: Error) => e instanceof ConfigError && re.test(e.message), `${argv.join(' ')} ${JSON.stringify(env)}`);
    }
  });

  test('the password is never echoed in an error', () => {
    assert.throws(
      () => loadConfig([...HTTP, '--etcd-password', ''], {}),
      (e: Error) => e instanceof ConfigError && /^invalid --etcd-password \(flag\): \(hidden\)/.test(e.message),
    );
    assert.throws(
      () => loadConfig(HTTP, { MESHER_ETCD_PASSWORD: 'topsecret-value' }),
      (e: Error) => e instanceof ConfigError && !e.message.includes('topsecret-value'),
    );
  });
});
