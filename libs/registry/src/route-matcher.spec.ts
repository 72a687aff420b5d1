import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRouteMatch, type RouteRequest } from './route-matcher';

const req = (over: Partial<RouteRequest> = {}): RouteRequest => ({
  source: null,
  method: 'GET',
  path: '/items',
  headers: {},
  ...over,
});

describe('compileRouteMatch', () => {
  test('no match block (null, undefined or empty) matches every request', () => {
    for (const m of [null, undefined, {}]) {
      const p = compileRouteMatch(m);
      assert.equal(p(req()), true);
      assert.equal(p(req({ method: 'DELETE', source: 'web', path: '/x', headers: { a: 'b' } })), true);
    }
  });

  test('source matches only that caller; a request without a named source never matches', () => {
    const p = compileRouteMatch({ source: 'web' });
    assert.equal(p(req({ source: 'web' })), true);
    assert.equal(p(req({ source: 'batch' })), false);
    assert.equal(p(req({ source: null })), false);
    assert.equal(p(req({ source: 'Web' })), false, 'service names compare exactly');
  });

  test('pathPrefix is a plain string prefix of the path (query included)', () => {
    const p = compileRouteMatch({ pathPrefix: '/api/v2' });
    assert.equal(p(req({ path: '/api/v2' })), true);
    assert.equal(p(req({ path: '/api/v2/items?x=1' })), true);
    assert.equal(p(req({ path: '/api/v1/items' })), false);
    assert.equal(p(req({ path: '/API/v2' })), false);
  });

  test('methods compare case-insensitively against the request method', () => {
    const p = compileRouteMatch({ methods: ['get', 'Head'] });
    assert.equal(p(req({ method: 'GET' })), true);
    assert.equal(p(req({ method: 'HEAD' })), true);
    assert.equal(p(req({ method: 'POST' })), false);
    assert.equal(compileRouteMatch({ methods: [] })(req({ method: 'PATCH' })), true, 'an empty list does not restrict');
  });

  test('header names are case-insensitive; exact, prefix and anchored regex values', () => {
    const exact = compileRouteMatch({ headers: { 'X-Canary': { exact: 'yes' } } });
    assert.equal(exact(req({ headers: { 'x-canary': 'yes' } })), true);
    assert.equal(exact(req({ headers: { 'x-canary': 'YES' } })), false);
    assert.equal(exact(req({ headers: {} })), false, 'an absent header never matches');

    const prefix = compileRouteMatch({ headers: { 'user-agent': { prefix: 'curl/' } } });
    assert.equal(prefix(req({ headers: { 'user-agent': 'curl/8.1' } })), true);
    assert.equal(prefix(req({ headers: { 'user-agent': 'wget curl/8.1' } })), false);

    const regex = compileRouteMatch({ headers: { 'x-user': { regex: 'jason|anna' } } });
    assert.equal(regex(req({ headers: { 'x-user': 'jason' } })), true);
    assert.equal(regex(req({ headers: { 'x-user': 'anna' } })), true);
    assert.equal(regex(req({ headers: { 'x-user': 'jasonx' } })), false, 'the whole value must match');
  });

  test('caseInsensitive applies to the header value', () => {
    const p = compileRouteMatch({ headers: { 'x-canary': { exact: 'Yes', caseInsensitive: true } } });
    assert.equal(p(req({ headers: { 'x-canary': 'YES' } })), true);
    assert.equal(p(req({ headers: { 'x-canary': 'no' } })), false);
  });

  test('repeated header values are joined with commas before matching', () => {
    const p = compileRouteMatch({ headers: { 'x-tag': { exact: 'a,b' } } });
    assert.equal(p(req({ headers: { 'x-tag': ['a', 'b'] } })), true);
  });

  test('every condition must hold (AND)', () => {
    const p = compileRouteMatch({ source: 'web', pathPrefix: '/cart', methods: ['POST'], headers: { 'x-canary': { exact: 'yes' } } });
    const ok = req({ source: 'web', path: '/cart/1', method: 'POST', headers: { 'x-canary': 'yes' } });
    assert.equal(p(ok), true);
    assert.equal(p({ ...ok, source: 'batch' }), false);
    assert.equal(p({ ...ok, path: '/other' }), false);
    assert.equal(p({ ...ok, method: 'GET' }), false);
    assert.equal(p({ ...ok, headers: {} }), false);
  });
});
