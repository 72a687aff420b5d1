import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMeshIdentity, describeTlsError, dnsNames, parseSubjectAltNames, peerServiceName } from './mesh-identity';

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('parseSubjectAltNames', () => {
  test('reads the entries of Node subjectaltname text in order', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:cart, IP Address:127.0.0.1, URI:spiffe://mesher/cart'), [
      { type: 'DNS', value: 'cart' },
      { type: 'IP Address', value: '127.0.0.1' },
      { type: 'URI', value: 'spiffe://mesher/cart' },
    ]);
    assert.deepEqual(parseSubjectAltNames(undefined), []);
    assert.deepEqual(parseSubjectAltNames(''), []);
  });

  test('a quoted value is one entry: a comma inside cannot smuggle a fake DNS name', () => {
    const names = parseSubjectAltNames('DNS:"x, DNS:cart", DNS:web');
    assert.deepEqual(names, [
      { type: 'DNS', value: 'x, DNS:cart' },
      { type: 'DNS', value: 'web' },
    ]);
    assert.deepEqual(dnsNames({ subjectaltname: 'DNS:"x, DNS:cart", DNS:web' }), ['x, dns:cart', 'web']);
  });
});

describe('checkMeshIdentity', () => {
  test('passes when a DNS SAN is the service name (case-insensitive), whatever else the certificate names', () => {
    assert.equal(checkMeshIdentity('cart', { subjectaltname: 'IP Address:10.0.0.1, DNS:Cart' }), undefined);
  });

  test('fails naming what the certificate says and the expected service; the instance IP does not count', () => {
    const err = checkMeshIdentity('cart', { subjectaltname: 'DNS:payments, IP Address:127.0.0.1' });
    assert.ok(err);
    assert.equal((err as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(err.message, /wrong identity: the certificate names 'payments', not the service 'cart'/);
    assert.match(checkMeshIdentity('cart', {})!.message, /names no DNS name/);
  });

  test('no wildcards and no suffix matches: a mesh identity is one service', () => {
    assert.ok(checkMeshIdentity('cart', { subjectaltname: 'DNS:*.cart' }));
    assert.ok(checkMeshIdentity('cart', { subjectaltname: 'DNS:cart.evil' }));
    assert.ok(checkMeshIdentity('cart', { subjectaltname: 'DNS:"x, DNS:cart"' }));
  });
});

describe('peerServiceName', () => {
  test('the first DNS SAN that is a service name', () => {
    assert.equal(peerServiceName({ subjectaltname: 'IP Address:127.0.0.1, DNS:web, DNS:other' }), 'web');
    assert.equal(peerServiceName({ subjectaltname: 'DNS:*.example.com, DNS:web' }), 'web');
  });

  test('none without a usable DNS SAN', () => {
    assert.equal(peerServiceName({ subjectaltname: 'IP Address:127.0.0.1, URI:spiffe://x/web' }), null);
    assert.equal(peerServiceName({}), null);
    assert.equal(peerServiceName({ subjectaltname: 'DNS:"a, b"' }), null);
  });
});

describe('describeTlsError', () => {
  test('says why: untrusted, wrong identity, expired, refused handshake, not TLS', () => {
    assert.match(describeTlsError(withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))!, /^untrusted certificate/);
    assert.match(describeTlsError(withCode('SELF_SIGNED_CERT_IN_CHAIN'))!, /^untrusted certificate/);
    assert.match(describeTlsError(checkMeshIdentity('cart', { subjectaltname: 'DNS:web' })!)!, /^wrong identity: .*'web'.*'cart'/);
    assert.match(describeTlsError(withCode('ERR_TLS_CERT_ALTNAME_INVALID', "Host: cart. is not in the cert's altnames"))!, /^wrong identity/);
    assert.match(describeTlsError(withCode('CERT_HAS_EXPIRED'))!, /not valid now/);
    assert.match(describeTlsError(withCode('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))!, /refused the handshake/);
    assert.match(describeTlsError(withCode('ERR_SSL_WRONG_VERSION_NUMBER'))!, /does not speak TLS/);
  });

  test('errors that are not TLS ones are left to the usual classification', () => {
    assert.equal(describeTlsError(withCode('ECONNREFUSED')), null);
    assert.equal(describeTlsError(withCode('ECONNRESET')), null);
    assert.equal(describeTlsError(new Error('socket hang up')), null);
  });
});
