import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyShapeProblem, depthExceeds, MAX_BODY_DEPTH, yamlTextProblem } from './body-depth';

const nestedArrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const nestedMaps = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const blockMaps = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + `\n${' '.repeat(n)}1\n`;

describe('depthExceeds (parsed JSON)', () => {
  test('counts arrays and objects, not scalars', () => {
    assert.equal(depthExceeds('x', 0), false);
    assert.equal(depthExceeds({}, 0), true);
    assert.equal(depthExceeds({ a: [1, { b: 2 }] }, 3), false);
    assert.equal(depthExceeds({ a: [1, { b: 2 }] }, 2), true);
  });

  test('a 100,000-deep value is measured without overflowing the stack', () => {
    assert.equal(depthExceeds(JSON.parse(nestedArrays(100_000)), MAX_BODY_DEPTH), true);
    assert.equal(depthExceeds(JSON.parse(nestedMaps(MAX_BODY_DEPTH)), MAX_BODY_DEPTH), false);
    assert.equal(depthExceeds(JSON.parse(nestedMaps(MAX_BODY_DEPTH + 1)), MAX_BODY_DEPTH), true);
  });
});

describe('yamlTextProblem', () => {
  test('real documents pass, block or flow, pretty-printed JSON included', () => {
    const doc = {
      services: [{ name: 'cart', instances: [{ id: 'i1', endpoint: 'http://127.0.0.1:1', labels: { zone: 'a' } }] }],
      routes: [{ service: 'cart', precedence: 1, match: { headers: { 'x-a': { regex: '^[a-z]+$' } } }, route: [{ tags: { version: '1' }, weight: 100 }] }],
      policies: { cart: { retry: { attempts: 2 } } },
    };
    assert.equal(yamlTextProblem(JSON.stringify(doc)), null);
    assert.equal(yamlTextProblem(JSON.stringify(doc, null, 2)), null);
    assert.equal(
      yamlTextProblem('routeRule:\n  cart:\n    - precedence: 2\n      match:\n        headers:\n          user: {regex: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}\n      route:\n        - tags: {version: "1"}\n          weight: 100\n'),
      null,
      'brackets inside a quoted scalar do not count',
    );
    assert.equal(yamlTextProblem("a: it's [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ fine\n"), null, 'nor inside a plain scalar');
    assert.equal(yamlTextProblem('base: &b {timeout: {requestMs: 10}}\npolicies:\n  a: *b\n  c: *b\n'), null);
  });

  test('deep flow, block, dash and mixed nesting are refused before any parser recursion', () => {
    for (const [what, text] of [
      ['flow arrays', nestedArrays(3000)],
      ['flow maps', nestedMaps(2000)],
      ['block maps', blockMaps(200)],
      ['dashes on one line', `${'- '.repeat(100)}x\n`],
      ['a false quote does not hide what follows', `a: x-'\nb: ${nestedArrays(100)}\n`],
      ['huge flow nesting', '['.repeat(200_000)],
    ] as const) {
      assert.equal(yamlTextProblem(text), 'body nests deeper than 64 levels', what);
    }
  });

  test('chains of aliases past the limit are refused', () => {
    const chain = ['a0: &a0 1', ...Array.from({ length: 150 }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}]`)].join('\n');
    assert.equal(yamlTextProblem(chain), 'body uses more than 100 YAML aliases');
  });

  test('bodyShapeProblem picks the check by body type', () => {
    assert.equal(bodyShapeProblem(undefined), null);
    assert.equal(bodyShapeProblem({ a: 1 }), null);
    assert.match(bodyShapeProblem(JSON.parse(nestedArrays(40)))!, /deeper than 32/);
    assert.match(bodyShapeProblem(nestedArrays(70))!, /deeper than 64/);
  });
});
