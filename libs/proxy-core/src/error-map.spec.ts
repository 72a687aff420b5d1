import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MESHER_ERROR_CODES } from '@mesher/contracts';
import { ERROR_STATUS, mesherErrorOf, writeMesherError } from './error-map';

type Handler = (res: http.ServerResponse) => void;

/** A real server whose handler is swapped per test, so responses go over a real socket. */
describe('writeMesherError', () => {
  let server: http.Server;
  let port = 0;
  let handler: Handler = (res) => res.end();

  before(async () => {
    server = http.createServer((_req, res) => handler(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function get(): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  test('every code has a 4xx or 5xx status', () => {
    for (const code of MESHER_ERROR_CODES) {
      const s = ERROR_STATUS[code];
      assert.ok(Number.isInteger(s) && s >= 400 && s <= 599, `${code} -> ${s}`);
    }
    assert.equal(ERROR_STATUS.SERVICE_NOT_FOUND, 404);
    assert.equal(ERROR_STATUS.NO_HEALTHY_INSTANCE, 503);
    assert.equal(ERROR_STATUS.UPSTREAM_UNAVAILABLE, 502);
    assert.equal(ERROR_STATUS.UPSTREAM_TIMEOUT, 504);
    assert.equal(ERROR_STATUS.CIRCUIT_OPEN, 503);
    assert.equal(ERROR_STATUS.RATE_LIMITED, 429);
  });

  test('answers JSON {code, message} with x-mesher-error and the mapped status', async () => {
    handler = (res) => writeMesherError(res, 'SERVICE_NOT_FOUND', "no service named 'cart' is registered");
    const r = await get();
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-mesher-error'], 'SERVICE_NOT_FOUND');
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
    assert.deepEqual(JSON.parse(r.body), { code: 'SERVICE_NOT_FOUND', message: "no service named 'cart' is registered" });
  });

  test('an explicit status and extra headers win (fault status, Retry-After)', async () => {
    handler = (res) => writeMesherError(res, 'RATE_LIMITED', 'slow down', 429, { 'retry-after': '2' });
    const r = await get();
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '2');
    handler = (res) => writeMesherError(res, 'FAULT_INJECTED', 'chaos', 418);
    const f = await get();
    assert.equal(f.status, 418);
    assert.equal(f.headers['x-mesher-error'], 'FAULT_INJECTED');
  });

  test('non-ASCII messages are measured in bytes', async () => {
    handler = (res) => writeMesherError(res, 'BAD_REQUEST', 'größe ✓');
    const r = await get();
    assert.equal(JSON.parse(r.body).message, 'größe ✓');
  });

  test('after the head went out the connection is cut rather than a second response written', async () => {
    let cut: http.ServerResponse | null = null;
    handler = (res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      writeMesherError(res, 'UPSTREAM_UNAVAILABLE', 'died mid-body');
      cut = res;
    };
    await assert.rejects(get(), /aborted|socket hang up|ECONNRESET/);
    assert.equal(mesherErrorOf(cut!), 'UPSTREAM_UNAVAILABLE', 'the cut response still names its error');
  });

  test('notes the code on the response it answered, for the exchange that did not produce it', async () => {
    let answered: http.ServerResponse | null = null;
    handler = (res) => {
      writeMesherError(res, 'REQUEST_TIMEOUT', 'request body stalled');
      answered = res;
    };
    assert.equal((await get()).status, 408);
    assert.equal(mesherErrorOf(answered!), 'REQUEST_TIMEOUT');
  });

  test('an already ended response is left alone', async () => {
    let ended: http.ServerResponse | null = null;
    handler = (res) => {
      res.end('done');
      writeMesherError(res, 'UPSTREAM_UNAVAILABLE', 'late');
      ended = res;
    };
    const r = await get();
    assert.equal(r.status, 200);
    assert.equal(r.body, 'done');
    assert.equal(mesherErrorOf(ended!), undefined, 'nothing noted for a response it did not touch');
  });
});
