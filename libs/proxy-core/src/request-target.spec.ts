import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestTarget } from './request-target';

describe('parseRequestTarget', () => {
  test('absolute-form: service, port, path and authority as the app wrote them', () => {
    assert.deepEqual(parseRequestTarget('http://cart:8080/items?id=1', 'cart:8080'), {
      service: 'cart',
      port: '8080',
      path: '/items?id=1',
      authority: 'cart:8080',
    });
  });

  test('absolute-form without a path is the root; a bare query gets a leading slash', () => {
    assert.equal(parseRequestTarget('http://cart', undefined)!.path, '/');
    assert.equal(parseRequestTarget('http://cart:81', undefined)!.path, '/');
    assert.equal(parseRequestTarget('http://cart?x=1', undefined)!.path, '/?x=1');
  });

  test('the absolute-form authority wins over a different Host header', () => {
    const t = parseRequestTarget('http://cart/a', 'evil');
    assert.equal(t!.service, 'cart');
    assert.equal(t!.authority, 'cart');
  });

  test('origin-form takes the service from the Host header', () => {
    assert.deepEqual(parseRequestTarget('/hello', 'cart'), { service: 'cart', port: null, path: '/hello', authority: 'cart' });
    assert.deepEqual(parseRequestTarget('/hello', 'cart:9000'), { service: 'cart', port: '9000', path: '/hello', authority: 'cart:9000' });
  });

  test('service names are lower-cased (host names are case-insensitive); the scheme too', () => {
    assert.equal(parseRequestTarget('HTTP://Cart.Default/x', undefined)!.service, 'cart.default');
    assert.equal(parseRequestTarget('/x', 'CART')!.service, 'cart');
  });

  test('IPv6 literals are accepted as hosts', () => {
    const t = parseRequestTarget('http://[::1]:8080/x', undefined);
    assert.equal(t!.service, '[::1]');
    assert.equal(t!.port, '8080');
  });

  test('unusable targets give null', () => {
    assert.equal(parseRequestTarget(undefined, 'cart'), null);
    assert.equal(parseRequestTarget('', 'cart'), null);
    assert.equal(parseRequestTarget('/x', undefined), null, 'origin-form needs a Host');
    assert.equal(parseRequestTarget('/x', ''), null);
    assert.equal(parseRequestTarget('/x', 'bad host'), null);
    assert.equal(parseRequestTarget('*', 'cart'), null, 'asterisk-form');
    assert.equal(parseRequestTarget('https://cart/x', undefined), null, 'only http is forwarded');
    assert.equal(parseRequestTarget('ftp://cart/x', undefined), null);
    assert.equal(parseRequestTarget('http:///x', undefined), null, 'empty authority');
    assert.equal(parseRequestTarget('http://user:pw@cart/x', undefined), null, 'userinfo');
    assert.equal(parseRequestTarget('http://cart:123456/x', undefined), null, 'port too long');
    assert.equal(parseRequestTarget('http://ca rt/x', undefined), null);
    assert.equal(parseRequestTarget('cart:80', undefined), null, 'authority-form (CONNECT)');
  });
});
