import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestException } from '@nestjs/common';
import { AdminError, type RouteRuleRecord } from '@mesher/contracts';
import { compileHeaderMatch } from '@mesher/policies';
import { chassisRegexToNative, nativeRegexToChassis, parseYamlBody, routeRulesFromDocument, rulesToYaml } from './route-rule-yaml';

function adminError(fn: () => unknown): AdminError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AdminError, String(e));
    return e;
  }
  assert.fail('expected an AdminError');
}

describe('parseYamlBody', () => {
  test('tag and header values keep their source text, other numbers stay numbers', () => {
    const doc = parseYamlBody('- precedence: 2\n  match:\n    headers:\n      age: {exact: 30, caseInsensitive: true}\n  route:\n    - tags: {version: 2.0, build: 010}\n      weight: 100\n');
    assert.deepEqual(doc, [
      { precedence: 2, match: { headers: { age: { exact: '30', caseInsensitive: true } } }, route: [{ tags: { version: '2.0', build: '010' }, weight: 100 }] },
    ]);
  });

  test('a syntax error is a 400 naming the body', () => {
    assert.throws(() => parseYamlBody('- a: [\n'), (e: unknown) => e instanceof BadRequestException && /body is not valid YAML/.test(e.message));
  });

  test('a parsed JSON body passes through', () => {
    const body = { a: 1 };
    assert.equal(parseYamlBody(body), body);
  });
});

describe('go-chassis regex semantics', () => {
  const native = (re: string) => compileHeaderMatch({ regex: re });

  test('an unanchored go-chassis regex matches anywhere, as in Go', () => {
    const m = native(chassisRegexToNative('jason'));
    assert.equal(m('jason'), true);
    assert.equal(m('user=jason; x=1'), true);
    assert.equal(m('anna'), false);
  });

  test('anchors inside keep their meaning', () => {
    const m = native(chassisRegexToNative('^(.*?;)?(user=jason)(;.*)?$'));
    assert.equal(m('a=1;user=jason'), true);
    assert.equal(m('user=jasonx'), false);
    assert.equal(native(chassisRegexToNative('^v2'))('v2.1'), true);
    assert.equal(native(chassisRegexToNative('^v2'))('xv2'), false);
  });

  test('a pattern anchored at both ends without top-level | is kept as written', () => {
    for (const re of ['^(.*?;)?(user=jason)(;.*)?$', '^(?:a|b)$', '^v[0-9]+$']) {
      assert.equal(chassisRegexToNative(re), re);
      assert.equal(nativeRegexToChassis(re), re);
    }
    assert.equal(chassisRegexToNative('^a|b$'), '.*(?:^a|b$).*', 'top-level alternation is not anchored as a whole');
    assert.equal(chassisRegexToNative('^a\\$'), '.*(?:^a\\$).*', 'an escaped dollar is no anchor');
  });

  test('go-chassis patterns survive import and export unchanged', () => {
    for (const re of ['jason', '^(.*?;)?(user=jason)(;.*)?$', 'a|b', '[)(]x', '\\(x\\)', '^v2']) {
      assert.equal(nativeRegexToChassis(chassisRegexToNative(re)), re);
    }
  });

  test('native patterns keep their meaning through export and import, and are stable after one trip', () => {
    for (const re of ['jason|anna', '(a)(b)', 'x\\)']) {
      const once = chassisRegexToNative(nativeRegexToChassis(re));
      assert.equal(chassisRegexToNative(nativeRegexToChassis(once)), once);
      for (const v of ['jason', 'anna', 'ab', 'x)', 'xjason', '']) assert.equal(native(once)(v), native(re)(v), `${re} vs ${once} on '${v}'`);
    }
  });

  test('only one group spanning the whole pattern is unwrapped', () => {
    assert.equal(chassisRegexToNative('^(?:a)|(?:b)$'), '.*(?:^(?:a)|(?:b)$).*');
    assert.equal(nativeRegexToChassis('.*(?:a)|(?:b).*'), '^(?:.*(?:a)|(?:b).*)$');
  });
});

