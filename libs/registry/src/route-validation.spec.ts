import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldError } from '@mesher/contracts';
import { validateRouteRule } from './route-validation';

const valid = () => ({
  service: 'cart',
  precedence: 10,
  match: {
    source: 'web',
    pathPrefix: '/api',
    methods: ['GET', 'post'],
    headers: { 'x-canary': { exact: 'yes' }, 'x-user': { regex: 'jason|anna', caseInsensitive: true }, 'user-agent': { prefix: 'curl/' } },
  },
  route: [
    { tags: { version: '2.0.0' }, weight: 90 },
    { tags: { version: '1.0.0', zone: 'z1' }, weight: 10 },
  ],
  policy: { retry: { attempts: 2 } },
});

/** The single error for `field`, failing with the whole list when there is not exactly one. */
function only(errors: FieldError[], field: string): FieldError {
  const hits = errors.filter((e) => e.field === field);
  assert.equal(hits.length, 1, `expected one error for ${field}, got ${JSON.stringify(errors)}`);
  assert.ok(hits[0].message.includes(field), `message names the field: ${hits[0].message}`);
  return hits[0];
}

function withRule(mut: (r: Record<string, any>) => void): FieldError[] {
  const r = valid() as Record<string, any>;
  mut(r);
  return validateRouteRule(r);
}

describe('validateRouteRule', () => {
  test('a complete valid rule has no errors; match, precedence and policy are optional', () => {
    assert.deepEqual(validateRouteRule(valid()), []);
    assert.deepEqual(validateRouteRule({ service: 'cart', route: [{ tags: {}, weight: 100 }] }), []);
    assert.deepEqual(validateRouteRule({ service: 'cart', match: null, policy: null, route: [{ tags: {}, weight: 100 }] }), []);
  });

  test('a non-object body is one error on rule', () => {
    for (const body of [null, 'x', 42, []]) assert.deepEqual(validateRouteRule(body), [{ field: 'rule', message: 'a route rule must be a JSON object' }]);
  });

  test('unknown fields are named, at every level', () => {
    only(withRule((r) => (r.destination = 'x')), 'destination');
    only(withRule((r) => (r.match.sourceTags = {})), 'match.sourceTags');
    only(withRule((r) => (r.match.headers['x-canary'].equals = 'y')), 'match.headers.x-canary.equals');
    only(withRule((r) => (r.route[0].label = 'x')), 'route[0].label');
  });

  test('service must be a non-empty string', () => {
    only(withRule((r) => delete r.service), 'service');
    only(withRule((r) => (r.service = '')), 'service');
    only(withRule((r) => (r.service = 7)), 'service');
  });

  test('precedence must be an integer from 0 to 1000000', () => {
    for (const p of [-1, 1.5, '3', 1_000_001]) only(withRule((r) => (r.precedence = p)), 'precedence');
    assert.deepEqual(withRule((r) => (r.precedence = 0)), []);
  });

  test('match fields are checked one by one', () => {
    only(withRule((r) => (r.match = 'all')), 'match');
    only(withRule((r) => (r.match.source = '')), 'match.source');
    only(withRule((r) => (r.match.pathPrefix = 'api')), 'match.pathPrefix');
    only(withRule((r) => (r.match.methods = 'GET')), 'match.methods');
    only(withRule((r) => (r.match.methods = ['GET', 'FETCH'])), 'match.methods[1]');
    only(withRule((r) => (r.match.headers = [])), 'match.headers');
  });

  test('header matches: a valid name, one of exact/prefix/regex, string values, a boolean caseInsensitive', () => {
    only(withRule((r) => (r.match.headers['bad header'] = { exact: 'x' })), 'match.headers.bad header');
    only(withRule((r) => (r.match.headers['x-canary'] = 'yes')), 'match.headers.x-canary');
    only(withRule((r) => (r.match.headers['x-canary'] = {})), 'match.headers.x-canary');
    only(withRule((r) => (r.match.headers['x-canary'] = { exact: 1 })), 'match.headers.x-canary.exact');
    only(withRule((r) => (r.match.headers['x-user'].caseInsensitive = 'true')), 'match.headers.x-user.caseInsensitive');
  });

  test('a regex that does not compile is named with its field', () => {
    const e = only(withRule((r) => (r.match.headers['x-user'] = { regex: '(unclosed' })), 'match.headers.x-user.regex');
    assert.match(e.message, /does not compile: \(unclosed/);
  });

  test('route must be a non-empty list of {tags, weight}', () => {
    for (const route of [undefined, [], {}, 'v1']) only(withRule((r) => (r.route = route)), 'route');
    only(withRule((r) => (r.route[1] = 'v1')), 'route[1]');
    only(withRule((r) => (r.route[0].tags = 'v2')), 'route[0].tags');
    only(withRule((r) => (r.route[0].tags = { version: 2 })), 'route[0].tags');
  });

  test('weights are integers 0-100 that sum to 100', () => {
    for (const w of [-10, 10.5, 101, '90', undefined]) only(withRule((r) => (r.route[0].weight = w)), 'route[0].weight');
    const sum = only(withRule((r) => (r.route[0].weight = 80)), 'route');
    assert.equal(sum.message, 'route weights must sum to 100 (got 90)');
    assert.deepEqual(withRule((r) => (r.route = [{ tags: { version: '1.0.0' }, weight: 100 }, { tags: { version: '2.0.0' }, weight: 0 }])), []);
  });

  test('a bad weight is reported once, not again as a wrong sum', () => {
    const errors = withRule((r) => (r.route[0].weight = -90));
    assert.deepEqual(errors.map((e) => e.field), ['route[0].weight']);
  });

  test('policy errors are reported under policy.', () => {
    const errors = withRule((r) => (r.policy = { loadBalancer: { strategy: 'Fastest' }, timeout: { requestMs: -1 } }));
    only(errors, 'policy.loadBalancer.strategy');
    only(errors, 'policy.timeout.requestMs');
  });

  test('several problems are all reported at once', () => {
    const errors = validateRouteRule({ service: '', precedence: -1, route: [{ tags: {}, weight: 50 }] });
    assert.deepEqual(errors.map((e) => e.field).sort(), ['precedence', 'route', 'service']);
  });
});
