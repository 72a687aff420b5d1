import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedAdminHosts, checkAdminRequest, hostnameOf, type AdminRequestFacts } from './admin-request.hook';

const allowed = allowedAdminHosts({ adminAddress: '127.0.0.1', adminAllowedHosts: ['mesher.internal'] });
const facts = (over: Partial<AdminRequestFacts> = {}): AdminRequestFacts => ({
  method: 'GET',
  url: '/v1/services',
  hosts: ['127.0.0.1:30102'],
  origin: undefined,
  localAddress: '127.0.0.1',
  protocol: 'http',
  ...over,
});

describe('hostnameOf', () => {
  test('strips the port, brackets and a trailing dot; lower-cases', () => {
    assert.equal(hostnameOf('LocalHost:30102'), 'localhost');
    assert.equal(hostnameOf('localhost.'), 'localhost');
    assert.equal(hostnameOf('[::1]:30102'), '::1');
    assert.equal(hostnameOf('127.0.0.1'), '127.0.0.1');
    assert.equal(hostnameOf('mesher.internal:8080'), 'mesher.internal');
  });

  test('malformed values are null', () => {
    for (const bad of ['', ' ', 'a b', 'evil.com@127.0.0.1', '[zz]:1', 'host:port', 'a..b', '[::1', 'x/y', 'a:1:2']) {
      assert.equal(hostnameOf(bad), null, JSON.stringify(bad));
    }
  });
});

describe('checkAdminRequest', () => {
  test('loopback names, the admin address, the connection\'s own address and allowed names pass', () => {
    for (const host of ['127.0.0.1:30102', 'localhost:30102', 'LOCALHOST', '[::1]:30102', 'mesher.internal', 'localhost.:1']) {
      assert.equal(checkAdminRequest(facts({ hosts: [host] }), allowed), null, host);
    }
    // Bound to 0.0.0.0: the pod IP a probe uses is the address the connection arrived on.
    const wild = allowedAdminHosts({ adminAddress: '0.0.0.0', adminAllowedHosts: [] });
    assert.equal(wild.has('0.0.0.0'), false);
    assert.equal(checkAdminRequest(facts({ hosts: ['10.1.2.3:30102'], localAddress: '::ffff:10.1.2.3' }), wild), null);
  });

  test('any other Host is 421, as is a malformed one (DNS rebinding)', () => {
    for (const host of ['attacker.example:30102', 'attacker.example', '10.9.9.9', 'localhost.attacker.example', '127.0.0.1.nip.io', 'a b']) {
      const r = checkAdminRequest(facts({ hosts: [host] }), allowed);
      assert.equal(r?.statusCode, 421, host);
      assert.equal(r?.code, 'MISDIRECTED_REQUEST');
      assert.match(r!.message, /--admin-allowed-hosts/);
    }
  });

  test('a missing or doubled Host is 400', () => {
    assert.equal(checkAdminRequest(facts({ hosts: [] }), allowed)?.statusCode, 400);
    const two = checkAdminRequest(facts({ hosts: ['127.0.0.1', 'attacker.example'] }), allowed);
    assert.equal(two?.statusCode, 400);
    assert.match(two!.message, /more than one Host/);
  });

  test('a token in the query string is 400 whatever its case or position', () => {
    for (const url of ['/v1/services?token=x', '/v1/services?a=1&access_token=x', '/?ADMIN_TOKEN=', '/health/ready?Token=1']) {
      const r = checkAdminRequest(facts({ url }), allowed);
      assert.equal(r?.statusCode, 400, url);
      assert.equal(r?.code, 'BAD_REQUEST');
      assert.match(r!.message, /Authorization: Bearer/);
    }
    assert.equal(checkAdminRequest(facts({ url: '/v1/traffic/history?service=tokens&tokenish=1' }), allowed), null);
  });

  test('a write from another origin is 403; same origin, no Origin, and reads pass', () => {
    const post = (origin: string | undefined, method = 'POST') => checkAdminRequest(facts({ method, origin }), allowed);
    assert.equal(post('http://127.0.0.1:30102'), null);
    assert.equal(post('HTTP://127.0.0.1:30102'), null);
    assert.equal(post(undefined), null, 'curl and the CLI send no Origin');
    for (const origin of ['http://attacker.example', 'null', 'https://127.0.0.1:30102', 'http://127.0.0.1:30103', 'http://localhost:30102']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = post(origin, method);
        assert.equal(r?.statusCode, 403, `${method} ${origin}`);
        assert.equal(r?.code, 'FORBIDDEN');
      }
    }
    assert.equal(post('http://attacker.example', 'GET'), null, 'reads are protected by the browser (no CORS headers)');
  });
});