describe('routeRulesFromDocument', () => {
  const routerYaml = `
router:
  infra: cse
routeRule:
  Carts:
    - precedence: 2
      match:
        refer: vmall-with-special-header
      route:
        - weight: 100
          tags:
            version: 2.0
    - precedence: 1
      match:
        source: vmall
        headers:
          Foo:
            exact: bar
      route:
        - weight: 80
          tags: {version: 1.0, app: HelloWorld}
        - weight: 20
          tags: {version: 2.0, app: HelloWorld}
sourceTemplate:
  vmall-with-special-header:
    source: vmall
    httpHeaders:
      cookie:
        regex: "^(.*?;)?(user=jason)(;.*)?$"
`;

  test('a go-chassis router.yaml becomes Mesher rules (lower-case service, string tags, refer resolved)', () => {
    const rules = routeRulesFromDocument(parseYamlBody(routerYaml));
    assert.deepEqual([...rules.keys()], ['carts']);
    assert.deepEqual(rules.get('carts'), [
      {
        precedence: 2,
        match: { source: 'vmall', headers: { cookie: { regex: '^(.*?;)?(user=jason)(;.*)?$' } } }, // anchored: kept
        route: [{ weight: 100, tags: { version: '2.0' } }],
      },
      {
        precedence: 1,
        match: { source: 'vmall', headers: { Foo: { exact: 'bar' } } },
        route: [
          { weight: 80, tags: { version: '1.0', app: 'HelloWorld' } },
          { weight: 20, tags: { version: '2.0', app: 'HelloWorld' } },
        ],
      },
    ]);
  });

  test('the servicecomb.routeRule.<svc> string form and the nested servicecomb form', () => {
    const flat = routeRulesFromDocument(parseYamlBody('servicecomb.routeRule.payment: |\n  - precedence: 1\n    route:\n      - tags: {version: 0.1}\n        weight: 100\n'));
    assert.deepEqual(flat.get('payment'), [{ precedence: 1, route: [{ tags: { version: '0.1' }, weight: 100 }] }]);
    const nested = routeRulesFromDocument(parseYamlBody('servicecomb:\n  routeRule:\n    payment: |\n      - route:\n          - tags: {version: 0.1}\n            weight: 100\n'));
    assert.deepEqual(nested.get('payment'), [{ route: [{ tags: { version: '0.1' }, weight: 100 }] }]);
  });

  test('what cannot be translated is refused by field, all at once', () => {
    const e = adminError(() =>
      routeRulesFromDocument({
        routeRule: {
          carts: [
            { match: { refer: 'nosuch' }, route: [{ tags: {}, weight: 100 }] },
            { match: { sourceTags: { version: 'v2' }, headers: { age: { noLess: '18' } } }, route: [{ tags: {}, weight: 100 }] },
          ],
        },
      }),
    );
    assert.equal(e.code, 'INVALID');
    assert.deepEqual(e.errors.map((x) => x.field).sort(), ['routeRule.carts[0].match.refer', 'routeRule.carts[1].match.headers.age.noLess', 'routeRule.carts[1].match.sourceTags']);
    for (const x of e.errors) assert.ok(x.message.startsWith(x.field), x.message);
  });

  test('unknown keys, non-lists and empty documents are refused', () => {
    assert.equal(adminError(() => routeRulesFromDocument({ routes: {} })).errors[0].field, 'routes');
    assert.equal(adminError(() => routeRulesFromDocument({ routeRule: { carts: 'x: 1' } })).errors[0].field, 'routeRule.carts');
    assert.equal(adminError(() => routeRulesFromDocument({ router: { infra: 'cse' } })).errors[0].field, 'routeRule');
    assert.equal(adminError(() => routeRulesFromDocument([1])).errors[0].field, 'routeRule');
    assert.equal(adminError(() => routeRulesFromDocument({ routeRule: { Carts: [], carts: [] } })).errors[0].field, 'routeRule.carts');
  });
});

describe('rulesToYaml', () => {
  test('writes ServiceComb rules that read back to the same rules, and the text is stable', () => {
    const rules: RouteRuleRecord[] = [
      {
        id: 'r1',
        service: 'carts',
        precedence: 2,
        match: { source: 'web', headers: { 'x-user': { regex: '^(?:jason|anna)$', caseInsensitive: true }, foo: { exact: 'bar' } } },
        route: [{ tags: { version: '2.0' }, weight: 100 }],
        policy: null,
      },
      { id: 'r2', service: 'carts', precedence: 0, match: { headers: { x: { regex: 'a|b' } } }, route: [{ tags: { version: '1.0' }, weight: 100 }], policy: { retry: { attempts: 2 } } },
    ];
    const text = rulesToYaml(rules);
    assert.match(text, /version: "2\.0"/, 'a version that looks like a number is quoted');
    assert.match(text, /regex: \^\(\?:a\|b\)\$/, 'the anchored meaning is spelled out for go-chassis');
    const back = routeRulesFromDocument({ routeRule: { carts: parseYamlBody(text) } }).get('carts') as Array<Omit<RouteRuleRecord, 'id' | 'service'>>;
    assert.deepEqual(back[0], { precedence: 2, match: rules[0].match, route: rules[0].route });
    assert.deepEqual(back[1], { precedence: 0, match: { headers: { x: { regex: '^(?:a|b)$' } } }, route: rules[1].route, policy: rules[1].policy });
    assert.equal(rulesToYaml(back.map((r, i) => ({ ...r, id: `x${i}`, service: 'carts', match: r.match ?? null, policy: r.policy ?? null }))), text);
  });
});
