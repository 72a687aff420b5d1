import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { requestHasBody } from './request-body';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('requestHasBody', () => {
  test('a Content-Length other than 0 or any Transfer-Encoding means a body', () => {
    assert.equal(requestHasBody(req({ 'content-length': '12' })), true);
    assert.equal(requestHasBody(req({ 'transfer-encoding': 'chunked' })), true);
    // Not a body by value, but it is not 0 either: the request is piped and Node's parser decides.
    assert.equal(requestHasBody(req({ 'content-length': '00' })), true);
  });

  test('no framing fields, or Content-Length: 0, means none', () => {
    assert.equal(requestHasBody(req({ host: 'cart' })), false);
    assert.equal(requestHasBody(req({ 'content-length': '0' })), false);
  });
});
