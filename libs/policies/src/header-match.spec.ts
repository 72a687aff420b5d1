import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHeaderMatch, headerValue } from './header-match';

describe('compileHeaderMatch', () => {
  test('exact', () => {
    const m = compileHeaderMatch({ exact: 'beta' });
    assert.equal(m('beta'), true);
    assert.equal(m('Beta'), false);
    assert.equal(m('beta2'), false);
    assert.equal(m(undefined), false);
  });

  test('prefix', () => {
    const m = compileHeaderMatch({ prefix: 'user-' });
    assert.equal(m('user-42'), true);
    assert.equal(m('admin-1'), false);
  });

  test('regex must match the whole value', () => {
    const m = compileHeaderMatch({ regex: '[0-9]+' });
    assert.equal(m('123'), true);
    assert.equal(m('a123'), false);
    assert.equal(compileHeaderMatch({ regex: 'a|b' })('ab'), false); // alternation stays anchored
  });

  test('caseInsensitive applies to every criterion', () => {
    assert.equal(compileHeaderMatch({ exact: 'Beta', caseInsensitive: true })('bEtA'), true);
    assert.equal(compileHeaderMatch({ prefix: 'USER', caseInsensitive: true })('user-1'), true);
    assert.equal(compileHeaderMatch({ regex: 'abc', caseInsensitive: true })('ABC'), true);
  });

  test('all given criteria must hold; none given means the header must be present', () => {
    const m = compileHeaderMatch({ prefix: 'v', regex: 'v[0-9]' });
    assert.equal(m('v1'), true);
    assert.equal(m('v10'), false);
    const present = compileHeaderMatch({});
    assert.equal(present(''), true);
    assert.equal(present(undefined), false);
  });

  test('an invalid regex throws an Error that names it', () => {
    assert.throws(() => compileHeaderMatch({ regex: '(' }), /invalid header regex '\('/);
  });

  test('repeated header values are joined with commas', () => {
    assert.equal(headerValue(['a', 'b']), 'a,b');
    assert.equal(headerValue('a'), 'a');
    assert.equal(headerValue(undefined), undefined);
  });
});
