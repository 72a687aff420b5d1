import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPCUnavailableError, EtcdAuthenticationFailedError, EtcdPermissionDeniedError } from 'etcd3';
import { faultHandling, isRecoverable, isUnreachable, rejectionOf, toAdminError } from './etcd-client';

type Policy = { execute<T>(fn: () => Promise<T> | T): Promise<T> };

// Messages as etcd 3.4 and @grpc/grpc-js give them (taken from real failures).
const NO_CLIENT_CERT =
  '14 UNAVAILABLE: No connection established. Last error: 80CCA8C1047F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-01T11:24:46.576Z). Resolution note: ';
const UNTRUSTED = '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ';
const REFUSED = '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ';

describe('etcd client: refusals and outages', () => {
  test('a refusal names its cause; an outage is not a refusal', () => {
    assert.deepEqual(rejectionOf(new EtcdAuthenticationFailedError('3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password')), {
      reason: 'credentials',
      message: 'etcd rejected the login: authentication failed, invalid user ID or password',
    });
    assert.equal(rejectionOf(new Error('3 INVALID_ARGUMENT: etcdserver: user name is empty'))?.reason, 'credentials');
    assert.deepEqual(rejectionOf(new EtcdPermissionDeniedError('7 PERMISSION_DENIED: etcdserver: permission denied')), {
      reason: 'permission',
      message: 'etcd denied access to the registry keys: permission denied',
    });
    assert.deepEqual(rejectionOf(new GRPCUnavailableError(NO_CLIENT_CERT)), {
      reason: 'client-certificate',
      message: 'etcd refused the TLS handshake (bad certificate): it wants a client certificate signed by a CA it trusts',
    });
    assert.deepEqual(rejectionOf(new GRPCUnavailableError(UNTRUSTED)), {
      reason: 'server-certificate',
      message: "etcd's TLS certificate cannot be trusted: unable to verify the first certificate",
    });
    assert.equal(rejectionOf(new GRPCUnavailableError(REFUSED)), null);
    assert.equal(rejectionOf(new Error('etcdserver: invalid auth token')), null, 'an expired token is renewed by the client, not a refusal');
  });

  test('as an admin error: 503 saying etcd refuses, or that it is unreachable', () => {
    const refused = toAdminError(new EtcdAuthenticationFailedError('3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password'));
    assert.equal(refused.code, 'UNAVAILABLE');
    assert.equal(refused.message, 'etcd refuses this Mesher: etcd rejected the login: authentication failed, invalid user ID or password');
    const down = toAdminError(new GRPCUnavailableError(REFUSED));
    assert.equal(down.message, 'etcd is unreachable: connect ECONNREFUSED 127.0.0.1:2379');
    assert.ok(isUnreachable(new GRPCUnavailableError(REFUSED)));
    assert.ok(isRecoverable(new GRPCUnavailableError(REFUSED)));
    assert.ok(!isRecoverable(new EtcdPermissionDeniedError('7 PERMISSION_DENIED: etcdserver: permission denied')));
  });

  test('a member that did not answer is passed over while another may answer, and tried again when none is known up', async () => {
    const fh = faultHandling(['http://a:2379', 'http://b:2379']);
    const a = fh.host!('http://a:2379') as unknown as Policy;
    const b = fh.host!('http://b:2379') as unknown as Policy;
    let calls = 0;
    const ok = () => (calls++, 'ok');
    const down = () => {
      calls++;
      throw new GRPCUnavailableError(REFUSED);
    };
    await assert.rejects(a.execute(down), GRPCUnavailableError);
    // a is passed over without a call: the client moves on to b (the skip is recoverable, so a retry may follow).
    calls = 0;
    await assert.rejects(a.execute(ok), (e: Error) => /did not answer a moment ago/.test(e.message) && isRecoverable(e));
    assert.equal(calls, 0);
    assert.equal(await b.execute(ok), 'ok');
    // A refusal is not an outage: it does not mark the member.
    await assert.rejects(b.execute(() => Promise.reject(new EtcdPermissionDeniedError('7 PERMISSION_DENIED: etcdserver: permission denied'))));
    assert.equal(await b.execute(ok), 'ok');
    // Both down: neither is passed over (better a call that may fail than none at all).
    await assert.rejects(b.execute(down), GRPCUnavailableError);
    calls = 0;
    assert.equal(await a.execute(ok), 'ok');
    assert.equal(await b.execute(ok), 'ok');
    assert.equal(calls, 2);
  });
});
