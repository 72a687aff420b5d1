import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { armConnectTimeout, CONNECT_TIMEOUT, parseEndpoint } from './upstream-endpoint';

describe('parseEndpoint', () => {
  test('connect address, default ports, base path and authority', () => {
    assert.deepEqual(parseEndpoint('http://127.0.0.1:8081'), { tls: false, hostname: '127.0.0.1', port: 8081, basePath: '', authority: '127.0.0.1:8081' });
    assert.deepEqual(parseEndpoint('https://api.example.test/v2/'), { tls: true, hostname: 'api.example.test', port: 443, basePath: '/v2', authority: 'api.example.test' });
    assert.deepEqual(parseEndpoint('http://[::1]:80/base'), { tls: false, hostname: '::1', port: 80, basePath: '/base', authority: '[::1]' });
  });
});

describe('armConnectTimeout', () => {
  test('destroys a socket still connecting after the limit, with the connect-timeout code', async () => {
    // A socket that never starts connecting stays `connecting` only if we say so: a stand-in for a SYN left unanswered.
    const s = new net.Socket();
    Object.defineProperty(s, 'connecting', { value: true });
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      s.on('error', resolve);
      armConnectTimeout(s, 20);
    });
    assert.equal(err.code, CONNECT_TIMEOUT);
    assert.match(err.message, /connect timed out after 20 ms/);
    assert.equal(s.destroyed, true);
  });

  test('leaves a connected socket alone', async () => {
    const server = net.createServer((c) => c.end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const s = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    armConnectTimeout(s, 20);
    await new Promise((r) => s.once('connect', r));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(s.destroyed && s.errored !== null, false, 'not destroyed with an error');
    s.destroy();
    server.close();
  });
});
