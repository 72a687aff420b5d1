import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRefusedJson, poisonedKey } from './json-body.parser';

describe('JSON body refusals name the problem', () => {
  test('the path of a __proto__ or constructor.prototype key, at any depth', () => {
    assert.equal(poisonedKey(JSON.parse('{"a":1,"__proto__":{"x":1}}')), '__proto__');
    assert.equal(poisonedKey(JSON.parse('{"policies":{"cart":{"__proto__":"ty"}}}')), 'policies.cart.__proto__');
    assert.equal(poisonedKey(JSON.parse('{"routes":[{"x":1},{"constructor":{"prototype":{}}}]}')), 'routes[1].constructor.prototype');
    assert.equal(poisonedKey(JSON.parse('{"constructor":"fine","a":[1,{"b":null}]}')), null);
  });

  test('invalid JSON says why; valid JSON with a poisoned key names it; an empty body is left to Fastify', () => {
    const syntax = explainRefusedJson('{"name":}')!;
    assert.equal(syntax.statusCode, 400);
    assert.match(syntax.message, /^body is not valid JSON: /);
    assert.deepEqual(syntax.errors.map((e) => e.field), ['body']);
    const poisoned = explainRefusedJson('{"name":"a","__proto__":{"admin":true}}')!;
    assert.deepEqual(poisoned.errors.map((e) => e.field), ['__proto__']);
    assert.match(poisoned.message, /__proto__ is not allowed/);
    assert.equal(explainRefusedJson(''), null);
  });
});
