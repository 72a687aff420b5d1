import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendForwardedFor, stripHopByHop, stripResponseHopByHop } from './forward-headers';

describe('stripHopByHop', () => {
  test('removes the RFC 9110 hop-by-hop fields and keeps end-to-end ones', () => {
    const out = stripHopByHop({
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'Basic eDp5',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      host: 'cart',
      'content-type': 'text/plain',
      'x-request-id': 'r1',
    });
    assert.deepEqual(out, { host: 'cart', 'content-type': 'text/plain', 'x-request-id': 'r1' });
  });

  test('also removes every field the Connection header names, whatever its case', () => {
    const out = stripHopByHop({ connection: 'close, X-Secret ,x-debug', 'x-secret': '1', 'x-debug': '2', 'x-keep': '3' });
    assert.deepEqual(out, { 'x-keep': '3' });
  });

  test('with scrubIdentity also drops Forwarded, every X-Forwarded-* and X-Real-IP, and keeps the rest', () => {
    const h = {
      forwarded: 'for=1.2.3.4',
      'x-forwarded-for': '1.2.3.4',
      'x-forwarded-host': 'evil',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '1.2.3.4',
      'x-mesher-source': 'kept-here',
      connection: 'keep-alive',
      accept: '*/*',
    };
    assert.deepEqual(stripHopByHop(h, true), { 'x-mesher-source': 'kept-here', accept: '*/*' });
    assert.equal(stripHopByHop(h)['x-forwarded-for'], '1.2.3.4', 'kept without scrubIdentity');
  });

  test('does not change its input', () => {
    const input = { connection: 'x-a', 'x-a': '1', 'x-b': '2' };
    stripHopByHop(input);
    assert.deepEqual(input, { connection: 'x-a', 'x-a': '1', 'x-b': '2' });
  });

  test('TE passes only as "trailers", and not when Connection names it', () => {
    assert.equal(stripHopByHop({ te: 'trailers, deflate' }).te, 'trailers');
    assert.equal(stripHopByHop({ te: 'deflate' }).te, undefined);
    assert.equal(stripHopByHop({ te: 'trailers', connection: 'te' }).te, undefined);
  });

  test('response headers never carry TE', () => {
    assert.deepEqual(stripResponseHopByHop({ te: 'trailers', 'content-length': '3', connection: 'close' }), { 'content-length': '3' });
  });
});

describe('appendForwardedFor', () => {
  test('starts a list or appends this hop’s client address', () => {
    assert.equal(appendForwardedFor(undefined, '127.0.0.1'), '127.0.0.1');
    assert.equal(appendForwardedFor('', '127.0.0.1'), '127.0.0.1');
    assert.equal(appendForwardedFor('10.0.0.1', '127.0.0.1'), '10.0.0.1, 127.0.0.1');
    assert.equal(appendForwardedFor(['10.0.0.1', '10.0.0.2'], '::1'), '10.0.0.1, 10.0.0.2, ::1');
  });
});
