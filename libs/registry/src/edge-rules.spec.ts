import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EgressRuleRecord, IngressRuleRecord } from '@mesher/contracts';
import { compileIngress, findEgress, hostMatches, routeIngress, validateEgressRule, validateIngressRule } from './edge-rules';

const rule = (id: string, r: Partial<IngressRuleRecord>): IngressRuleRecord => ({
  id,
  host: null,
  pathPrefix: null,
  pathRegex: null,
  rewritePath: null,
  service: id,
  port: null,
  ...r,
});

describe('ingress rules', () => {
  test('wildcards match sub-domains only', () => {
    assert.ok(hostMatches('*.example.com', 'a.example.com'));
    assert.ok(hostMatches('*.example.com', 'a.b.example.com'));
    assert.ok(!hostMatches('*.example.com', 'example.com'));
    assert.ok(!hostMatches('*.example.com', 'badexample.com'));
    assert.ok(hostMatches('api.example.com', 'api.example.com'));
  });

  test('the most specific rule wins whatever the insertion order', () => {
    const compiled = compileIngress([
      rule('catch-all', {}),
      rule('any-host-api', { pathPrefix: '/api' }),
      rule('wild', { host: '*.example.com' }),
      rule('exact', { host: 'shop.example.com' }),
      rule('exact-api', { host: 'shop.example.com', pathPrefix: '/api' }),
      rule('exact-api-v2', { host: 'shop.example.com', pathPrefix: '/api/v2' }),
      rule('exact-regex', { host: 'shop.example.com', pathRegex: '^/items/[0-9]+$' }),
    ]);
    const to = (h: string, p: string) => routeIngress(compiled, h, p)?.rule.id;
    assert.equal(to('shop.example.com', '/api/v2/x'), 'exact-api-v2');
    assert.equal(to('shop.example.com', '/api/v1/x'), 'exact-api');
    assert.equal(to('shop.example.com', '/items/42'), 'exact-regex');
    assert.equal(to('shop.example.com', '/other'), 'exact');
    assert.equal(to('blog.example.com', '/api/x'), 'wild');
    assert.equal(to('other.org', '/api/x'), 'any-host-api');
    assert.equal(to('other.org', '/apix'), 'catch-all', 'a prefix matches whole path segments');
  });

  test('prefixes are stripped or replaced; regex rewrites use groups; queries are kept', () => {
    const c = compileIngress([
      rule('strip', { pathPrefix: '/cart', rewritePath: '/' }),
      rule('replace', { pathPrefix: '/old', rewritePath: '/new' }),
      rule('empty', { pathPrefix: '/e', rewritePath: '' }),
      rule('re', { pathRegex: '^/users/([0-9]+)$', rewritePath: '/u/$1' }),
      rule('keep', { pathPrefix: '/keep' }),
    ]);
    const path = (p: string) => routeIngress(c, 'h', p)?.path;
    assert.equal(path('/cart/items?x=1'), '/items?x=1');
    assert.equal(path('/cart'), '/');
    assert.equal(path('/cart?x=1'), '/?x=1');
    assert.equal(path('/old/a/b'), '/new/a/b');
    assert.equal(path('/e/z'), '/z');
    assert.equal(path('/users/7?q'), '/u/7?q');
    assert.equal(path('/keep/x'), '/keep/x');
    assert.equal(routeIngress(c, 'h', '/nothing'), null);
  });

  test('validation names the field', () => {
    const fields = (x: unknown) => validateIngressRule(x).map((e) => e.field);
    assert.deepEqual(fields({ service: 'cart', pathPrefix: '/a' }), []);
    assert.deepEqual(fields({ service: 'cart', pathRegex: '([' }), ['pathRegex']);
    assert.deepEqual(fields({ service: 'cart', host: 'bad host!' }), ['host']);
    assert.deepEqual(fields({ service: 'cart', pathPrefix: 'x' }), ['pathPrefix']);
    assert.deepEqual(fields({ service: 'cart', pathPrefix: '/a', pathRegex: 'a' }), ['pathRegex']);
    assert.deepEqual(fields({ service: 'cart', port: 0 }), ['port']);
    assert.deepEqual(fields({ pathPrefix: '/a' }), ['service']);
    assert.deepEqual(fields({ service: 'cart', extra: 1 }), ['extra']);
  });
});

describe('egress rules', () => {
  const rules: EgressRuleRecord[] = [
    { id: 'w', host: '*.partner.com', ports: [443], tls: false, policy: null },
    { id: 'x', host: 'api.partner.com', ports: [443, 80], tls: true, policy: null },
  ];
  test('exact beats wildcard; the port must be listed', () => {
    assert.equal(findEgress(rules, 'api.partner.com', 443)?.id, 'x');
    assert.equal(findEgress(rules, 'cdn.partner.com', 443)?.id, 'w');
    assert.equal(findEgress(rules, 'cdn.partner.com', 80), null);
    assert.equal(findEgress(rules, 'evil.com', 443), null);
  });
  test('validation names the field', () => {
    assert.deepEqual(validateEgressRule({ host: 'a.com' }), []);
    assert.deepEqual(validateEgressRule({ host: 'a.com', ports: [0] }).map((e) => e.field), ['ports[0]']);
    assert.deepEqual(validateEgressRule({ host: 'a.com', tls: 'yes' }).map((e) => e.field), ['tls']);
    assert.deepEqual(validateEgressRule({ host: 'a.com', policy: { retry: { attempts: 99 } } }).map((e) => e.field), ['policy.retry.attempts']);
    assert.deepEqual(validateEgressRule({}).map((e) => e.field), ['host']);
  });
});
