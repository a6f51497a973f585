/**
 * Usernames from client certificates (src/link/certificateIdentity.ts), against certificates
 * made by `openssl`: the subject is printed exactly as `openssl x509 -nameopt RFC2253` prints
 * it, which is what Mosquitto's use_subject_as_username uses (X509_NAME_print_ex with
 * XN_FLAG_RFC2253); the CN is the first one; no certificate or no CN gives null (refused).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Duplex } from 'node:stream';
import { certificateUsername, rfc2253Subject } from '../../../src/link/certificateIdentity.ts';
import type { TlsConfig } from '../../../src/config/types.ts';
import { makePki, opensslRfc2253Subject, type Pki } from '../../helpers/certs.ts';
import { tempDir } from '../../helpers/broker.ts';

const SUBJECTS: Readonly<Record<string, string>> = {
  plain: '/C=DE/O=Example/CN=sensor1',
  multivalued: '/C=DE/O=Example, Inc./OU=a+OU=b/CN=sensor1+UID=u1/emailAddress=x@y.z',
  escapes: '/C=DE/O=M\u00fcller "q" <x>;y\\\\z/CN= #lead=trail /L=1.2.3/street=s',
  nonLatin: '/DC=com/DC=example/CN=\u65e5\u672c\u30bb\u30f3\u30b5',
  plusInValue: '/O=a\\+b/CN=c=d',
  twoCn: '/CN=first/O=Example/CN=second',
  noCn: '/C=DE/O=NoCN',
};

let tmp: ReturnType<typeof tempDir>;
let pki: Pki;
before(() => {
  tmp = tempDir('culex-certid-');
  pki = makePki(tmp.dir, SUBJECTS);
});
after(() => tmp.cleanup());

/** A stream that answers like a TLSSocket whose client presented `pem` (or nothing). */
function streamWith(pem: Buffer | undefined): Duplex {
  const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  return Object.assign(stream, { getPeerX509Certificate: () => (pem === undefined ? undefined : new X509Certificate(pem)) });
}

const TLS: TlsConfig = { certfile: '/c', keyfile: '/k', cafile: '/ca', requireCertificate: true, useIdentityAsUsername: false };

describe('use_subject_as_username: the subject as XN_FLAG_RFC2253 prints it', () => {
  for (const name of Object.keys(SUBJECTS)) {
    test(`${name}: same text as openssl x509 -nameopt RFC2253`, () => {
      const client = pki.clients[name]!;
      const expected = opensslRfc2253Subject(client.certfile);
      assert.equal(rfc2253Subject(new X509Certificate(client.cert).subject), expected);
      assert.equal(certificateUsername({ ...TLS, useSubjectAsUsername: true }, streamWith(client.cert)), expected);
    });
  }

  test('RDNs are printed last to first (CN=sensor1,O=Example,C=DE for /C=DE/O=Example/CN=sensor1)', () => {
    assert.equal(rfc2253Subject(new X509Certificate(pki.clients['plain']!.cert).subject), 'CN=sensor1,O=Example,C=DE');
  });

  test('an empty subject is an empty username (Mosquitto accepts it)', () => {
    assert.equal(rfc2253Subject(''), '');
  });
});

describe('use_identity_as_username: the first CN', () => {
  const identity: TlsConfig = { ...TLS, useIdentityAsUsername: true };

  test('the CN of the subject', () => {
    assert.equal(certificateUsername(identity, streamWith(pki.clients['plain']!.cert)), 'sensor1');
    assert.equal(certificateUsername(identity, streamWith(pki.clients['nonLatin']!.cert)), '\u65e5\u672c\u30bb\u30f3\u30b5');
  });

  test('the first of two CNs (X509_NAME_get_index_by_NID from the start)', () => {
    assert.equal(certificateUsername(identity, streamWith(pki.clients['twoCn']!.cert)), 'first');
  });

  test('no CN, or no certificate: null (CONNACK bad user name or password)', () => {
    assert.equal(certificateUsername(identity, streamWith(pki.clients['noCn']!.cert)), null);
    assert.equal(certificateUsername(identity, streamWith(undefined)), null);
  });

  test('use_identity_as_username wins over use_subject_as_username', () => {
    assert.equal(certificateUsername({ ...identity, useSubjectAsUsername: true }, streamWith(pki.clients['plain']!.cert)), 'sensor1');
  });

  test('a stream that is not TLS has no certificate', () => {
    const plain = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    assert.equal(certificateUsername(identity, plain), null);
  });
});

describe('listeners that do not take usernames from certificates', () => {
  test('no TLS, or neither option: undefined (the CONNECT credentials are checked)', () => {
    const stream = streamWith(pki.clients['plain']!.cert);
    assert.equal(certificateUsername(undefined, stream), undefined);
    assert.equal(certificateUsername(TLS, stream), undefined);
  });
});
